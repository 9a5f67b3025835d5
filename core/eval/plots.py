"""PNG figures of the evaluation report (matplotlib, headless): per-class bars, the sampler study, samples."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
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
    """Two panels. Left: scene distance (log scale) against seconds per scene, one line per sampler of
    `samplers` (over its step counts) at the `default` guidance scale and start. Right: the default sampler
    and steps at each guidance scale and start, as bars. DDPM rows are drawn as a reference line on both."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    usual = [r for r in results if r["guidance_from"] == default.guidance_from]
    offsets = itertools.cycle([(5, 3), (5, -11), (5, 9)])  # each sampler its own label offset: their points lie at the same times
    for sampler, marker, offset in zip(samplers, itertools.cycle("osD^v"), offsets):
        rows = sorted((r for r in usual if r["sampler"] == sampler and r["guidance"] == default.guidance_scale), key=lambda r: r["steps"])
        line, = left.plot([r["seconds"] for r in rows], [r["volume_fsd"] for r in rows], marker=marker,
                          label=f"{sampler} (guidance {default.guidance_scale:g})")
        for r in rows:
            left.annotate(str(r["steps"]), (r["seconds"], r["volume_fsd"]), textcoords="offset points", xytext=offset,
                          fontsize=8, color=line.get_color())
    left.set_xlabel("seconds per scene (2 CPU cores); numbers: steps")
    left.set_ylabel("FSD (3D), lower is better (log scale)")
    left.set_yscale("log")  # a sampler that fails at few steps lies far above: the rest stay apart
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    left.yaxis.set_major_formatter(plain)
    left.yaxis.set_minor_formatter(plain)
    left.tick_params(axis="y", which="minor", labelsize=7)
    left.set_title("samplers", fontsize=10)

    variants = sorted((r for r in results if r["sampler"] == default.sampler and r["steps"] == default.steps),
                      key=lambda r: (r["guidance_from"] != default.guidance_from, r["guidance"], -(r["guidance_from"] or 0)))
    names = [f"guidance {r['guidance']:g}" + ("" if r["guidance_from"] == default.guidance_from else f" from t≤{r['guidance_from']}")
             + (" (default)" if (r["guidance"], r["guidance_from"]) == (default.guidance_scale, default.guidance_from) else "")
             for r in variants]
    bars = right.barh(names, [r["volume_fsd"] for r in variants], color="tab:blue")
    right.bar_label(bars, labels=[f"{r['seconds']:.1f} s" for r in variants], fontsize=8, padding=3)
    right.invert_yaxis()
    right.tick_params(axis="y", labelsize=8)
    right.set_xlabel("FSD (3D), lower is better; labels: seconds per scene")
    right.set_title(f"{default.sampler} {default.steps} steps: guidance", fontsize=10)
    right.margins(x=0.25)

    for r in (r for r in results if r["sampler"] == "ddpm"):
        label = f"DDPM-{r['steps']} ({r['seconds']:.0f} s a scene)"
        left.axhline(r["volume_fsd"], color="grey", linestyle="--", linewidth=1, label=label)
        right.axvline(r["volume_fsd"], color="grey", linestyle="--", linewidth=1)
    left.legend(fontsize=8)
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
