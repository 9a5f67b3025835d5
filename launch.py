"""Launch DynamicCity Studio: build the scene service once, hand it to the Gradio app, serve it.

    python launch.py [--host 127.0.0.1] [--port N] [--checkpoints DIR] [--device cpu|cuda] [--data FOLDER ...] [--share]

Binds to 127.0.0.1 and a free port unless told otherwise; `--share` opts in to a public link.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="DynamicCity Studio: author and inspect 4D occupancy scenes")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument("--data", nargs="*", default=[], help="CarlaSC / Occ3D scene folders to offer in the app")
    parser.add_argument("--checkpoints", default=None, help="folder with the vae_cpu/ and dit_cpu/ bundles, optionally dit_guide_cpu/ (default: shipped)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the GPU when present)")
    parser.add_argument("--share", action="store_true", help="also create a public Gradio share link")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [p for p in args.data if not Path(p).is_dir()]
    if missing:
        print(f"error: --data folder not found: {missing[0]}", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from app import build_demo
    from app.handlers import SESSIONS_ROOT
    from core.api import SceneGenerator

    options = {"checkpoints": args.checkpoints} if args.checkpoints else {}
    demo = build_demo(SceneGenerator(dataset_paths=args.data, device=args.device, **options))
    demo.queue(default_concurrency_limit=1, max_size=16)
    SESSIONS_ROOT.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port(args.host)
    demo.launch(
        server_name=args.host, server_port=port, share=args.share, inbrowser=not args.no_browser,
        allowed_paths=[str(SESSIONS_ROOT)], footer_links=[],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
