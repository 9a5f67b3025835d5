"""The command line and the optional-library handling: one-line errors, lazy imports, the window."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import pytest

from core.data.scene_io import save_scene
from core.render import render_frames
from core.render.__main__ import main
from core.render.backends import import_open3d, import_pyvista
from core.types import InputError, RenderSettings

ROOT = Path(__file__).resolve().parents[2]
XVFB = "/usr/bin/Xvfb"


@pytest.fixture(scope="module")
def tiny_npz(tiny_scene, tmp_path_factory) -> Path:
    return save_scene(tiny_scene, tmp_path_factory.mktemp("scenes") / "tiny.npz")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_renders_a_scene_file(tiny_npz, tmp_path, capsys):
    out = tmp_path / "tiny.mp4"
    assert main([str(tiny_npz), "--out", str(out), "--width", "64", "--height", "48", "--camera", "bev"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    reader = imageio.get_reader(out)
    assert sum(1 for _ in reader) == 2
    reader.close()


@pytest.mark.parametrize("problem", ["missing", "garbage", "empty"])
def test_bad_scene_file_is_one_line_and_exit_2(problem, tmp_path, capsys):
    path = tmp_path / "scene.npz"
    if problem == "garbage":
        path.write_bytes(b"this is not a zip archive at all")
    if problem == "empty":
        path.write_bytes(b"")
    code, out, err = run_cli(capsys, path, "--out", tmp_path / "video.mp4")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "scene.npz" in err and "Traceback" not in err
    assert not (tmp_path / "video.mp4").exists()


@pytest.mark.parametrize("args", [
    ["--out", "v.mp4", "--camera", "drone"],
    ["--out", "v.avi"],
    ["--out", "v.mp4", "--width", "2"],
    [],  # neither --out nor --window
])
def test_bad_options_are_one_line_and_exit_2(tiny_npz, tmp_path, capsys, args):
    args = [str(tmp_path / a) if a.startswith("v.") else a for a in args]
    code, _, err = run_cli(capsys, tiny_npz, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("python -m core.render: error:")


@pytest.mark.parametrize(
    "module, requirement", [("pyvista", "pip install pyvista=="), ("open3d", "pip install open3d")],
)
def test_missing_backend_says_what_to_install(monkeypatch, module, requirement):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(InputError, match=requirement):
        (import_pyvista if module == "pyvista" else import_open3d)()


def test_missing_backend_in_the_cli(monkeypatch, tiny_npz, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "open3d", None)
    code, _, err = run_cli(capsys, tiny_npz, "--out", tmp_path / "v.mp4", "--backend", "open3d")
    assert code == 2 and "Open3D is not installed: pip install open3d-cpu" in err
    assert len(err.strip().splitlines()) == 1


def test_render_frames_reports_a_missing_backend(monkeypatch, tiny_scene):
    monkeypatch.setitem(sys.modules, "pyvista", None)
    with pytest.raises(InputError, match="PyVista is not installed"):
        render_frames(tiny_scene, RenderSettings())


def test_importing_the_package_loads_no_3d_library():
    heavy = ("pyvista", "vtk", "open3d", "plotly")
    code = f"import sys, core.render; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == "[]", result.stderr


@pytest.fixture
def xvfb_display():
    if not os.path.exists(XVFB):
        pytest.skip("Xvfb is not installed")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen([XVFB, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as stream:
        display = stream.readline().strip()
    try:
        yield f":{display}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_window_opens_plays_and_closes_under_xvfb(xvfb_display, tiny_npz):
    env = {k: v for k, v in os.environ.items() if k != "VTK_DEFAULT_OPENGL_WINDOW"}
    env.update(DISPLAY=xvfb_display, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "core.render", str(tiny_npz), "--window", "--window-seconds", "0.6"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    updates = int(result.stdout.split("after ")[1].split()[0])
    assert updates >= 3  # the first frame, then playback stepping through the clip


def test_window_without_display_is_one_line(tiny_npz, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, _, err = run_cli(capsys, tiny_npz, "--window")
    assert code == 2 and "needs a display" in err
