"""The Inspect view's handlers, driven with a fake service: results, progress, and bad input."""

from pathlib import Path

import numpy as np
import pytest

from app import handlers
from app.handlers import SessionState
from core.types import Command, InputError
from tests.app.fake_service import FakeService


@pytest.fixture
def state(tmp_path):
    return SessionState(folder=str(tmp_path))


def test_make_scene_saves_renders_and_summarises(state):
    service, events = FakeService(), []
    new, view = handlers.make_scene(service, state, 7, "left", "cpu", "bev", events.append)
    assert new.scene is not None and new.counter == 1 and state.scene is None
    assert Path(view.video).read_bytes() == b"fake mp4 bev" and Path(view.scene_file).is_file()
    assert "seed 7" in view.summary and "left" in view.summary and "road" in view.summary
    assert view.figure == {"frame": 0} and view.frames == 4
    assert [e.step for e in events] == [1, 2, 3, 4]


def test_each_result_gets_fresh_files(state):
    service = FakeService()
    first, view1 = handlers.make_scene(service, state, 1, "auto", "cpu", "chase")
    _, view2 = handlers.change_camera(service, first, "orbit")
    assert view1.video != view2.video and view2.video.endswith("orbit.mp4")


@pytest.mark.parametrize(
    "seed, command, preset, message",
    [("abc", "auto", "cpu", "seed must be a whole number"), (1.5, "auto", "cpu", "whole number"),
     (1, "sideways", "cpu", "unknown command"), (1, "auto", "huge", "unknown grid preset")],
)
def test_bad_options_raise_one_line_errors(state, seed, command, preset, message):
    with pytest.raises(InputError, match=message):
        handlers.make_scene(FakeService(), state, seed, command, preset, "chase")


def test_uploads(state, tmp_path):
    service = FakeService()
    made, view = handlers.make_scene(service, state, 3, "auto", "cpu", "chase")
    reopened, again = handlers.open_upload(service, made, view.scene_file, "chase")
    assert np.array_equal(reopened.scene.labels, made.scene.labels)
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="broken.npz"):
        handlers.open_upload(service, made, str(bad), "chase")
    with pytest.raises(InputError, match="no file uploaded"):
        handlers.open_upload(service, made, None, "chase")
    with pytest.raises(InputError, match="expected a scene .npz or a recipe .json"):
        handlers.open_upload(service, made, str(tmp_path / "x.txt"), "chase")


def test_actions_that_need_a_scene(state):
    with pytest.raises(InputError, match="no scene yet"):
        handlers.change_camera(FakeService(), state, "bev")
    with pytest.raises(InputError, match="no scene yet"):
        handlers.show_frame(FakeService(), state, 0)
    with pytest.raises(InputError, match="no dataset scene"):
        handlers.open_dataset(FakeService(), state, None, "bev")


def test_show_frame_and_sessions(state):
    service = FakeService()
    made, _ = handlers.make_scene(service, state, 3, "auto", "cpu", "chase")
    assert handlers.show_frame(service, made, 2) == {"frame": 2}
    folder = Path(handlers.session_folder("abc-123"))
    (folder / "x.mp4").write_bytes(b"1")
    handlers.close_session("abc-123")
    assert not folder.exists()
    assert 0 <= handlers.random_seed() < 1_000_000


def test_exports(state):
    import json

    service = FakeService()
    with pytest.raises(InputError, match="no scene yet"):
        handlers.export_meshes(service, state, "ply")
    made, _ = handlers.make_scene(service, state, 3, "auto", "cpu", "chase")
    with pytest.raises(InputError, match="no recipe"):
        handlers.export_recipe(made)
    assert Path(handlers.export_meshes(service, made, "glb")).read_bytes() == b"meshes glb"
    assert Path(handlers.export_lidar(service, made, 16, 40, 0.1)).read_bytes() == b"scans"
    from core.types import Conditions, GenerationRequest, SamplerSettings

    generated = service.generate(GenerationRequest(Conditions(), SamplerSettings(seed=4), 4))
    with_recipe, _ = handlers.present(service, made, generated, "bev")
    assert json.loads(Path(handlers.export_recipe(with_recipe)).read_text())["seed"] == 4


def test_gallery_keeps_each_new_result_and_shows_it_again(state, monkeypatch):
    service = FakeService()
    first, _ = handlers.make_scene(service, state, 1, "left", "cpu", "bev")
    second, _ = handlers.make_scene(service, first, 2, "right", "cpu", "bev")
    turned, _ = handlers.change_camera(service, second, "orbit")  # the same result: no new entry
    gallery = turned.gallery()
    assert len(gallery) == 2 and "right" in gallery[0][1] and "left" in gallery[1][1]  # newest first
    assert all(Path(thumbnail).is_file() for thumbnail, _ in gallery)
    back, view = handlers.recall(service, turned, 1, "chase")
    assert np.array_equal(back.scene.labels, first.scene.labels) and "seed 1" in view.summary
    assert len(back.gallery()) == 2 and view.video.endswith("chase.mp4")
    with pytest.raises(InputError, match="no result number 3"):
        handlers.recall(service, back, 2, "chase")

    monkeypatch.setattr(handlers, "HISTORY", 3)
    many = back
    for seed in range(10, 15):
        many, _ = handlers.make_scene(service, many, seed, "auto", "cpu", "bev")
    assert len(many.history) == 3 and "seed 14" in handlers.summarise(many.history[-1].scene)


def test_a_recipe_upload_generates_the_same_scene_again(state, tmp_path):
    from core.types import Conditions, GenerationRequest, SamplerSettings

    service = FakeService()
    generated = service.generate(GenerationRequest(Conditions(command=Command.LEFT), SamplerSettings(seed=5), 4))
    shown, _ = handlers.present(service, state, generated, "bev")
    recipe = handlers.export_recipe(shown)
    again, view = handlers.open_upload(service, shown, recipe, "bev")
    assert np.array_equal(again.scene.labels, generated.labels)
    assert service.requests[-1].sampler.seed == 5 and service.requests[-1].conditions.command == Command.LEFT
    for content, message in (("{not json", "not a readable recipe"), ("[1, 2]", "a recipe is a JSON object"),
                             ('{"checkpoints": "other", "seed": 1, "frames": 4}', "other checkpoints")):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        with pytest.raises(InputError, match=message):
            handlers.open_upload(service, again, str(bad), "bev")
