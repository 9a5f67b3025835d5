"""A light interactive Plotly 3D view of one frame: one `Mesh3d` of its exposed voxel faces.

Kept small enough to send to a browser (< 1 MB of JSON for a cpu-preset frame, against ≈ 5.5 MB done
naively, DESIGN §4): vertices are shared between faces; arrays are float32 vertices, uint16 triangle
indices (int32 past 65,535 vertices) and one uint8 colour band per triangle (Plotly ships numpy arrays
as typed base64 blobs). A band is a (class, face direction) pair carrying the videos' baked shading,
mapped through a stepped colour scale; each band is centred on its id (cmin = -0.5,
cmax = bands - 0.5), otherwise the scale's interpolation shifts faces into the neighbouring class.
Legend entries are empty traces, one per class present.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.data.palette import PALETTE
from core.render.backends import BACKGROUND_RGB
from core.render.mesh import DIRECTIONS, SHADE, exposed_faces
from core.render.pipeline import check_scene
from core.types import InputError, OccupancySequence

# Shading is baked into the colour scale, so Plotly's own lighting is neutralised.
UNLIT = {"ambient": 1.0, "diffuse": 0.0, "specular": 0.0, "roughness": 1.0, "fresnel": 0.0}


def shaded_colorscale(colors: np.ndarray) -> list[list[Any]]:
    """A stepped Plotly colour scale with one flat band per (class, face direction) pair.

    Band k = class · 6 + direction holds the class colour times SHADE[direction], the same baked
    shading the video renderers use, so the figure matches the videos and needs no scene lighting.
    """
    shaded = np.clip(colors[:, None, :].astype(np.float32) * SHADE[None, :, None] + 0.5, 0, 255)
    bands = shaded.astype(np.uint8).reshape(-1, 3)  # (C · 6, 3)
    scale = []
    for k, color in enumerate(bands):
        css = "rgb(%d,%d,%d)" % tuple(int(v) for v in color)
        scale += [[k / len(bands), css], [(k + 1) / len(bands), css]]
    return scale


def compact_indices(triangles: np.ndarray, num_vertices: int) -> np.ndarray:
    """Triangle indices as uint16 when every vertex id fits (halving the largest array), else int32."""
    return triangles.astype(np.uint16) if num_vertices <= np.iinfo(np.uint16).max else triangles


def _legend_traces(go: Any, class_ids: np.ndarray) -> list[Any]:
    """Data-free traces that only add a coloured legend entry per class."""
    traces = []
    for class_id in class_ids:
        color = "rgb(%d,%d,%d)" % tuple(int(v) for v in PALETTE.colors[class_id])
        traces.append(go.Scatter3d(
            x=[None], y=[None], z=[None], mode="markers", name=PALETTE.names[class_id],
            marker={"size": 8, "color": color, "symbol": "square"}, hoverinfo="skip",
        ))
    return traces


def _mesh_trace(go: Any, scene: OccupancySequence, frame: int) -> tuple[Any, np.ndarray]:
    mesh = exposed_faces(scene.labels[frame], scene.grid)
    triangles = compact_indices(mesh.triangles(), len(mesh.vertices))  # (2F, 3), face f → 2f, 2f+1
    bands = len(PALETTE.colors) * len(DIRECTIONS)
    band = mesh.face_class * len(DIRECTIONS) + mesh.direction  # (F,) uint8, < 256 for 12 classes
    trace = go.Mesh3d(
        x=mesh.vertices[:, 0], y=mesh.vertices[:, 1], z=mesh.vertices[:, 2],
        i=triangles[:, 0], j=triangles[:, 1], k=triangles[:, 2],
        intensity=np.repeat(band.astype(np.uint8), 2), intensitymode="cell",
        colorscale=shaded_colorscale(PALETTE.colors), cmin=-0.5, cmax=bands - 0.5, showscale=False,
        flatshading=True, lighting=UNLIT, hoverinfo="skip", showlegend=False,
    )
    return trace, mesh.class_ids()


def frame_figure(scene: OccupancySequence, frame: int = 0) -> Any:
    """A `plotly.graph_objects.Figure` of one frame of `scene`, Z up, seen from behind and above."""
    check_scene(scene)
    if not 0 <= frame < scene.num_frames:
        raise InputError(f"frame {frame} is out of range; the scene has frames 0..{scene.num_frames - 1}")
    import plotly.graph_objects as go

    trace, class_ids = _mesh_trace(go, scene, frame)
    figure = go.Figure([trace, *_legend_traces(go, class_ids)])
    background = "rgb(%d,%d,%d)" % BACKGROUND_RGB
    hidden_axis = {"visible": False}
    # The legend is a key only: its entries are empty traces, so clicking them would hide nothing.
    figure.update_layout(
        scene={
            "aspectmode": "data", "bgcolor": background,
            "xaxis": hidden_axis, "yaxis": hidden_axis, "zaxis": hidden_axis,
            "camera": {"eye": {"x": -1.1, "y": 0.0, "z": 0.8}, "up": {"x": 0, "y": 0, "z": 1}},
        },
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        legend={"x": 0.01, "y": 0.99, "itemclick": False, "itemdoubleclick": False},
        paper_bgcolor=background, uirevision="scene",
    )
    return figure
