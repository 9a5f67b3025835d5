"""Rendering of 4D occupancy scenes: voxels → exposed-face mesh → frames → mp4 / gif, and Plotly 3D.

Public entry points:

- `render_frames(scene, settings, on_progress)`: one (H, W, 3) uint8 image per frame;
- `render_video(scene, path, settings, on_progress)`: an .mp4 (H.264) or .gif, written atomically;
- `side_by_side(scene_a, scene_b, path, settings, titles)`: two scenes compared in one video;
- `frame_figure(scene, frame)`: a light interactive Plotly `Mesh3d` figure of one frame;
- `exposed_faces(labels, grid)`: the face-culled mesh of one frame (`core.render.mesh`).

PyVista, Open3D and Plotly are imported only when something is drawn with them; a missing one raises
an InputError that says what to install. `python -m core.render --help` renders from the command line.
"""

from core.render.mesh import FaceMesh, exposed_faces, shaded_face_colors
from core.render.pipeline import render_frames, render_video, side_by_side
from core.render.plotly_figure import frame_figure

__all__ = [
    "FaceMesh", "exposed_faces", "frame_figure", "render_frames", "render_video", "shaded_face_colors",
    "side_by_side",
]
