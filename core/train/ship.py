"""Copy a trained bundle into `checkpoints/` in float16, with its measured figures in the notes.

    python -m core.train.ship runs/vae_cpu/best checkpoints/vae_cpu --kind hexplane-vae [--note key=value ...]
    python -m core.train.ship checkpoints/training/dit_cpu/compact.safetensors DIR --kind hexplane-dit

The source is a bundle folder, or a DiT's compact training state (`core.train.train_dit`), whose EMA
weights are shipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from core.checkpoint import load_bundle, read_bundle_meta, save_bundle
from core.cli import run_cli
from core.train.common import parse_overrides
from core.train.train_dit import compact_model
from core.types import InputError


def ship(source: str, target: str, *, kind: str, notes: dict) -> str:
    if Path(source).is_file():
        if kind != "hexplane-dit":
            raise InputError(f"{source}: a file ships only as a DiT's compact state (--kind hexplane-dit), not {kind}")
        model, trained_notes = compact_model(Path(source))
    else:
        model, trained_notes = load_bundle(source, kind=kind), read_bundle_meta(source).get("notes", {})
    merged = {**trained_notes, **notes, "shipped_from": source}
    return str(save_bundle(model, target, kind=kind, notes=merged, dtype=torch.float16))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.ship", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="bundle folder (e.g. runs/vae_cpu/best) or a DiT's compact.safetensors")
    parser.add_argument("target", help="destination bundle folder (e.g. checkpoints/vae_cpu)")
    parser.add_argument("--kind", required=True, choices=["hexplane-vae", "hexplane-dit", "scene-features"])
    parser.add_argument("--note", nargs="*", default=[], metavar="KEY=VALUE", help="extra notes (JSON values)")
    args = parser.parse_args(argv)
    return run_cli(lambda: print(f"shipped {ship(args.source, args.target, kind=args.kind, notes=parse_overrides(args.note))}"))


if __name__ == "__main__":
    sys.exit(main())
