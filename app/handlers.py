"""One plain function per user action of the Inspect view, testable without a browser.

Handlers take the `SceneService`, the session's `SessionState` and the widget values, and return a
new state plus what the view shows. They raise `InputError` for bad input; the UI turns that into a
message and leaves everything shown before as it was. No torch here: only the service touches models.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from app.figures import bird_eye_picture, class_counts_figure
from core.data.palette import PALETTE
from core.types import Command, InputError, OccupancySequence, ProgressCallback, RenderSettings, SceneService

SESSIONS_ROOT = Path(tempfile.gettempdir()) / "dynamiccity-sessions"
AUTO_COMMAND = "auto"
HISTORY = 12  # results a session keeps in its gallery; the oldest goes first
THUMBNAIL = 160


@dataclass(frozen=True)
class Result:
    """One result of the session, as its gallery shows it."""

    scene: OccupancySequence
    thumbnail: str
    caption: str


@dataclass(frozen=True)
class SessionState:
    """What one browser session holds: its scene, its earlier results, its files, a counter for file names."""

    folder: str
    scene: OccupancySequence | None = None
    counter: int = 0
    history: tuple[Result, ...] = ()

    def gallery(self) -> list[tuple[str, str]]:
        """(thumbnail, caption) of every result, newest first."""
        return [(entry.thumbnail, entry.caption) for entry in reversed(self.history)]


@dataclass(frozen=True)
class SceneView:
    """Everything the Inspect view shows about the current scene."""

    video: str
    scene_file: str
    figure: Any
    counts: Any
    summary: str
    frames: int


def session_folder(session_id: str) -> str:
    folder = SESSIONS_ROOT / "".join(c for c in session_id if c.isalnum() or c in "-_")
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def close_session(session_id: str) -> None:
    shutil.rmtree(session_folder(session_id), ignore_errors=True)


def random_seed() -> int:
    return random.randrange(0, 1_000_000)


def parse_seed(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"seed must be a whole number, got {value!r}") from None
    if not number.is_integer():
        raise InputError(f"seed must be a whole number, got {value!r}")
    return int(number)


def make_scene(
    service: SceneService, state: SessionState, seed: Any, command: str, preset: str, camera: str,
    on_progress: ProgressCallback | None = None,
) -> tuple[SessionState, SceneView]:
    chosen = None if command == AUTO_COMMAND else Command.parse(command)
    scene = service.procedural_scene(seed=parse_seed(seed), command=chosen, preset=preset)
    return present(service, state, scene, camera, on_progress)


def open_upload(
    service: SceneService, state: SessionState, upload: str | None, camera: str,
    on_progress: ProgressCallback | None = None,
) -> tuple[SessionState, SceneView]:
    """A scene .npz is opened as it is; a recipe .json is generated again (the same scene, bit for bit)."""
    if not upload:
        raise InputError("no file uploaded: choose a scene .npz or a recipe .json first")
    suffix = Path(upload).suffix.lower()
    if suffix == ".json":
        return present(service, state, service.generate_from_recipe(read_recipe(upload), on_progress), camera, on_progress)
    if suffix != ".npz":
        raise InputError(f"{Path(upload).name}: expected a scene .npz or a recipe .json file")
    return present(service, state, service.load_scene(str(upload)), camera, on_progress)


def read_recipe(path: str) -> dict:
    try:
        recipe = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{Path(path).name}: not a readable recipe .json ({error})") from None
    if not isinstance(recipe, dict):
        raise InputError(f"{Path(path).name}: a recipe is a JSON object, got {type(recipe).__name__}")
    return recipe


def open_dataset(
    service: SceneService, state: SessionState, choice: str | None, camera: str,
    on_progress: ProgressCallback | None = None,
) -> tuple[SessionState, SceneView]:
    if not choice:
        raise InputError("no dataset scene chosen (give folders with --data when launching)")
    return present(service, state, service.load_scene(choice), camera, on_progress)


def change_camera(
    service: SceneService, state: SessionState, camera: str, on_progress: ProgressCallback | None = None,
) -> tuple[SessionState, SceneView]:
    return present(service, state, _require_scene(state), camera, on_progress, remember=False)


def recall(
    service: SceneService, state: SessionState, index: int, camera: str, on_progress: ProgressCallback | None = None,
) -> tuple[SessionState, SceneView]:
    """Show again the result at `index` of the gallery (newest first)."""
    if not 0 <= index < len(state.history):
        raise InputError(f"no result number {index + 1} in this session's gallery")
    return present(service, state, state.history[-1 - index].scene, camera, on_progress, remember=False)


def show_frame(service: SceneService, state: SessionState, frame: Any) -> Any:
    return service.frame_figure(_require_scene(state), int(frame))


def _require_scene(state: SessionState) -> OccupancySequence:
    if state.scene is None:
        raise InputError("no scene yet: make or open one first")
    return state.scene


def export_recipe(state: SessionState) -> str:
    """The current scene's recipe as a .json file (load it with `python -m core.generate --recipe`)."""
    scene = _require_scene(state)
    recipe = scene.metadata.get("recipe")
    if recipe is None:
        raise InputError("this scene has no recipe: only generated scenes have one")
    path = Path(state.folder) / f"recipe_{state.counter}.json"
    path.write_text(json.dumps(recipe, indent=1))
    return str(path)


def export_meshes(service: SceneService, state: SessionState, fmt: str) -> str:
    return service.export_meshes(_require_scene(state), str(Path(state.folder) / f"meshes_{state.counter}_{fmt}.zip"), fmt=fmt)


def export_lidar(service: SceneService, state: SessionState, beams: Any, max_range: Any, dropout: Any) -> str:
    path = str(Path(state.folder) / f"lidar_{state.counter}.zip")
    return service.export_lidar(_require_scene(state), path, beams=int(beams), max_range=float(max_range),
                                dropout=float(dropout), seed=state.counter)


def present(
    service: SceneService, state: SessionState, scene: OccupancySequence, camera: str,
    on_progress: ProgressCallback | None = None, *, remember: bool = True,
) -> tuple[SessionState, SceneView]:
    """Save, render and summarise `scene`; the new state holds it only once all of that worked.

    `remember` adds it to the session's gallery (new results do; another camera or a recalled one not).
    """
    settings = RenderSettings(camera=camera)
    counter = state.counter + 1
    folder = Path(state.folder)
    name = str(scene.metadata.get("source", "scene"))
    scene_file = service.save_scene(scene, str(folder / f"{name}_{counter}.npz"))
    video = service.render_video(scene, str(folder / f"{name}_{counter}_{camera}.mp4"), settings=settings, on_progress=on_progress)
    view = SceneView(
        video=video, scene_file=scene_file, figure=service.frame_figure(scene, 0),
        counts=class_counts_figure(scene.class_counts()), summary=summarise(scene), frames=scene.num_frames,
    )
    history = state.history
    if remember:
        history = (*history, _remember(scene, folder / f"{name}_{counter}.png", counter))[-HISTORY:]
    return replace(state, scene=scene, counter=counter, history=history), view


def _remember(scene: OccupancySequence, thumbnail: Path, counter: int) -> Result:
    Image.fromarray(bird_eye_picture(scene, size=THUMBNAIL)).save(thumbnail)
    meta = scene.metadata
    parts = (f"#{counter}", meta.get("command") or meta.get("scene"), meta.get("source", "file"), f"{scene.num_frames} frames")
    caption = " · ".join(str(part) for part in parts if part)
    return Result(scene, str(thumbnail), caption)


def summarise(scene: OccupancySequence) -> str:
    """A short Markdown description: source, grid, command, class shares."""
    grid = scene.grid
    meta = scene.metadata
    counts = scene.class_counts().sum(axis=0)
    total = counts.sum()
    shares = ", ".join(
        f"{PALETTE.names[c]} {100 * counts[c] / total:.1f}%" for c in range(1, len(counts)) if counts[c]
    )
    source = meta.get("source", "file")
    details = f"seed {meta['seed']}, command **{meta.get('command', '?')}**" if source == "procedural" else meta.get("scene", "")
    return (
        f"**{source}** {details}  \n"
        f"{scene.num_frames} frames of {grid.cells[0]}×{grid.cells[1]}×{grid.cells[2]} voxels "
        f"({grid.voxel_size[0]} m), {scene.convention} convention, unobserved {100 * scene.unobserved_share():.1f}%  \n"
        f"occupied: {shares}"
    )
