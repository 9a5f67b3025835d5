"""Pictures the app draws from numpy: per-class voxel counts over time, bird's-eye views."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.conditions.drawings import opaque_layout_image
from core.data.palette import PALETTE
from core.data.procedural import bev_layout
from core.types import Layout, OccupancySequence


def class_counts_figure(counts: np.ndarray) -> go.Figure:
    """Lines of voxel count per class (free left out) over the frames of a scene; counts is (T, C)."""
    figure = go.Figure()
    frames = np.arange(counts.shape[0])
    for class_id in range(1, counts.shape[1]):
        if counts[:, class_id].any():
            figure.add_trace(go.Scatter(
                x=frames, y=counts[:, class_id], mode="lines", name=PALETTE.names[class_id],
                line={"color": PALETTE.hex_colors()[class_id], "width": 2},
            ))
    figure.update_layout(
        height=300, margin={"l": 50, "r": 10, "t": 30, "b": 40}, title="voxels per class over time",
        xaxis_title="frame", yaxis_title="voxels", yaxis_type="log", legend={"font": {"size": 10}},
    )
    return figure


def bird_eye_picture(scene: OccupancySequence, frame: int = 0, size: int = 512) -> np.ndarray:
    """Opaque RGBA picture (size × size) of a frame seen from above in palette colours, free columns grey."""
    picture = opaque_layout_image(Layout(bev_layout(scene.labels[frame])))
    return np.asarray(Image.fromarray(picture).resize((size, size), Image.NEAREST))
