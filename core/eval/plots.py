"""PNG figures of the evaluation report (matplotlib, headless): per-class bars, the sampler study, samples."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from core.data.palette import PALETTE  # noqa: E402
from core.types import OccupancySequence, RenderSettings, SamplerSettings  # noqa: E402


def plot_per_class(per_class: dict[int, float], path: Path, title: str) -> Path:
    names = [PALETTE.names[c] for c in per_class]
    colors = [np.asarray(PALETTE.colors[c]) / 255 for c in per_class]
    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=110)
    axes.bar(names, [100 * v for v in per_class.values()], color=colors, edgecolor="black", linewidth=0.5)
    axes.set_ylabel("IoU %")
    axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_sampler_study(results: list[dict], path: Path, default: SamplerSettings, samplers: Sequence[str]) -> Path:
    """Scene distance against seconds per scene, one line per sampler of `samplers` (over its step
    counts) at the `default` guidance scale and start; the default sampler and steps at other guidance
    scales and starts as separate points."""
    figure, axes = plt.subplots(figsize=(7, 3.6), dpi=110)
    usual = [r for r in results if r["guidance_from"] == default.guidance_from]
    for sampler, marker in zip(samplers, itertools.cycle("osD^v")):
        rows = sorted((r for r in usual if r["sampler"] == sampler and r["guidance"] == default.guidance_scale), key=lambda r: r["steps"])
        axes.plot([r["seconds"] for r in rows], [r["volume_fsd"] for r in rows], marker=marker,
                  label=f"{sampler} (guidance {default.guidance_scale:g})")
        for r in rows:
            axes.annotate(str(r["steps"]), (r["seconds"], r["volume_fsd"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    name = f"{default.sampler} {default.steps}"
    guided = [r for r in usual if r["sampler"] == default.sampler and r["steps"] == default.steps]
    axes.scatter([r["seconds"] for r in guided], [r["volume_fsd"] for r in guided], marker="x", color="black", label=f"{name}, guidance")
    for r in guided:
        axes.annotate(f"g{r['guidance']:g}", (r["seconds"], r["volume_fsd"]), textcoords="offset points", xytext=(4, -10), fontsize=8)
    starts = [r for r in results if r["guidance_from"] != default.guidance_from]
    axes.scatter([r["seconds"] for r in starts], [r["volume_fsd"] for r in starts], marker="+", color="tab:red",
                 label=f"{name}, guidance {default.guidance_scale:g} from t")
    for r in starts:
        axes.annotate(f"t≤{r['guidance_from']}", (r["seconds"], r["volume_fsd"]), textcoords="offset points", xytext=(4, 4),
                      fontsize=8, color="tab:red")
    ddpm = [r for r in results if r["sampler"] == "ddpm"]
    for r in ddpm:
        axes.axhline(r["volume_fsd"], color="grey", linestyle="--", linewidth=1)
        axes.annotate(f"DDPM-{r['steps']} ({r['seconds']:.0f} s)", (axes.get_xlim()[0], r["volume_fsd"]), fontsize=8, color="grey")
    axes.set_xlabel("seconds per scene (2 CPU cores)")
    axes.set_ylabel("FSD (3D), lower is better")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def sample_grid(sets: dict[str, list[OccupancySequence]], path: Path, *, frames: tuple[int, int] = (0, -1)) -> Path:
    """One row per set: for each scene, two rendered frames (chase camera) side by side."""
    from core.render import render_frames

    settings = RenderSettings(camera="chase", width=240, height=180, legend=False)
    rows = []
    for name, scenes in sets.items():
        tiles = []
        for scene in scenes:
            rendered = render_frames(scene, settings)
            tiles += [rendered[frames[0]], rendered[frames[1]], np.full((180, 6, 3), 255, np.uint8)]
        row = np.concatenate(tiles, axis=1)
        label = Image.new("RGB", (row.shape[1], 22), "white")
        ImageDraw.Draw(label).text((6, 4), name, fill="black")
        rows += [np.asarray(label), row]
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(padded, axis=0)).save(path)
    return path
