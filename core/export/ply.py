"""Binary little-endian PLY, written with numpy alone.

A PLY file is an ASCII header naming each element (vertex, face) and its typed properties, followed by
the elements' records back to back. numpy structured arrays are exactly such records, so an element is
written as one `tobytes()` of a structured array whose field names become the property names. Extra
properties (here `class`, `intensity`) ride along; readers that do not know them skip them (Open3D,
MeshLab, CloudCompare and plyfile all do).
"""

from __future__ import annotations

import numpy as np

from core.types import InputError

# numpy kind+size → PLY scalar type name (PLY 1.0 names that every reader understands).
_PLY_TYPES: dict[str, str] = {
    "i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort",
    "i4": "int", "u4": "uint", "f4": "float", "f8": "double",
}


def _ply_type(dtype: np.dtype) -> str:
    key = f"{dtype.kind}{dtype.itemsize}"
    if key not in _PLY_TYPES:
        raise InputError(f"PLY cannot store numpy type {dtype}")
    return _PLY_TYPES[key]


def _little_endian(records: np.ndarray) -> np.ndarray:
    """The structured array with every field little-endian (PLY's declared byte order)."""
    fields = [(name, records.dtype[name].newbyteorder("<")) for name in records.dtype.names]
    return records.astype(np.dtype(fields), copy=False)


def _header(vertex: np.ndarray, faces: np.ndarray | None) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0", "comment DynamicCity Studio export"]
    lines.append(f"element vertex {len(vertex)}")
    lines += [f"property {_ply_type(vertex.dtype[name])} {name}" for name in vertex.dtype.names]
    if faces is not None:
        lines.append(f"element face {len(faces)}")
        lines.append("property list uchar int vertex_indices")
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _face_records(triangles: np.ndarray) -> np.ndarray:
    """(F, 3) vertex indices → PLY face records: a uchar count (3) then three little-endian int32."""
    records = np.empty(len(triangles), dtype=np.dtype([("count", "u1"), ("indices", "<i4", (3,))]))
    records["count"] = 3
    records["indices"] = triangles
    return records


def ply_bytes(vertex: np.ndarray, triangles: np.ndarray | None = None) -> bytes:
    """A binary PLY of structured `vertex` records (field names = property names) and optional (F, 3) faces."""
    if vertex.dtype.names is None:
        raise InputError("PLY vertex data must be a structured array with named fields")
    if triangles is not None and (triangles.ndim != 2 or triangles.shape[1] != 3):
        raise InputError(f"PLY faces must have shape (F, 3), got {triangles.shape}")
    faces = None if triangles is None else _face_records(triangles)
    body = _little_endian(vertex).tobytes()
    return _header(vertex, faces) + body + (b"" if faces is None else faces.tobytes())
