"""Sample videos per condition: every kind is written, as a playable video and a contact sheet."""

import imageio.v3 as iio

from core.eval.samples import make_samples
from tests.eval.test_report import ProceduralService


def test_every_kind_of_sample_is_written(tmp_path):
    written = make_samples(ProceduralService(), tmp_path)
    names = {path.stem for path in written}
    assert names == {"unconditional", "command_left", "trajectory_right", "layout", "long_64_frames", "inpainting"}
    assert all(path.stat().st_size > 1000 for path in written)
    assert iio.imread(tmp_path / "layout.png").shape[1] == 4 * 320  # the drawn layout, then three frames
    assert len(iio.imread(tmp_path / "long_64_frames.mp4")) == 64
