"""What every exporter shares: checking the scene, choosing frames, writing files and zip archives.

Exporters turn each frame into named byte strings (`{"000000.ply": b"..."}`); this module writes them
either one by one into a folder, each atomically (a file appears only once complete), or all into one
.zip for download, so the folder and the archive always hold the same bytes.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from core.fileio import atomic_write
from core.render.pipeline import check_scene  # noqa: F401  (re-exported for the exporters)
from core.types import InputError, OccupancySequence

PathLike = str | os.PathLike


def select_frames(scene: OccupancySequence, frames: Iterable[int] | None) -> list[int]:
    """The frame indices to export: all frames for None, else the given ones checked against the scene."""
    if frames is None:
        return list(range(scene.num_frames))
    if isinstance(frames, (str, bytes)) or not isinstance(frames, Iterable):
        raise InputError(f"frames must be a list of frame indices, got {type(frames).__name__}")
    chosen = list(frames)
    if not chosen:
        raise InputError("frames is empty; give at least one frame index or None for all frames")
    for index in chosen:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise InputError(f"frame indices must be integers, got {index!r}")
        if not 0 <= index < scene.num_frames:
            raise InputError(f"frame {index} is out of range; the scene has frames 0..{scene.num_frames - 1}")
    if len(set(chosen)) != len(chosen):
        raise InputError(f"frames contains repeated indices: {chosen}")
    return [int(index) for index in chosen]


def write_file(path: PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_write(path, lambda temp: temp.write_bytes(data))


def write_folder(folder: PathLike, entries: Iterator[tuple[str, bytes]]) -> list[Path]:
    """Write each (name, bytes) entry into `folder` (created if missing); returns the paths in order."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"export folder {folder} exists and is not a folder")
    return [write_file(folder / name, data) for name, data in entries]


def write_zip(path: PathLike, entries: Iterator[tuple[str, bytes]]) -> Path:
    """Write all (name, bytes) entries into one deflated .zip at `path`, atomically."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise InputError(f"archive path must end in .zip, got {path.name!r}")

    def write(temp: Path) -> None:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name, data in entries:
                archive.writestr(name, data)

    return atomic_write(path, write)


def frame_name(index: int, suffix: str) -> str:
    """KITTI-style zero-padded name of frame `index`: 7 → "000007.ply"."""
    return f"{index:06d}.{suffix}"
