"""Atomic writes: complete files only, ordinary permissions, nothing left behind on failure."""

import os

import pytest

from core.fileio import FILE_MODE, atomic_write


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write(target, lambda temp: temp.write_text("one"))
    atomic_write(target, lambda temp: temp.write_text("two"))
    assert target.read_text() == "two" and os.stat(target).st_mode & 0o777 == FILE_MODE
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_failure_keeps_old_content(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def half_then_fail(temp):
        temp.write_text("half")
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
