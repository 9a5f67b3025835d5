"""How far a VAE's learned Projection Module is from average pooling, plane by plane.

    python bench/projection_attention.py [--vae DIR ...] [--clips 4] [--convention anchored|ego]

Each plane's projection attends, per output cell and head, over the R positions of the axes the plane
collapses (`AttentionProjection.attention`). Average pooling gives every position the weight 1/R. Printed
per plane and VAE, over held-out procedural clips: the effective number of positions attended to
(exp of the weights' entropy, R for a mean; averaged over cells and heads) and the mean largest weight
(1/R for a mean).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.checkpoint import load_bundle  # noqa: E402
from core.models.blocks import collapse  # noqa: E402
from core.models.hexplane import PLANES  # noqa: E402
from core.models.vae import HexPlaneVAE  # noqa: E402
from core.train.clips import make_clip_source  # noqa: E402
from core.types import OccupancySequence  # noqa: E402

DEFAULT_VAE = Path(__file__).resolve().parents[1] / "checkpoints" / "vae_cpu"


@torch.no_grad()
def attention_spread(vae: HexPlaneVAE, clips: list[OccupancySequence]) -> dict[str, dict[str, float]]:
    """Per plane: collapsed positions R, effective positions attended to, and the mean largest weight."""
    if vae.config.projection != "attention":
        raise ValueError(f"this VAE pools with projection={vae.config.projection!r}; it has no learned projection to measure")
    sums = {name: np.zeros(2) for name in PLANES}
    for clip in clips:
        volume = vae.encoder(torch.from_numpy(clip.labels.astype(np.int64))[None])
        for name in PLANES:
            weights, _ = vae.projection.project[name].attention(collapse(volume, name)[0])  # (N, h, R)
            entropy = -(weights * weights.clamp_min(1e-12).log()).sum(dim=-1)
            sums[name] += [entropy.exp().mean().item(), weights.amax(dim=-1).mean().item()]
    return {name: {"positions": float(vae.projection.project[name].position.shape[0]),
                   "effective": sums[name][0] / len(clips), "largest": sums[name][1] / len(clips)}
            for name in PLANES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae", nargs="+", default=[str(DEFAULT_VAE)], help="VAE bundle folders (default: the shipped one)")
    parser.add_argument("--clips", type=int, default=4, help="held-out procedural clips to average over")
    parser.add_argument("--convention", choices=["anchored", "ego"], default="anchored")
    args = parser.parse_args()
    print(f"command: python bench/projection_attention.py --vae {' '.join(args.vae)} --clips {args.clips} "
          f"--convention {args.convention}")
    spreads = {}
    for folder in args.vae:
        vae = load_bundle(folder, kind="hexplane-vae").float().eval()
        clips = make_clip_source("procedural", vae.config, convention=args.convention).eval_clips(args.clips)
        try:
            spreads[folder] = attention_spread(vae, clips)
        except ValueError as error:
            parser.error(f"{folder}: {error}")
    for folder, spread in spreads.items():
        print(f"\n{folder}\n{'plane':6} {'R':>6} {'effective':>10} {'largest':>8} {'1/R':>7}")
        for name, s in spread.items():
            print(f"{name:6} {s['positions']:6.0f} {s['effective']:10.1f} {s['largest']:8.3f} {1 / s['positions']:7.4f}")


if __name__ == "__main__":
    main()
