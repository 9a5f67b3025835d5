"""Tests of `python -m core.data.info`: the summary it prints and its one-line errors with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.data.info import main
from core.data.scene_io import save_scene
from tests.data.test_carlasc import carlasc_poses, street_scene, write_carlasc_scene
from tests.data.test_occ3d import nuscenes_frames, write_occ3d_scene
from tests.data.test_sources import small_scene

MAIN = Path(__file__).resolve().parents[2]


def test_npz_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_scene(small_scene(), tmp_path / "scene.npz")
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "scene .npz" in out and "2 frames × 64×64×8 cells, voxel 0.8×0.8×0.375 m" in out
    assert "origin (-25.6, -25.6, -2) m" in out and "convention:  anchored" in out
    assert "poses:       present (2, ego travels 0.8 m)" in out
    assert "unobserved:  0.00% (no unobserved mask)" in out
    road = 2 * 64 * 64
    assert f"road        {road:>12}    12.50%" in out and "vehicle                1    <0.01%" in out
    assert '"source": "test"' in out and "available" not in out


def test_carlasc_folder_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counts = np.ones((3, 128, 128, 8), np.float32)
    counts[:, :, :, 4:] = 0
    path = write_carlasc_scene(tmp_path / "Town01", street_scene(3), counts, carlasc_poses(3))
    assert main([str(path), "--start", "1", "--preset", "carlasc"]) == 0
    out = capsys.readouterr().out
    assert "CarlaSC scene folder" in out and "3 available; this clip is 1..2" in out
    assert "2 frames × 128×128×8 cells" in out and "convention:  anchored" in out
    assert "unobserved:  50." in out and "building" in out and "pole" in out


def test_occ3d_folder_without_poses_reads_ego(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_occ3d_scene(tmp_path / "occ", nuscenes_frames(2))
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "Occ3D scene folder" in out and "convention:  ego" in out and "poses:       absent" in out
    assert main([str(path), "--convention", "anchored"]) == 2
    assert "needs poses" in capsys.readouterr().err


def _error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    return captured.err


def test_bad_inputs_print_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert "empty folder" in _error_of([str(tmp_path / "empty")], capsys)
    partial = write_carlasc_scene(tmp_path / "Town01", street_scene(2))
    (partial / "cartesian" / "evaluation" / "000001.bin").unlink()
    assert "has a .label but no .bin" in _error_of([str(partial)], capsys)
    scene = save_scene(small_scene(), tmp_path / "scene.npz")
    assert "unknown grid preset 'tiny'" in _error_of([str(scene), "--preset", "tiny"], capsys)
    occ3d = write_occ3d_scene(tmp_path / "o", nuscenes_frames(1))
    assert "too few frames" in _error_of([str(occ3d), "--start", "3", "--convention", "ego"], capsys)


def test_module_runs_and_exits_2_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(MAIN)}
    command = [sys.executable, "-m", "core.data.info", str(tmp_path / "nothing.npz")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=MAIN, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: {tmp_path / 'nothing.npz'}: no such file or folder"
