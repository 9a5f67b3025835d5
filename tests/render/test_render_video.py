"""Videos: mp4 and gif written atomically and readable back, odd sizes, side-by-side comparisons."""

from __future__ import annotations

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest

from core.render import render_video, side_by_side
from core.render.video import write_video
from core.types import InputError, RenderSettings


def read_mp4(path) -> list[np.ndarray]:
    reader = imageio.get_reader(path)
    try:
        return [frame for frame in reader]  # list(reader) trusts an infinite length hint
    finally:
        reader.close()


def test_cpu_scene_to_16_frame_mp4(cpu_city, tmp_path):
    path = render_video(cpu_city, tmp_path / "out" / "city.mp4", RenderSettings())
    assert path == tmp_path / "out" / "city.mp4"
    frames = read_mp4(path)
    assert len(frames) == 16 and frames[0].shape == (480, 640, 3)
    assert sorted(p.name for p in path.parent.iterdir()) == ["city.mp4"]  # no temp file left behind


def test_gif_by_suffix(tiny_scene, tmp_path):
    path = render_video(tiny_scene, tmp_path / "tiny.gif", RenderSettings(width=80, height=60, fps=4))
    frames = iio.imread(path, index=None)
    assert frames.shape == (2, 60, 80, 3)


def test_odd_frame_size_is_padded_not_rescaled(tmp_path):
    frames = [np.full((75, 101, 3), 40 * k, dtype=np.uint8) for k in range(3)]
    back = read_mp4(write_video(frames, tmp_path / "odd.mp4", fps=8))
    assert len(back) == 3 and back[0].shape == (76, 102, 3)


def test_unsupported_suffix_fails_before_rendering(tiny_scene, tmp_path):
    with pytest.raises(InputError, match="use .mp4 or .gif"):
        render_video(tiny_scene, tmp_path / "tiny.avi", RenderSettings())
    assert list(tmp_path.iterdir()) == []


class FailingFrames(list):
    """Frames whose iteration breaks after the first one, as if rendering died mid-encode."""

    def __iter__(self):
        yield self[0]
        raise RuntimeError("renderer died")


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_failed_encode_leaves_nothing(tmp_path, suffix):
    frames = FailingFrames([np.zeros((16, 16, 3), dtype=np.uint8)] * 3)
    with pytest.raises(RuntimeError, match="renderer died"):
        write_video(frames, tmp_path / f"bad{suffix}", fps=8)
    assert list(tmp_path.iterdir()) == []


def test_side_by_side_has_two_titled_panels(cpu_city, tiny_scene, tmp_path):
    settings = RenderSettings(width=160, height=120, camera="bev")
    path = side_by_side(tiny_scene, cpu_city, tmp_path / "pair.mp4", settings, titles=("tiny", "city"))
    frames = read_mp4(path)
    assert len(frames) == 16  # the shorter clip holds its last frame
    height, width, _ = frames[0].shape
    assert width == 320 and height > 120 and height % 2 == 0
    assert frames[0][: height - 120].mean() > 200  # white title bars on top
