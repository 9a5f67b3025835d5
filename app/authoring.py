"""Author view actions as plain functions: canvas → layout, clicks → trajectory, Generate.

The canvas shows the grid's bird's-eye view enlarged (+X up, +Y left, as everywhere in the app).
Waypoints are clicked on a preview of the layout; they become a (T, 3) trajectory by arc-length
resampling at the chosen speed, and the command is derived from it unless the person overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.handlers import SceneView, SessionState, present
from core.conditions.command import command_from_trajectory
from core.conditions.drawings import (
    FREE_GREY, layout_from_image, layout_image, metres_to_pixel, pixel_to_metres, trajectory_from_waypoints,
)
from core.data.palette import PALETTE
from core.data.procedural import static_bev_layout
from core.types import (
    Command, Conditions, GenerationRequest, GridSpec, InputError, Layout, OccupancySequence, ProgressCallback,
    SamplerSettings, SceneService, Trajectory,
)

CANVAS = 512  # pixels a side of the enlarged bird's-eye canvas
BRUSH_CLASSES = ("road", "sidewalk", "building", "vegetation", "ground", "barrier", "vehicle", "pole", "other")
AUTO = "auto (from the trajectory)"
FRAME_INTERVAL = 0.2
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "layouts"
RECEIVED = (255, 190, 0)  # the path the model was given, one dot per frame


@dataclass(frozen=True)
class AuthorState:
    """The drawing in progress: waypoints in canvas pixels (row, column)."""

    waypoints: tuple[tuple[float, float], ...] = field(default_factory=tuple)


def brush_colors() -> list[str]:
    return [PALETTE.hex_colors()[PALETTE.class_id(name)] for name in BRUSH_CLASSES]


def editor_picture(value: Any) -> np.ndarray | None:
    """The composite RGBA picture of a gr.ImageEditor value (a dict), or None when nothing is there."""
    if value is None:
        return None
    picture = value.get("composite") if isinstance(value, dict) else value
    return None if picture is None else np.asarray(picture)


def layout_from_canvas(value: Any, grid: GridSpec) -> Layout | None:
    """The painted layout, or None for an empty canvas (which means: no layout condition)."""
    picture = editor_picture(value)
    if picture is None or picture.size == 0:
        return None
    layout = layout_from_image(picture, grid)
    return layout if layout.static.any() else None


def canvas_from_layout(layout: Layout | None) -> np.ndarray:
    """An RGBA canvas picture (CANVAS × CANVAS) showing a layout, transparent where nothing is drawn."""
    if layout is None:
        return np.zeros((CANVAS, CANVAS, 4), np.uint8)
    picture = Image.fromarray(layout_image(layout)).resize((CANVAS, CANVAS), Image.NEAREST)
    return np.asarray(picture)


def example_layouts() -> list[str]:
    """Names of the example layouts shipped in assets/layouts/ (painted bird's-eye PNGs)."""
    return sorted(path.stem for path in EXAMPLES.glob("*.png"))


def canvas_from_example(name: str | None, grid: GridSpec) -> tuple[np.ndarray, Layout]:
    """The canvas picture and layout of a shipped example."""
    if not name:
        raise InputError("choose an example layout first")
    path = EXAMPLES / f"{name}.png"
    if name not in example_layouts():
        raise InputError(f"no example layout {name!r}; there are: {', '.join(example_layouts())}")
    layout = layout_from_image(np.asarray(Image.open(path).convert("RGBA")), grid)
    return canvas_from_layout(layout), layout


def canvas_from_result(state: SessionState) -> tuple[np.ndarray, Layout]:
    """The canvas picture and layout of the current result's frame 0, as seen from above (movers left out)."""
    if state.scene is None:
        raise InputError("no result yet: generate or open a scene first, then start from its layout")
    layout = Layout(static_bev_layout(state.scene.labels[0]))
    return canvas_from_layout(layout), layout


@dataclass(frozen=True)
class ReceivedPath:
    """The path a generated scene was conditioned on (metres, frame 0's axes) and what to call it."""

    trajectory: Trajectory
    caption: str


def preview(layout: Layout | None, waypoints: tuple[tuple[float, float], ...], *,
            received: ReceivedPath | None = None, grid: GridSpec | None = None) -> np.ndarray:
    """RGB picture of what the model receives: the layout on grey, the clicked path as an arrowed line,
    and after Generate the car's position in every frame of the path it was given (needs `grid`)."""
    canvas = canvas_from_layout(layout).astype(np.float32)
    alpha = canvas[:, :, 3:] / 255.0
    rgb = canvas[:, :, :3] * alpha + float(FREE_GREY) * (1 - alpha)
    image = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    points = [(col, row) for row, col in waypoints]
    if len(points) >= 2:
        draw.line(points, fill=(230, 30, 30), width=4)
        _arrow_head(draw, points[-2], points[-1])
    for index, (x, y) in enumerate(points):
        radius = 7 if index == 0 else 5
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(230, 30, 30), outline=(255, 255, 255))
    if received is not None and grid is not None:
        _draw_received(draw, received, grid)
    return np.asarray(image)



def _received_points(received: ReceivedPath, grid: GridSpec) -> list[tuple[float, float]]:
    """The car's position in each frame as (x, y) picture coordinates (PIL's column, row)."""
    return [metres_to_pixel(x, y, (CANVAS, CANVAS), grid)[::-1] for x, y, _ in received.trajectory.poses]


def received_caption(received: ReceivedPath, grid: GridSpec) -> str:
    """The caption, saying how many frames lie beyond the view (a long scene drives out of the first clip's grid)."""
    points = _received_points(received, grid)
    outside = sum(not (0 <= x <= CANVAS and 0 <= y <= CANVAS) for x, y in points)
    return received.caption + (f" ({outside} of {len(points)} frames beyond the view)" if outside else "")


def _draw_received(draw: ImageDraw.ImageDraw, received: ReceivedPath, grid: GridSpec) -> None:
    points = _received_points(received, grid)
    caption = received_caption(received, grid)
    if len(points) >= 2:
        draw.line(points, fill=RECEIVED, width=2)
        _arrow_head(draw, points[-2], points[-1], fill=RECEIVED)
    for x, y in points:
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=RECEIVED, outline=(40, 40, 40))
    font = ImageFont.load_default(size=18)  # the caption at the bottom: the picture's label covers the top
    corner = (10, CANVAS - 30)
    box = draw.textbbox(corner, caption, font=font)
    draw.rectangle([box[0] - 6, box[1] - 4, box[2] + 6, box[3] + 4], fill=(30, 30, 30))
    draw.text(corner, caption, fill=RECEIVED, font=font)


def _arrow_head(draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float],
                fill: tuple[int, int, int] = (230, 30, 30)) -> None:
    angle = np.arctan2(end[1] - start[1], end[0] - start[0])
    left = (end[0] - 16 * np.cos(angle - 0.45), end[1] - 16 * np.sin(angle - 0.45))
    right = (end[0] - 16 * np.cos(angle + 0.45), end[1] - 16 * np.sin(angle + 0.45))
    draw.polygon([end, left, right], fill=fill)


def add_waypoint(state: AuthorState, row: float, col: float) -> AuthorState:
    if not (0 <= row <= CANVAS and 0 <= col <= CANVAS):
        raise InputError(f"click inside the bird's-eye view (0..{CANVAS} pixels), got ({row:.0f}, {col:.0f})")
    return replace(state, waypoints=state.waypoints + ((float(row), float(col)),))


def undo_waypoint(state: AuthorState) -> AuthorState:
    return replace(state, waypoints=state.waypoints[:-1])


def _segments_cross(a, b, c, d) -> bool:
    def orientation(p, q, r) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    return (orientation(a, b, c) * orientation(a, b, d) < 0) and (orientation(c, d, a) * orientation(c, d, b) < 0)


def trajectory_from_clicks(state: AuthorState, grid: GridSpec, *, speed: float, frames: int) -> Trajectory | None:
    """The clicked path as a trajectory (None when nothing was clicked); bad paths raise InputError."""
    if not state.waypoints:
        return None
    if len(state.waypoints) == 1:
        raise InputError("a trajectory needs at least 2 points: click where the ego car should go next")
    metres = np.array([pixel_to_metres(row, col, (CANVAS, CANVAS), grid) for row, col in state.waypoints])
    first = metres[1] - metres[0]
    if abs(np.degrees(np.arctan2(first[1], first[0]))) > 60:
        raise InputError("the ego car faces up the view (+X): make the first segment of the path go upwards")
    segments = list(zip(metres[:-1], metres[1:]))
    for i in range(len(segments)):
        for j in range(i + 2, len(segments)):
            if _segments_cross(*segments[i], *segments[j]):
                raise InputError(f"the trajectory crosses itself (segments {i + 1} and {j + 1}); undo and redraw it")
    trajectory = trajectory_from_waypoints(metres, frames=frames, speed=speed, frame_interval=FRAME_INTERVAL)
    _check_inside(trajectory, metres[0], grid)
    return trajectory


def _check_inside(trajectory: Trajectory, start: np.ndarray, grid: GridSpec) -> None:
    """The ego car must start at the grid centre (the ego frame's origin) and stay inside the grid."""
    if np.hypot(*start) > 4.0:
        raise InputError(f"start the trajectory at the ego car in the centre of the view (it starts {np.hypot(*start):.1f} m away)")
    half = np.array(grid.extent[:2]) / 2 - 2.0
    if (np.abs(trajectory.poses[:, :2]) > half).any():
        raise InputError("the trajectory leaves the grid at this speed: shorten the path or lower the speed")


def resolve_command(choice: str, trajectory: Trajectory | None) -> Command | None:
    """The command to condition on: the override, or derived from the trajectory, or none."""
    if choice != AUTO:
        return Command.parse(choice)
    return None if trajectory is None else command_from_trajectory(trajectory)


def generate(
    service: SceneService, session: SessionState, author: AuthorState, canvas: Any, *, speed: float, command: str,
    sampler: SamplerSettings, frames: int, camera: str, on_progress: ProgressCallback | None = None,
) -> tuple[SessionState, SceneView, np.ndarray]:
    """Generate from the drawing; the result is saved, rendered and summarised like any scene. The third
    value is the preview redrawn with the path the model received: the clicked one at the chosen speed,
    or the typical path the generator made up for a command given alone (or for the command it drew
    when nothing was asked)."""
    grid = service.scene_grid()
    layout = layout_from_canvas(canvas, grid)
    trajectory = trajectory_from_clicks(author, grid, speed=speed, frames=frames)
    conditions = Conditions(command=resolve_command(command, trajectory), trajectory=trajectory, layout=layout)
    scene = service.generate(GenerationRequest(conditions, sampler, frames), on_progress)
    new, view = present(service, session, scene, camera, on_progress)
    received = received_path(scene, made_up=trajectory is None, speed=speed)
    return new, view, preview(layout, author.waypoints, received=received, grid=grid)


def received_path(scene: OccupancySequence, *, made_up: bool, speed: float) -> ReceivedPath | None:
    """The trajectory in a generated scene's recipe (None without one), captioned by where it came from:
    made up by the generator for a command given alone, or for a command it drew itself (the recipe
    says "drawn"), or the clicked path at `speed`."""
    given = scene.metadata.get("recipe", {}).get("conditions", {})
    if given.get("trajectory") is None:
        return None
    trajectory = Trajectory(np.asarray(given["trajectory"], dtype=np.float64))
    caption = (f"nothing asked: a '{given.get('command')}' drive, drawn" if given.get("drawn")
               else f"typical path for '{given.get('command')}', made up" if made_up
               else f"the car at {speed:g} m/s, one dot a frame")
    return ReceivedPath(trajectory, caption)
