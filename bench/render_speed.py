"""Rendering speed: a 16-frame cpu-preset scene to a 640×480 mp4, exposed faces against cube glyphs.

    python bench/render_speed.py [--seed 3] [--repeats 3]

Target (DESIGN §5): ≤ 1.5 s for the whole job with PyVista. Printed side by side:

- "cold": the first job in a fresh process, including importing PyVista / VTK (or Open3D) and creating
  the EGL context, as a CLI run pays it;
- "warm": later jobs in the same process (median), as the app pays it after its first video;
- the baseline: the same frames done the naive way, one cube glyph per occupied voxel, rendered by
  PyVista with its defaults (lights on, multisampling on), same camera, same encoder.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core.data.palette import PALETTE  # noqa: E402
from core.render import render_frames, render_video  # noqa: E402
from core.render.camera import camera_views  # noqa: E402
from core.render.mesh import exposed_faces  # noqa: E402
from core.render.video import write_video  # noqa: E402
from core.types import GridSpec, OccupancySequence, RenderSettings  # noqa: E402

TARGET_SECONDS = 1.5


def bench_scene(seed: int) -> OccupancySequence:
    """A procedural cpu-preset clip with the ego turning left through a junction."""
    from core.data.procedural import generate_clip

    return generate_clip(seed, grid=GridSpec.preset("cpu"), command="left").scene


def timed(job) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def glyph_frame(pv, plotter, labels: np.ndarray, grid: GridSpec) -> None:
    """Replace the plotter's scene by one coloured cube glyph per occupied voxel."""
    occupied = np.argwhere(labels > 0)
    centres = np.asarray(grid.origin) + (occupied + 0.5) * np.asarray(grid.voxel_size)
    points = pv.PolyData(centres)
    points.point_data["rgb"] = PALETTE.colors[labels[labels > 0]]
    cube = pv.Cube(x_length=grid.voxel_size[0], y_length=grid.voxel_size[1], z_length=grid.voxel_size[2])
    cubes = points.glyph(geom=cube, orient=False, scale=False)
    plotter.add_mesh(cubes, scalars="rgb", rgb=True, name="scene")


def glyph_job(scene: OccupancySequence, path: Path, settings: RenderSettings) -> None:
    from core.render.backends import import_pyvista

    pv = import_pyvista()
    plotter = pv.Plotter(off_screen=True, window_size=(settings.width, settings.height))
    frames = []
    for labels, view in zip(scene.labels, camera_views(scene, settings.camera, settings.width / settings.height)):
        glyph_frame(pv, plotter, labels, scene.grid)
        plotter.camera_position = [view.position, view.focal_point, view.up]
        plotter.camera.view_angle = view.view_angle
        frames.append(plotter.screenshot(return_img=True)[..., :3])
    plotter.close()
    write_video(frames, path, settings.fps)


def backend_times(scene: OccupancySequence, backend: str, folder: Path, repeats: int) -> tuple[float, float]:
    settings = RenderSettings(camera="chase", width=640, height=480, backend=backend)
    path = folder / f"{backend}.mp4"
    cold = timed(lambda: render_video(scene, path, settings))
    warm = statistics.median(timed(lambda: render_video(scene, path, settings)) for _ in range(repeats))
    return cold, warm


def warm_breakdown(scene: OccupancySequence, folder: Path) -> tuple[float, float]:
    """Seconds spent drawing the 16 frames and encoding them, in a warm PyVista job."""
    settings = RenderSettings(camera="chase")
    frames: list[np.ndarray] = []
    drawing = timed(lambda: frames.extend(render_frames(scene, settings)))
    return drawing, timed(lambda: write_video(frames, folder / "split.mp4", settings.fps))


def meshing_ms(scene: OccupancySequence) -> float:
    seconds = timed(lambda: [exposed_faces(frame, scene.grid) for frame in scene.labels])
    return 1000 * seconds / scene.num_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scene = bench_scene(args.seed)
    faces = np.mean([exposed_faces(f, scene.grid).num_faces for f in scene.labels])
    print(f"scene: cpu preset {scene.grid.shape}, {int((scene.labels > 0).sum() / scene.num_frames)} occupied "
          f"voxels/frame, {faces:.0f} exposed faces/frame; meshing {meshing_ms(scene):.1f} ms/frame")
    with tempfile.TemporaryDirectory() as folder:
        results = {b: backend_times(scene, b, Path(folder), args.repeats) for b in ("pyvista", "open3d")}
        drawing, encoding = warm_breakdown(scene, Path(folder))
        glyph = timed(lambda: glyph_job(scene, Path(folder) / "glyph.mp4", RenderSettings(camera="chase")))
    print(f"\n16 frames → 640×480 mp4 (chase camera), seconds; target ≤ {TARGET_SECONDS} s")
    print(f"{'job':34} {'cold':>6} {'warm':>6} {'glyph/warm':>11}  ok")
    for backend, (cold, warm) in results.items():
        ok = "yes" if backend != "pyvista" or max(cold, warm) <= TARGET_SECONDS else "NO"
        print(f"{'exposed faces, ' + backend:34} {cold:6.2f} {warm:6.2f} {glyph / warm:10.1f}×  {ok}")
    print(f"{'cube glyph per voxel, pyvista':34} {'':>6} {glyph:6.2f} {1.0:10.1f}×")
    print(f"\nwarm pyvista job split: drawing {1000 * drawing / scene.num_frames:.1f} ms/frame "
          f"(meshing, render, read-back, legend), encoding {encoding:.2f} s")


if __name__ == "__main__":
    main()
