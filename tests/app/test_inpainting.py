"""Inpaint & extend actions with the fake service: masks from strokes, frame ranges, accept, extend."""

from pathlib import Path

import numpy as np
import pytest

from app import handlers, inpainting
from app.handlers import SessionState
from core.types import InputError
from tests.app.fake_service import FakeService


@pytest.fixture
def made(tmp_path):
    service = FakeService()
    state, _ = handlers.make_scene(service, SessionState(folder=str(tmp_path)), 2, "auto", "cpu", "bev")
    return service, state


def strokes(rows: slice, cols: slice) -> dict:
    layer = np.zeros((inpainting.CANVAS, inpainting.CANVAS, 4), np.uint8)
    layer[rows, cols] = (255, 32, 32, 255)
    return {"background": None, "layers": [layer], "composite": None}


def test_canvas_shows_the_current_result(made, tmp_path):
    service, state = made
    canvas = inpainting.mask_canvas(state)
    assert canvas["background"].shape == (inpainting.CANVAS, inpainting.CANVAS, 4)
    with pytest.raises(InputError, match="no scene yet"):
        inpainting.mask_canvas(SessionState(folder=str(tmp_path)))


def test_inpaint_accept_and_the_outline(made):
    service, state = made
    candidate, video, picture = inpainting.inpaint(service, state, strokes(slice(0, 128), slice(0, 128)), 0, 16, 10, 3)
    assert candidate.mask.sum() == 4 and candidate.mask[-1, -1]  # top-left of the picture: largest x and y
    assert Path(video).read_bytes() == b"comparison" and picture.shape == (512, 1032, 3)
    assert (picture == (230, 30, 30)).all(axis=2).any()  # the mask outline
    accepted, view = inpainting.accept(service, state, candidate, "bev")
    assert accepted.scene.metadata["source"] == "inpainted" and accepted.counter == state.counter + 1
    with pytest.raises(InputError, match="nothing to accept"):
        inpainting.accept(service, state, None, "bev")


@pytest.mark.parametrize(
    "canvas, start, stop, message",
    [
        ({"layers": []}, 0, 4, "mask is empty"),
        (strokes(slice(0, 512), slice(0, 512)), 0, 4, "covers the whole scene"),
        (strokes(slice(0, 64), slice(0, 64)), 3, 2, "frame range"),
        (strokes(slice(0, 64), slice(0, 64)), 0, 99, None),
    ],
)
def test_bad_masks_and_ranges(made, canvas, start, stop, message):
    service, state = made
    if message is None:  # a range past the end is clamped to "all frames"
        assert inpainting.frame_range(start, stop, 4) is None
        return
    with pytest.raises(InputError, match=message):
        inpainting.inpaint(service, state, canvas, start, stop, 10, 1)


def test_extend_adds_a_clip(made):
    service, state = made
    longer, view = inpainting.extend(service, state, 10, 1, "bev")
    assert longer.scene.num_frames == 8 and view.frames == 8


def test_the_vehicle_clean_up_reaches_inpainting_and_extension(made):
    service, state = made
    inpainting.inpaint(service, state, strokes(slice(0, 128), slice(0, 128)), 0, 16, 10, 3, vehicles="specks")
    inpainting.extend(service, state, 10, 1, "bev")
    inpainting.extend(service, state, 10, 1, "bev", vehicles="boxes")
    assert [(s.remove_specks, s.vehicle_boxes) for s in service.settings[-3:]] == [(True, False), (False, False), (True, True)]
    with pytest.raises(InputError, match="unknown vehicle clean-up 'tidy'"):
        inpainting.extend(service, state, 10, 1, "bev", vehicles="tidy")


def test_bird_eye_picture_is_opaque_with_grey_free_cells():
    from app.figures import bird_eye_picture
    from core.data.palette import PALETTE
    from core.types import OccupancySequence
    from tests.app.fake_service import TINY

    labels = np.zeros(TINY.shape, np.uint8)
    labels[:, :4, :, 0] = PALETTE.class_id("road")  # the near half of the grid is road, the far half free
    picture = bird_eye_picture(OccupancySequence(labels, TINY), size=96)
    assert picture.shape == (96, 96, 4) and (picture[:, :, 3] == 255).all()
    assert tuple(picture[-1, 0, :3]) == tuple(PALETTE.colors[PALETTE.class_id("road")])  # bottom: small x
    assert tuple(picture[0, 0, :3]) == (235, 235, 235)  # top: large x, free
