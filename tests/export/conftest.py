"""Scenes and file readers for the export tests.

`wall_scene`: a flat road layer (its top at z = -1.625 m) and a building wall whose near face stands
at x = WALL_X metres across the whole grid, seen by a sensor at the ego frame's origin. The readers
parse our binary PLY and .glb files independently of the writers, to check the properties Open3D
drops (`class`, `intensity`, `_CLASS`).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from core.data.palette import CLASS
from core.types import GridSpec, OccupancySequence

WALL_GRID = GridSpec(frames=2, cells=(40, 40, 8), voxel_size=(0.5, 0.5, 0.375), origin=(-10.0, -10.0, -2.0))
GROUND_Z = -2.0 + 0.375  # top of layer 0
WALL_X = 6.0  # near face of the wall: lattice x index 32
WALL_INDEX = 32

_PLY_TYPES = {"char": "i1", "uchar": "u1", "short": "<i2", "ushort": "<u2", "int": "<i4", "uint": "<u4",
              "float": "<f4", "double": "<f8"}


def wall_labels(grid: GridSpec = WALL_GRID) -> np.ndarray:
    labels = np.zeros(grid.shape, dtype=np.uint8)
    labels[:, :, :, 0] = CLASS["road"]
    labels[:, WALL_INDEX:WALL_INDEX + 2, :, 1:] = CLASS["building"]
    return labels


@pytest.fixture
def wall_scene() -> OccupancySequence:
    return OccupancySequence(labels=wall_labels(), grid=WALL_GRID)


def moving_wall_scene(ego_x: float, yaw: float = 0.0, clip_frames: int = 0) -> OccupancySequence:
    """The wall scene, anchored, with the ego moved to (ego_x, 0) and turned by `yaw` in frame 1."""
    poses = np.tile(np.eye(4), (2, 1, 1))
    poses[1, :2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    poses[1, 0, 3] = ego_x
    metadata = {"clip_frames": clip_frames} if clip_frames else {}
    return OccupancySequence(labels=wall_labels(), grid=WALL_GRID, poses=poses, metadata=metadata)


def read_ply(path: Path) -> dict[str, np.ndarray]:
    """Binary little-endian PLY → {"vertex": structured array, "face": (F, 3) int32 (if present)}."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode("ascii").splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    elements: list[tuple[str, int, list]] = []
    for line in lines:
        words = line.split()
        if words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and words[1] == "list":
            elements[-1][2].extend([("count", "u1"), ("indices", "<i4", (3,))])
        elif words[0] == "property":
            elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))
    result, offset = {}, end
    for name, count, fields in elements:
        records = np.frombuffer(data, dtype=np.dtype(fields), count=count, offset=offset)
        offset += records.nbytes
        result[name] = records["indices"] if name == "face" else records
    assert offset == len(data), "trailing bytes after the last element"
    return result


def read_glb(path: Path) -> tuple[dict, bytes]:
    """A .glb → (JSON document, binary chunk), checking the container's header and lengths."""
    data = Path(path).read_bytes()
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    document = json.loads(data[20:20 + json_length])
    rest = data[20 + json_length:]
    if not rest:
        return document, b""
    bin_length, bin_type = struct.unpack_from("<II", rest, 0)
    assert bin_type == 0x004E4942
    return document, rest[8:8 + bin_length]


def glb_accessor(document: dict, blob: bytes, index: int) -> np.ndarray:
    """The array of one accessor (tightly packed or strided) of a .glb."""
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    component = {5126: "<f4", 5121: "u1", 5125: "<u4"}[accessor["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[accessor["type"]]
    itemsize = np.dtype(component).itemsize * width
    stride = view.get("byteStride", itemsize)
    raw = np.frombuffer(blob, np.uint8, count=view["byteLength"], offset=view["byteOffset"])
    rows = np.ascontiguousarray(raw.reshape(accessor["count"], stride)[:, :itemsize])
    values = rows.view(component).reshape(accessor["count"], width)
    return values[:, 0] if width == 1 else values
