"""A minimal glTF 2.0 binary (.glb) writer for one coloured triangle mesh, in numpy.

A .glb is a 12-byte header, a JSON chunk describing the scene, and one binary chunk holding the vertex
and index arrays (glTF 2.0 spec §4.4). We write one mesh with one triangle primitive: POSITION and
NORMAL (float32), COLOR_0 (normalised uint8 RGBA), the application-specific `_CLASS` (uint8 class id;
custom attribute names start with an underscore, spec §3.7.2.1) and uint32 indices. Every vertex
attribute is padded to a 4-byte stride, as the spec requires.

glTF is Y-up while scenes here are Z-up: the vertex data stays in the scene's metres (X forward,
Y left, Z up) and the mesh's node carries a −90° rotation about X, which stands it upright in viewers.
Open3D's own .glb writer is not used: in 0.20 it embeds the buffer as a data URI that its own reader
(and other strict readers) reject.
"""

from __future__ import annotations

import json
import struct

import numpy as np

GLB_MAGIC = 0x46546C67  # "glTF"
CHUNK_JSON = 0x4E4F534A  # "JSON"
CHUNK_BIN = 0x004E4942  # "BIN\0"
FLOAT, UNSIGNED_BYTE, UNSIGNED_INT = 5126, 5121, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
Z_UP_TO_Y_UP = [-np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)]  # quaternion (x, y, z, w): −90° about X


def _pad(data: bytes, fill: bytes = b"\0") -> bytes:
    return data + fill * (-len(data) % 4)


class _BufferBuilder:
    """Collects arrays into one binary buffer with a bufferView and an accessor each."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, component: int, kind: str, *, target: int, stride: int | None = None,
            normalized: bool = False, bounds: bool = False, count: int | None = None) -> int:
        """Append `array`'s bytes; returns the accessor index."""
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": array.nbytes, "target": target}
        if stride is not None:
            view["byteStride"] = stride
        self.blob += _pad(array.tobytes())
        self.views.append(view)
        accessor = {"bufferView": len(self.views) - 1, "componentType": component,
                    "count": int(len(array) if count is None else count), "type": kind}
        if normalized:
            accessor["normalized"] = True
        if bounds:  # POSITION accessors must carry min and max (spec §3.7.2.1)
            accessor["min"] = array.min(axis=0).astype(float).tolist()
            accessor["max"] = array.max(axis=0).astype(float).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _document(builder: _BufferBuilder, attributes: dict[str, int] | None, indices: int | None) -> dict:
    node: dict = {"name": "scene", "rotation": Z_UP_TO_Y_UP}
    document: dict = {
        "asset": {"version": "2.0", "generator": "DynamicCity Studio"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [node],
    }
    if attributes is None:  # an empty frame: a valid file with an empty node and no buffers
        return document
    node["mesh"] = 0
    document["meshes"] = [{"primitives": [{"attributes": attributes, "indices": indices, "material": 0, "mode": 4}]}]
    # Colours come from COLOR_0; a white, matte, non-metallic base lets them show unaltered under light.
    document["materials"] = [{"name": "palette", "doubleSided": True,
                              "pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 1.0}}]
    document["buffers"] = [{"byteLength": len(builder.blob)}]
    document["bufferViews"] = builder.views
    document["accessors"] = builder.accessors
    return document


def glb_bytes(positions: np.ndarray, normals: np.ndarray, colors: np.ndarray, classes: np.ndarray,
              triangles: np.ndarray) -> bytes:
    """A .glb of one mesh: (V, 3) float positions and normals, (V, 3) uint8 RGB, (V,) uint8 class ids,
    (F, 3) triangle vertex indices. A mesh with no triangles gives a valid file with an empty scene."""
    builder = _BufferBuilder()
    attributes = indices = None
    if len(triangles):
        count = len(positions)
        rgba = np.concatenate([colors, np.full((count, 1), 255, np.uint8)], axis=1)
        class_padded = np.zeros((count, 4), np.uint8)  # one byte used of each 4-byte-aligned element
        class_padded[:, 0] = classes
        attributes = {
            "POSITION": builder.add(positions.astype("<f4"), FLOAT, "VEC3", target=ARRAY_BUFFER, bounds=True),
            "NORMAL": builder.add(normals.astype("<f4"), FLOAT, "VEC3", target=ARRAY_BUFFER),
            "COLOR_0": builder.add(rgba, UNSIGNED_BYTE, "VEC4", target=ARRAY_BUFFER, normalized=True),
            "_CLASS": builder.add(class_padded, UNSIGNED_BYTE, "SCALAR", target=ARRAY_BUFFER, stride=4),
        }
        flat = triangles.astype("<u4").ravel()
        indices = builder.add(flat, UNSIGNED_INT, "SCALAR", target=ELEMENT_ARRAY_BUFFER)
    document = _document(builder, attributes, indices)
    json_chunk = _pad(json.dumps(document, separators=(",", ":")).encode("utf-8"), b" ")
    chunks = struct.pack("<II", len(json_chunk), CHUNK_JSON) + json_chunk
    if builder.blob:
        chunks += struct.pack("<II", len(builder.blob), CHUNK_BIN) + bytes(builder.blob)
    return struct.pack("<III", GLB_MAGIC, 2, 12 + len(chunks)) + chunks
