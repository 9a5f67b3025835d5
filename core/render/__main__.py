"""Command line: render a scene to a video, or inspect it in a desktop window.

    python -m core.render PATH --out video.mp4 [--camera chase|bev|orbit] [--backend pyvista|open3d]
    python -m core.render PATH --window

PATH is a scene .npz, a CarlaSC scene folder or an Occ3D scene folder (`core.data.sources.open_scene`).
Bad input prints one line naming the problem on stderr and exits with status 2, without a traceback.
A progress bar appears on stderr only when rendering takes more than a moment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from core.types import CAMERA_PRESETS, InputError, ProgressEvent, RenderSettings

PROG = "python -m core.render"
EXIT_BAD_INPUT = 2
PROGRESS_DELAY_SECONDS = 1.0


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {PROG} --help)")


def fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Render a 4D occupancy scene to a video or show it in a window.")
    parser.add_argument("path", help="scene .npz, CarlaSC scene folder or Occ3D scene folder")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", help="output video, .mp4 or .gif")
    target.add_argument("--window", action="store_true", help="open a desktop window with a frame slider")
    parser.add_argument("--camera", choices=CAMERA_PRESETS, default="chase", help="camera preset (default chase)")
    parser.add_argument("--backend", choices=("pyvista", "open3d"), default="pyvista",
                        help="renderer (default pyvista)")
    parser.add_argument("--width", type=int, default=640, help="video width in pixels (default 640)")
    parser.add_argument("--height", type=int, default=480, help="video height in pixels (default 480)")
    parser.add_argument("--fps", type=int, default=8, help="video frames per second (default 8)")
    parser.add_argument("--no-legend", action="store_true", help="leave the class legend out of the video")
    # For tests: play the clip in the window and close it after this many seconds.
    parser.add_argument("--window-seconds", type=float, default=None, help=argparse.SUPPRESS)
    return parser


def _progress_bar(total: int) -> tuple[Any, Any]:
    """A tqdm bar that stays hidden unless rendering lasts, and the callback that advances it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc="rendering", unit="frame", delay=PROGRESS_DELAY_SECONDS, file=sys.stderr, leave=False)

    def on_progress(event: ProgressEvent) -> None:
        bar.update(event.step - bar.n)

    return bar, on_progress


def render_to_file(args: argparse.Namespace, scene: Any) -> None:
    from core.render.pipeline import render_video

    settings = RenderSettings(
        camera=args.camera, width=args.width, height=args.height, fps=args.fps,
        backend=args.backend, legend=not args.no_legend,
    )
    bar, on_progress = _progress_bar(scene.num_frames)
    with bar:
        path = render_video(scene, args.out, settings, on_progress)
    print(path)


def show_window(args: argparse.Namespace, scene: Any) -> None:
    from core.render.window import run_window

    shown = run_window(scene, camera=args.camera, auto_close_seconds=args.window_seconds)
    if args.window_seconds is not None:
        print(f"window closed after {shown} frame updates")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from core.data.sources import open_scene

        scene = open_scene(args.path)
        if args.window:
            show_window(args, scene)
        else:
            render_to_file(args, scene)
    except InputError as error:
        fail(str(error))
    except OSError as error:
        fail(f"{error.strerror or error}: {error.filename or args.path}")
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
