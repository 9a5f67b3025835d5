"""The shared vocabulary of DynamicCity Studio, numpy only.

A 4D semantic occupancy scene (DESIGN §2) is T frames of an X×Y×Z voxel grid of class ids. This module
holds the typed, validated containers every layer passes around: the grid geometry (`GridSpec`, with the
named presets `cpu` and `carlasc`), the scene itself (`OccupancySequence`), the authoring conditions
(`Command`, `Trajectory`, `Layout`), render settings and progress events, and the `SceneService`
protocol that the UI codes against. Nothing here imports torch, so the app can import it freely.

Axes: X forward, Y left, Z up. Poses are 4×4 world-from-ego matrices.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

import numpy as np

Convention = Literal["anchored", "ego"]
CONVENTIONS: tuple[str, ...] = ("anchored", "ego")
CameraPreset = Literal["chase", "bev", "orbit"]
CAMERA_PRESETS: tuple[str, ...] = ("chase", "bev", "orbit")
NUM_CLASSES = 12


class InputError(ValueError):
    """A user-facing problem with an input (file, folder, option); its message is one line."""


@dataclass(frozen=True)
class GridSpec:
    """Geometry of a 4D voxel grid: `frames` × `cells` (X, Y, Z) voxels of `voxel_size` metres.

    `origin` is the position, in the grid's own frame (the ego frame of its anchor), of the minimum
    corner of voxel (0, 0, 0). The ego sensor sits at (0, 0, 0) of that frame.
    """

    frames: int
    cells: tuple[int, int, int]
    voxel_size: tuple[float, float, float]
    origin: tuple[float, float, float]
    num_classes: int = NUM_CLASSES

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", tuple(int(c) for c in self.cells))
        object.__setattr__(self, "voxel_size", tuple(float(v) for v in self.voxel_size))
        object.__setattr__(self, "origin", tuple(float(v) for v in self.origin))
        if not isinstance(self.frames, (int, np.integer)) or self.frames < 1:
            raise InputError(f"grid frames must be a positive integer, got {self.frames!r}")
        if len(self.cells) != 3 or min(self.cells) < 1:
            raise InputError(f"grid cells must be 3 positive integers (X, Y, Z), got {self.cells}")
        if len(self.voxel_size) != 3 or min(self.voxel_size) <= 0:
            raise InputError(f"voxel size must be 3 positive numbers, got {self.voxel_size}")
        if len(self.origin) != 3:
            raise InputError(f"grid origin must be 3 numbers, got {self.origin}")
        if not 2 <= self.num_classes <= 256:
            raise InputError(f"num_classes must be in 2..256, got {self.num_classes}")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(T, X, Y, Z)."""
        return (int(self.frames), *self.cells)

    @property
    def extent(self) -> tuple[float, float, float]:
        """Size of the grid in metres along X, Y, Z."""
        return tuple(c * v for c, v in zip(self.cells, self.voxel_size))

    def with_frames(self, frames: int) -> "GridSpec":
        return dataclasses.replace(self, frames=int(frames))

    def voxel_centers(self, axis: int) -> np.ndarray:
        """Metric centre coordinates of the voxels along one spatial axis (0 = X, 1 = Y, 2 = Z)."""
        return self.origin[axis] + (np.arange(self.cells[axis]) + 0.5) * self.voxel_size[axis]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GridSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise InputError(f"unknown grid fields {sorted(unknown)}; expected {sorted(names)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})

    @classmethod
    def preset(cls, name: str) -> "GridSpec":
        if name not in GRID_PRESETS:
            raise InputError(f"unknown grid preset {name!r}; expected one of: {', '.join(GRID_PRESETS)}")
        return GRID_PRESETS[name]


GRID_PRESETS: dict[str, GridSpec] = {
    # CarlaSC's 51.2 m × 51.2 m × 3 m extent at half its x/y resolution: the shipped default.
    "cpu": GridSpec(16, (64, 64, 8), (0.8, 0.8, 0.375), (-25.6, -25.6, -2.0)),
    # CarlaSC's native grid.
    "carlasc": GridSpec(16, (128, 128, 8), (0.4, 0.4, 0.375), (-25.6, -25.6, -2.0)),
}


def _require_array(name: str, value: Any, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise InputError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.shape != shape:
        raise InputError(f"{name} must have shape {shape}, got {value.shape}")
    if value.dtype != np.dtype(dtype):
        raise InputError(f"{name} must have dtype {np.dtype(dtype)}, got {value.dtype}")
    return value


@dataclass(eq=False)
class OccupancySequence:
    """A 4D semantic occupancy scene.

    labels:      (T, X, Y, Z) uint8 class ids in 0..grid.num_classes-1 (0 = free).
    poses:       optional (T, 4, 4) float64 world-from-ego pose of each frame.
    unobserved:  optional (T, X, Y, Z) bool, True where no sensor saw the voxel (excluded from metrics).
    convention:  "anchored" (every frame in frame 0's ego pose) or "ego" (each frame in its own pose).
    metadata:    free-form JSON-serialisable information (source, seed, command, recipe, ...).
    """

    labels: np.ndarray
    grid: GridSpec
    poses: np.ndarray | None = None
    unobserved: np.ndarray | None = None
    convention: str = "anchored"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.labels, np.ndarray) or self.labels.ndim != 4:
            got = getattr(self.labels, "shape", type(self.labels).__name__)
            raise InputError(f"labels must be a 4D (T, X, Y, Z) array, got {got}")
        if self.labels.shape[0] == 0:
            raise InputError("scene has 0 frames; expected at least 1")
        _require_array("labels", self.labels, self.grid.shape, np.uint8)
        top = int(self.labels.max()) if self.labels.size else 0
        if top >= self.grid.num_classes:
            raise InputError(f"labels must be in 0..{self.grid.num_classes - 1}, found class id {top}")
        if self.poses is not None:
            _require_array("poses", self.poses, (self.num_frames, 4, 4), np.float64)
            if not np.isfinite(self.poses).all():
                raise InputError("poses contain NaN or infinite values")
        if self.unobserved is not None:
            _require_array("unobserved", self.unobserved, self.labels.shape, np.bool_)
        if self.convention not in CONVENTIONS:
            raise InputError(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")

    @property
    def num_frames(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self) -> np.ndarray:
        """(T, num_classes) int64 voxel count of each class in each frame."""
        flat = self.labels.reshape(self.num_frames, -1).astype(np.int64)
        offsets = np.arange(self.num_frames)[:, None] * self.grid.num_classes
        counts = np.bincount((flat + offsets).ravel(), minlength=self.num_frames * self.grid.num_classes)
        return counts.reshape(self.num_frames, self.grid.num_classes)

    def unobserved_share(self) -> float:
        return 0.0 if self.unobserved is None else float(self.unobserved.mean())


class Command(enum.IntEnum):
    """High-level driving command of a clip, derived from the ego trajectory."""

    STATIC = 0
    FORWARD = 1
    LEFT = 2
    RIGHT = 3

    @classmethod
    def parse(cls, name: "str | Command") -> "Command":
        if isinstance(name, Command):
            return name
        key = str(name).strip().upper()
        if key not in cls.__members__:
            choices = ", ".join(m.lower() for m in cls.__members__)
            raise InputError(f"unknown command {name!r}; expected one of: {choices}")
        return cls[key]


@dataclass(frozen=True)
class Trajectory:
    """Ego path of a clip: (T, 3) x [m], y [m], yaw [rad] relative to frame 0, in frame 0's axes."""

    poses: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.poses, np.ndarray) or self.poses.ndim != 2 or self.poses.shape[1] != 3:
            got = getattr(self.poses, "shape", type(self.poses).__name__)
            raise InputError(f"trajectory must have shape (T, 3) as x, y, yaw, got {got}")
        if not np.isfinite(self.poses).all():
            raise InputError("trajectory contains NaN or infinite values")

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])


@dataclass(frozen=True)
class Layout:
    """Bird's-eye condition in frame 0's grid.

    static:    (X, Y) uint8 class id of the static scene seen from above (0 = nothing drawn).
    vehicles:  optional (T, X, Y) bool per-frame vehicle occupancy.
    """

    static: np.ndarray
    vehicles: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.static, np.ndarray) or self.static.ndim != 2 or self.static.dtype != np.uint8:
            got = getattr(self.static, "shape", None), getattr(self.static, "dtype", None)
            raise InputError(f"layout must be a (X, Y) uint8 array, got shape/dtype {got}")
        if self.vehicles is not None:
            ok = self.vehicles.ndim == 3 and self.vehicles.shape[1:] == self.static.shape
            if not ok or self.vehicles.dtype != np.bool_:
                raise InputError(
                    f"vehicle occupancy must be (T, {self.static.shape[0]}, {self.static.shape[1]}) bool, "
                    f"got {self.vehicles.shape} {self.vehicles.dtype}"
                )


@dataclass(frozen=True)
class Conditions:
    """What a person asks for; None = not given (the model uses its learned null for it)."""

    command: Command | None = None
    trajectory: Trajectory | None = None
    layout: Layout | None = None

    def empty(self) -> bool:
        """Nothing asked (by default the generator then draws a drive: `GenerationRequest.command_path`)."""
        return self.command is None and self.trajectory is None and self.layout is None


SAMPLER_NAMES: tuple[str, ...] = ("dpm++", "dpm++sde", "ddim", "ddpm")


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample: sampler, number of steps, guidance scale (classifier-free; for a request that reaches the
    model without conditions (`GenerationRequest.command_path`), autoguidance by the guide model when there is
    one: `core.pipeline`), seed, and `guidance_from`: the timestep (of 1000, counted down) where guidance
    starts; at noisier steps the conditional prediction is used alone (None: guidance at every step, the
    default). Two full reports of the same 64 requests per set measured guidance at every step better than
    from t = 500: scene distance 0.76 vs 0.89 (command + path + layout), 1.27 vs 2.26 (layout only), 3.20 vs
    3.50 (command only), recall 0.89 vs 0.74; the 16 requests of the report's sampler study had shown the
    reverse.
    "dpm++sde" (the SDE form of the same solver, fresh noise every step) is not the default either: on
    64 requests (`bench/sampler_settings.py`) it measured 0.82 at 25 steps and 0.88 at 50 against 0.76,
    though 16 requests had ranked it first. Guidance 4: on 64 requests the 24,000-step DiT's scene
    distance fell with less guidance (0.76 at 4, 0.70 at 3, 0.64 at 2) but its ego car followed the path
    less (median final error 0.68, 0.89, 1.22 m; the asked command 92, 91, 86 %); at 34,500 steps 3 no
    longer gained (0.75 at 4, 0.76 at 3).
    `remove_specks` relabels the decoded scene's vehicle specks, vehicle blobs smaller than a car away
    from the grid's edge, with the decoder's next choice (`core.postprocess`); `vehicle_boxes` redraws each
    car-sized vehicle blob as a solid box of its size and heading, moving along a smoothed track
    (`core.postprocess.vehicle_boxes`); off: the models' own output."""

    sampler: str = "dpm++"
    steps: int = 25
    guidance_scale: float = 4.0
    seed: int = 0
    guidance_from: int | None = None
    remove_specks: bool = False
    vehicle_boxes: bool = False

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLER_NAMES:
            raise InputError(f"unknown sampler {self.sampler!r}; expected one of: {', '.join(SAMPLER_NAMES)}")
        if not 1 <= int(self.steps) <= 1000:
            raise InputError(f"steps must be in 1..1000, got {self.steps}")
        if not 0.0 <= float(self.guidance_scale) <= 20.0:
            raise InputError(f"guidance scale must be in 0..20, got {self.guidance_scale}")
        if not 0 <= int(self.seed) < 2**31:
            raise InputError(f"seed must be in 0..{2**31 - 1}, got {self.seed}")
        if self.guidance_from is not None and not 0 <= int(self.guidance_from) <= 999:
            raise InputError(f"guidance_from must be a timestep in 0..999 or None, got {self.guidance_from}")
        for name in ("remove_specks", "vehicle_boxes"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @property
    def tidies_vehicles(self) -> bool:
        """Whether the decoded scene's vehicles get a clean-up (`remove_specks`, `vehicle_boxes`)."""
        return self.remove_specks or self.vehicle_boxes


@dataclass(frozen=True)
class GenerationRequest:
    """A scene to generate: conditions, sampler settings and the number of frames (16 per clip).

    `command_path`: a command given without a trajectory or a layout is driven along a typical path of
    that command (drawn with the sampler's seed, recorded in the recipe); False leaves the model the
    command alone, which steers the ego car far less (the evaluation report measures both). A request
    with no condition at all first draws its command, at the procedural city's frequencies, with the
    same seed (the recipe marks it "drawn"): "anything" becomes a drive of a kind the model was trained
    on, guided classifier-free. With False it goes to the model's unconditional prediction alone
    (autoguided when the checkpoints hold a guide), which measured further from the real scenes and
    less precise (checkpoints README, step 16)."""

    conditions: Conditions
    sampler: SamplerSettings
    frames: int = 16
    command_path: bool = True


@dataclass(frozen=True)
class RenderSettings:
    """How a scene becomes pictures."""

    camera: str = "chase"
    width: int = 640
    height: int = 480
    fps: int = 8
    backend: str = "pyvista"
    legend: bool = True

    def __post_init__(self) -> None:
        if self.camera not in CAMERA_PRESETS:
            raise InputError(f"unknown camera {self.camera!r}; expected one of: {', '.join(CAMERA_PRESETS)}")
        if self.backend not in ("pyvista", "open3d"):
            raise InputError(f"unknown render backend {self.backend!r}; expected pyvista or open3d")
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise InputError(f"image size must be 16..4096 pixels a side, got {self.width}×{self.height}")
        if not 1 <= self.fps <= 60:
            raise InputError(f"fps must be in 1..60, got {self.fps}")


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of a long action: `step` of `total` in a named stage."""

    stage: str
    step: int
    total: int
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


class SceneService(Protocol):
    """What the UI may ask of the core. Numpy types only: the UI never imports torch."""

    def grid_presets(self) -> list[str]: ...

    def procedural_scene(self, *, seed: int, command: Command | None, preset: str) -> OccupancySequence: ...

    def load_scene(self, path: str) -> OccupancySequence: ...

    def save_scene(self, scene: OccupancySequence, path: str) -> str: ...

    def render_video(
        self, scene: OccupancySequence, path: str, *, settings: RenderSettings,
        on_progress: ProgressCallback | None = None,
    ) -> str: ...

    def render_comparison(
        self, before: OccupancySequence, after: OccupancySequence, path: str, *, settings: RenderSettings,
        titles: tuple[str, str] = ("before", "after"), on_progress: ProgressCallback | None = None,
    ) -> str: ...

    def frame_figure(self, scene: OccupancySequence, frame: int) -> Any: ...

    def dataset_scenes(self) -> list[str]: ...

    def scene_grid(self) -> GridSpec: ...

    def export_meshes(self, scene: OccupancySequence, path: str, *, fmt: str = "ply") -> str: ...

    def export_lidar(self, scene: OccupancySequence, path: str, *, beams: int = 32, max_range: float = 50.0,
                     dropout: float = 0.05, seed: int = 0) -> str: ...

    def procedural_layout(self, *, seed: int) -> Layout: ...

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback | None = None) -> OccupancySequence: ...

    def generate_from_recipe(self, recipe: dict, on_progress: ProgressCallback | None = None) -> OccupancySequence: ...

    def extend(self, scene: OccupancySequence, settings: SamplerSettings, *, trajectory: Trajectory | None = None,
               on_progress: ProgressCallback | None = None) -> OccupancySequence: ...

    def inpaint(
        self, scene: OccupancySequence, mask: np.ndarray, settings: SamplerSettings, *, frames: range | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> OccupancySequence: ...
