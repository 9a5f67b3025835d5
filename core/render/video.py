"""Frames → an .mp4 (H.264 through imageio-ffmpeg) or an animated .gif, written atomically.

The file appears under its final name only once it is complete: it is encoded to a temporary file in
the same folder and renamed into place, so a UI never serves half a video and a failed encode leaves no
debris. H.264 in yuv420p (what browsers play) needs even frame sizes; odd ones are padded by one pixel
rather than letting imageio rescale the picture to a multiple of 16.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.fileio import atomic_write
from core.render.legend import title_bar
from core.types import InputError

VIDEO_SUFFIXES = (".mp4", ".gif")


def check_video_path(path: str | os.PathLike) -> Path:
    """`path` as a Path, or an InputError if its suffix is not a supported video format."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{path}: unsupported video format {path.suffix!r}; use .mp4 or .gif")
    return path


def prepare_output(path: str | os.PathLike) -> Path:
    """Check the video suffix and create the output folder, so a bad path fails before rendering."""
    path = check_video_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """The (H, W, 3) frame padded by edge pixels to an even height and width."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _write_mp4(frames: Sequence[np.ndarray], path: Path, fps: int) -> None:
    import imageio.v2 as imageio

    writer = imageio.get_writer(
        path, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p",
        macro_block_size=2, quality=8, ffmpeg_log_level="error",
        output_params=["-preset", "veryfast", "-movflags", "+faststart"],
    )
    try:
        for frame in frames:
            writer.append_data(pad_to_even(frame))
    finally:
        writer.close()


def _write_gif(frames: Sequence[np.ndarray], path: Path, fps: int) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, np.stack(frames), extension=".gif", plugin="pillow", duration=1000 / fps, loop=0)


def write_video(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: int) -> Path:
    """Encode (H, W, 3) uint8 frames to `path` (.mp4 or .gif by suffix), atomically; returns the path."""
    path = check_video_path(path)
    if not frames:
        raise InputError(f"{path}: no frames to write")
    writer = _write_gif if path.suffix.lower() == ".gif" else _write_mp4
    return atomic_write(path, lambda temp: writer(frames, temp, fps))


def side_by_side_frame(left: np.ndarray, right: np.ndarray, titles: tuple[str, str]) -> np.ndarray:
    """Two equally sized (H, W, 3) frames next to each other, each under a title bar."""
    bar_height = 2 * max(8, left.shape[0] // 30)  # even, so the stacked frame stays H.264-friendly
    panels = [np.vstack([title_bar(title, frame.shape[1], bar_height), frame]) for frame, title in
              zip((left, right), titles)]
    return np.hstack(panels)


def pair_frames(left: Sequence[np.ndarray], right: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of frames for a comparison; the shorter clip holds its last frame until the longer ends."""
    count = max(len(left), len(right))
    return [(left[min(t, len(left) - 1)], right[min(t, len(right) - 1)]) for t in range(count)]
