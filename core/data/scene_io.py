"""Scene files: the project's `.npz` schema, written atomically and read without unpickling.

Schema (format_version 1), every entry a plain numpy array so `np.load(allow_pickle=False)` reads it:

| key                  | dtype / shape               | meaning                                          |
|----------------------|-----------------------------|--------------------------------------------------|
| format_version       | int64 ()                    | 1                                                |
| class_table_version  | int64 ()                    | version of `assets/palette.json` the ids follow  |
| grid                 | unicode ()  JSON            | GridSpec fields (frames, cells, voxel_size, ...) |
| convention           | unicode ()                  | "anchored" or "ego"                              |
| labels               | uint8 (T, X, Y, Z)          | class ids, 0 = free                              |
| poses                | float64 (T, 4, 4), optional | world-from-ego pose per frame                    |
| unobserved           | bool (T, X, Y, Z), optional | voxels no sensor saw                             |
| metadata             | unicode ()  JSON            | free-form: source, seed, command, recipe, ...    |
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from core.data.palette import PALETTE
from core.fileio import atomic_write
from core.types import GridSpec, InputError, OccupancySequence

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "class_table_version", "grid", "convention", "labels", "metadata")


def save_scene(scene: OccupancySequence, path: str | os.PathLike) -> Path:
    """Write `scene` to `path` (.npz): to a temp file in the same folder, then renamed into place."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "class_table_version": np.array(PALETTE.version, dtype=np.int64),
        "grid": np.array(json.dumps(scene.grid.to_dict())),
        "convention": np.array(scene.convention),
        "labels": scene.labels,
        "metadata": np.array(json.dumps(scene.metadata)),
    }
    if scene.poses is not None:
        arrays["poses"] = scene.poses
    if scene.unobserved is not None:
        arrays["unobserved"] = scene.unobserved
    return atomic_write(path, lambda temp: _write_npz(temp, arrays))


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as stream:  # a stream, so numpy does not append another ".npz"
        np.savez_compressed(stream, **arrays)


def read_npz(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The entries `keys` (default all) of an .npz, never unpickling; every problem is an InputError."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as stream:
        magic = stream.read(6)
    if magic == b"\x93NUMPY":
        raise InputError(f"{path}: not a scene .npz archive (a bare .npy array)")
    if not magic.startswith(b"PK"):
        raise InputError(f"{path}: not a .npz archive (no zip header); is it a scene file?")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files if keys is None or key in keys}
    except InputError:
        raise
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise InputError(f"{path}: contains pickled objects, which are refused for safety") from None
        raise InputError(f"{path}: unreadable .npz ({error})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        raise InputError(f"{path}: not a valid .npz archive or truncated ({error})") from None


def _json_entry(arrays: dict[str, np.ndarray], key: str, path: Path) -> object:
    value = arrays[key]
    if value.dtype.kind != "U" or value.ndim != 0:
        raise InputError(f"{path}: entry {key!r} must be a JSON string, got {value.dtype} {value.shape}")
    try:
        return json.loads(str(value))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: entry {key!r} is not valid JSON ({error.msg})") from None


def load_scene(path: str | os.PathLike) -> OccupancySequence:
    """Read a scene `.npz`; any problem is an `InputError` with a one-line message naming it."""
    path = Path(path)
    arrays = read_npz(path)
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise InputError(f"{path}: not a DynamicCity scene file, missing entries {missing}")
    version = int(arrays["format_version"])
    if version != FORMAT_VERSION:
        raise InputError(f"{path}: scene format version {version} is not supported (expected {FORMAT_VERSION})")
    table = int(arrays["class_table_version"])
    if table != PALETTE.version:
        raise InputError(f"{path}: class table version {table}, this build uses {PALETTE.version}")
    grid_data = _json_entry(arrays, "grid", path)
    metadata = _json_entry(arrays, "metadata", path)
    if not isinstance(grid_data, dict) or not isinstance(metadata, dict):
        raise InputError(f"{path}: entries 'grid' and 'metadata' must be JSON objects")
    try:
        grid = GridSpec.from_dict(grid_data)
        return OccupancySequence(
            labels=arrays["labels"], grid=grid, poses=arrays.get("poses"),
            unobserved=arrays.get("unobserved"), convention=str(arrays["convention"]), metadata=metadata,
        )
    except (InputError, TypeError) as error:
        raise InputError(f"{path}: {error}") from None
