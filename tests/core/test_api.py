"""SceneGenerator, the service the app talks to: procedural scenes, files, dataset folders, rendering."""

import numpy as np
import pytest

from core.api import SceneGenerator
from core.types import Command, InputError, RenderSettings
from tests.data.test_carlasc import carlasc_poses, street_scene, write_carlasc_scene


def test_procedural_scene_and_bad_seed():
    service = SceneGenerator()
    scene = service.procedural_scene(seed=4, command=Command.RIGHT, preset="cpu")
    assert scene.labels.shape == (16, 64, 64, 8) and scene.metadata["command"] == "right"
    with pytest.raises(InputError, match="seed must be in"):
        service.procedural_scene(seed=-1)


def test_saves_and_reopens_a_scene(tmp_path):
    service = SceneGenerator()
    scene = service.procedural_scene(seed=1)
    reopened = service.load_scene(service.save_scene(scene, str(tmp_path / "s.npz")))
    assert np.array_equal(reopened.labels, scene.labels) and reopened.convention == "anchored"


def test_opens_a_short_carlasc_folder_given_at_launch(tmp_path):
    folder = write_carlasc_scene(tmp_path / "Town02", street_scene(3), poses=carlasc_poses(3))
    service = SceneGenerator(dataset_paths=[str(folder)])
    assert service.dataset_scenes() == [str(folder)]
    scene = service.load_scene(service.dataset_scenes()[0])
    assert scene.num_frames == 3 and scene.grid.cells == (64, 64, 8) and scene.metadata["source"] == "carlasc"


def test_renders_and_draws_a_frame(tmp_path):
    service = SceneGenerator()
    scene = service.procedural_scene(seed=2)
    path = service.render_video(scene, str(tmp_path / "v.mp4"), settings=RenderSettings(camera="bev", width=160, height=120))
    assert (tmp_path / "v.mp4").stat().st_size > 1000 and path.endswith("v.mp4")
    assert service.frame_figure(scene, 3) is not None
    with pytest.raises(InputError, match="frame must be in 0..15"):
        service.frame_figure(scene, 16)


def test_exports_meshes_and_lidar(tmp_path):
    import zipfile

    service = SceneGenerator()
    scene = service.procedural_scene(seed=5)
    meshes = service.export_meshes(scene, str(tmp_path / "m.zip"), fmt="glb")
    scans = service.export_lidar(scene, str(tmp_path / "l.zip"), beams=16, max_range=30.0, dropout=0.1, seed=1)
    assert len(zipfile.ZipFile(meshes).namelist()) == 16
    names = zipfile.ZipFile(scans).namelist()
    assert len([n for n in names if n.endswith(".bin")]) == 16 and len([n for n in names if n.endswith(".ply")]) == 16
    with pytest.raises(InputError, match="beams"):
        service.export_lidar(scene, str(tmp_path / "x.zip"), beams=0)
