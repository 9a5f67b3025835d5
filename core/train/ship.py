"""Copy a trained bundle into `checkpoints/` in float16, with its measured figures in the notes.

    python -m core.train.ship runs/vae_cpu/best checkpoints/vae_cpu --kind hexplane-vae [--note key=value ...]
"""

from __future__ import annotations

import argparse
import sys

import torch

from core.checkpoint import load_bundle, read_bundle_meta, save_bundle
from core.cli import run_cli
from core.train.common import parse_overrides


def ship(source: str, target: str, *, kind: str, notes: dict) -> str:
    model = load_bundle(source, kind=kind)
    merged = {**read_bundle_meta(source).get("notes", {}), **notes, "shipped_from": source}
    return str(save_bundle(model, target, kind=kind, notes=merged, dtype=torch.float16))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.ship", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="bundle folder to ship (e.g. runs/vae_cpu/best)")
    parser.add_argument("target", help="destination bundle folder (e.g. checkpoints/vae_cpu)")
    parser.add_argument("--kind", required=True, choices=["hexplane-vae", "hexplane-dit", "scene-features"])
    parser.add_argument("--note", nargs="*", default=[], metavar="KEY=VALUE", help="extra notes (JSON values)")
    args = parser.parse_args(argv)
    return run_cli(lambda: print(f"shipped {ship(args.source, args.target, kind=args.kind, notes=parse_overrides(args.note))}"))


if __name__ == "__main__":
    sys.exit(main())
