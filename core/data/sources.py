"""One entry point for every place a scene can come from: a scene `.npz`, a CarlaSC or an Occ3D scene folder.

`describe_source` tells which kind a path is (or raises a one-line `InputError` saying what it is not);
`open_scene` returns an `OccupancySequence` from any of them: the `.npz` through `scene_io`, the dataset
folders as a clip through their readers, resampled to a preset grid (`cpu` unless told otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

from core.data.carlasc import SPLITS, CarlaSCScene, is_carlasc_scene
from core.data.occ3d import Occ3DScene, is_occ3d_scene
from core.data.resample import ego_to_anchored, resample_to_grid
from core.data.scene_io import load_scene
from core.types import CONVENTIONS, GridSpec, InputError, OccupancySequence

KIND_NAMES = {
    "npz": "scene .npz",
    "carlasc": "CarlaSC scene folder",
    "occ3d": "Occ3D scene folder",
}
DEFAULT_DATASET_PRESET = "cpu"
NOT_A_SCENE = "not a scene .npz, CarlaSC scene folder or Occ3D scene folder"
Reader = CarlaSCScene | Occ3DScene


def _is_carlasc_dataset(path: Path) -> bool:
    base = path / "Cartesian" if (path / "Cartesian").is_dir() else path
    splits = [c for c in base.iterdir() if c.is_dir() and c.name.lower() in {s.lower() for s in SPLITS}]
    scenes_below = any(is_carlasc_scene(c) for c in path.iterdir() if c.is_dir())
    return bool(splits) or (path.name.lower() in {s.lower() for s in SPLITS} and scenes_below)


def _carlasc_scene_root(path: Path) -> Path:
    """Accept `<scene>/cartesian` and `<scene>/cartesian/evaluation` as naming their scene."""
    if path.name == "evaluation" and path.parent.name == "cartesian":
        return path.parent.parent
    if path.name == "cartesian" and (path / "evaluation").is_dir():
        return path.parent
    return path


def describe_source(path: str | os.PathLike) -> str:
    """The kind of scene source at `path`: "npz", "carlasc" or "occ3d" (see `KIND_NAMES`)."""
    path = _carlasc_scene_root(Path(path))
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return "npz"
        raise InputError(f"{path}: {NOT_A_SCENE}")
    if is_carlasc_scene(path):
        return "carlasc"
    if is_occ3d_scene(path):
        return "occ3d"
    if not any(path.iterdir()):
        raise InputError(f"{path}: empty folder; expected a {NOT_A_SCENE.removeprefix('not a ')}")
    if _is_carlasc_dataset(path):
        raise InputError(f"{path}: a CarlaSC dataset folder, not one scene; pass a scene folder, Train/<scene>")
    raise InputError(f"{path}: {NOT_A_SCENE}")


def open_reader(path: str | os.PathLike) -> Reader | None:
    """The dataset reader for a CarlaSC or Occ3D scene folder; None for a scene `.npz`."""
    kind = describe_source(path)
    if kind == "carlasc":
        return CarlaSCScene(_carlasc_scene_root(Path(path)))
    if kind == "occ3d":
        return Occ3DScene(path)
    return None


def _convert_stored(scene: OccupancySequence, convention: str, path: Path) -> OccupancySequence:
    if convention == scene.convention:
        return scene
    if convention == "ego":
        raise InputError(f"{path}: stored in the anchored convention; converting to ego is not supported")
    if scene.poses is None:
        raise InputError(f"{path}: stored in the ego convention without poses; cannot convert it to anchored")
    labels, unobserved = ego_to_anchored(scene.labels, scene.unobserved, scene.grid, scene.poses)
    return OccupancySequence(labels, scene.grid, scene.poses, unobserved, "anchored", dict(scene.metadata))


def _resample_stored(scene: OccupancySequence, target: GridSpec) -> OccupancySequence:
    target = target.with_frames(scene.num_frames)
    if target == scene.grid:
        return scene
    labels, unobserved = resample_to_grid(scene.labels, scene.unobserved, scene.grid, target)
    return OccupancySequence(labels, target, scene.poses, unobserved, scene.convention, dict(scene.metadata))


def open_scene(
    path: str | os.PathLike, *, preset: str | None = None, convention: str | None = "anchored",
    start: int = 0, frames: int = 16,
) -> OccupancySequence:
    """Open a scene `.npz` whole, or the clip of `frames` frames from `start` of a CarlaSC/Occ3D scene folder.

    preset:      grid to resample to; None keeps a `.npz`'s own grid and uses "cpu" for dataset folders.
    convention:  "anchored" or "ego"; None keeps a `.npz` as stored and reads dataset folders anchored
                 when they have poses, else in their native ego convention. An ego `.npz` with poses is
                 converted to anchored on request.
    """
    target = None if preset is None else GridSpec.preset(preset)
    if convention is not None and convention not in CONVENTIONS:
        raise InputError(f"unknown convention {convention!r}; expected one of: {', '.join(CONVENTIONS)}")
    reader = open_reader(path)
    if reader is None:
        scene = load_scene(path)
        if convention is not None:
            scene = _convert_stored(scene, convention, Path(path))
        return scene if target is None else _resample_stored(scene, target)
    if convention is None:
        convention = "anchored" if reader.poses is not None else "ego"
    return reader.clip(start, frames, preset=preset or DEFAULT_DATASET_PRESET, convention=convention)
