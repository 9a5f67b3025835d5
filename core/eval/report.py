"""`python -m core.eval report --out report/ [--quick]`: every figure of issue 6 in one Markdown report.

Sections: reconstruction, sample quality (scene distances with their real-vs-real floors), condition
adherence, inpainting, long scenes, temporal consistency, the sampler study; plus PNG plots and a grid
of rendered samples. Each section is measured by `core.eval.suite` and written here; `--quick` runs
every section on small sets in a few minutes on 2 cores, the full mode on sets large enough to trust.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from core.api import GUIDE
from core.checkpoint import bundle_hash, read_bundle_meta
from core.data.palette import PALETTE
from core.eval import adherence, distances, suite
from core.eval.plots import plot_per_class, plot_sampler_study, sample_grid
from core.eval.recon import evaluate_reconstruction, reconstruct
from core.types import Conditions, SamplerSettings, SceneService

DEFAULT = SamplerSettings()
COMMAND_ALONE = "command only, no path (the command embedding alone)"
UNCONDITIONAL = "unconditional (a drawn drive: the default)"
MODEL_ALONE = "unconditional, the model alone"
REQUESTED = "real: the requests' own scenes"
RECONSTRUCTED = "real, through the VAE (encode, decode): the ceiling"


@dataclass
class Report:
    """Markdown lines and the raw numbers (written as report.json next to the Markdown)."""

    out: Path
    lines: list[str]
    numbers: dict

    def section(self, title: str, *lines: str) -> None:
        self.lines += ["", f"## {title}", "", *lines]

    def table(self, header: list[str], rows: list[list]) -> None:
        self.lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        self.lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _quality_row(name: str, measured: dict) -> list:
    return [name, measured["volume_fsd"], measured["bird_eye_fsd"], measured["volume_ksd"], measured["precision"], measured["recall"]]


QUALITY_HEADER = ["set", "FSD (3D) [95 % interval]", "FSD (bird's-eye)", "KSD ×100", "precision [95 % interval]",
                  "recall [95 % interval]"]


def write_reconstruction(report: Report, vae, size: suite.ReportSize, grid) -> None:
    clips = [c.scene for c in suite.real_clips(grid, 0, size.recon)]
    measured = evaluate_reconstruction(vae, clips)
    report.section("Reconstruction (VAE)", f"{size.recon} procedural test clips (seeds as `python -m core.eval recon`), "
                   f"compression ratio {vae.config.compression_ratio:.2f}.")
    report.table(["class", "IoU %"], [[PALETTE.names[c], 100 * v] for c, v in measured.per_class.items()]
                 + [["**mIoU**", 100 * measured.miou], ["binary IoU", 100 * measured.binary_iou]])
    plot_per_class(measured.per_class, report.out / "reconstruction_per_class.png", "VAE reconstruction IoU per class")
    report.lines.append("\n![per-class IoU](reconstruction_per_class.png)")
    report.numbers["reconstruction"] = {"miou": measured.miou, "per_class": {PALETTE.names[c]: v for c, v in measured.per_class.items()}}


def _floor_row(measured: list[dict]) -> tuple[list, dict]:
    """The real-vs-real row over several disjoint real sets: the mean of each measure (the Fréchet ones
    with their range over the sets), and its plain numbers."""
    def fsd(key: str) -> str:
        values = [m[key].value for m in measured]
        return f"{np.mean(values):.3f} ({min(values):.3f}–{max(values):.3f} over {len(values)} sets)"

    mean = {key: float(np.mean([suite.plain(m)[key] for m in measured])) for key in suite.plain(measured[0])}
    row = [f"real vs real (floor: mean of {len(measured)} disjoint real sets)", fsd("volume_fsd"), fsd("bird_eye_fsd"),
           mean["volume_ksd"], mean["precision"], mean["recall"]]
    return row, {**mean, "volume_fsd_per_set": [m["volume_fsd"].value for m in measured]}


def write_quality(report: Report, service: SceneService, vae, space: suite.FeatureSpace, size: suite.ReportSize,
                  grid) -> dict:
    """Unconditional and conditional sets against the floor; returns the generated sets for later sections.

    The floor is the mean over `size.floor_sets` disjoint real sets (one set's distance varies by a
    factor of two between sets). The requests' own real scenes and their VAE reconstructions (encode,
    decode) show how close generation through this VAE can come at best."""
    floors = [suite.real_clips(grid, suite.FLOOR + k * size.generated, size.generated) for k in range(size.floor_sets)]
    floor_clips = floors[0]
    asked = suite.real_clips(grid, suite.CONDITIONS, size.generated)
    commands = [suite.conditions_of(c, trajectory=False, layout=False) for c in asked]
    nothing = size.generated * size.nothing_sets  # the first `size.generated` of them are in the main table
    sets = {
        UNCONDITIONAL: [Conditions()] * nothing,
        MODEL_ALONE: [Conditions()] * nothing,
        "command + trajectory + layout": [suite.conditions_of(c) for c in asked],
        "command only": commands,
        COMMAND_ALONE: commands,
        "layout only": [suite.conditions_of(c, command=False, trajectory=False) for c in asked],
    }
    sets = {name: suite.generate_set(service, wanted, DEFAULT, frames=grid.frames,
                                     command_path=name not in (COMMAND_ALONE, MODEL_ALONE))
            for name, wanted in sets.items()}
    every = {name: sets[name] for name in (UNCONDITIONAL, MODEL_ALONE)}
    sets.update({name: replace(made, scenes=made.scenes[:size.generated]) for name, made in every.items()})
    floor_row, floor = _floor_row([space.compare([c.scene.labels for c in clips]) for clips in floors])
    rows, numbers = [floor_row], {"floor": floor}
    truth = [c.scene.labels for c in asked]
    for name, scenes in ((REQUESTED, truth), (RECONSTRUCTED, reconstruct(vae, truth))):
        measured = space.compare(scenes)
        rows.append(_quality_row(name, measured))
        numbers[name] = suite.plain(measured)
    for name, generated in sets.items():
        measured = space.compare([s.labels for s in generated.scenes])
        rows.append(_quality_row(name, measured))
        numbers[name] = {**suite.plain(measured), "seconds_per_scene": generated.seconds_per_scene}
    report.section("Sample quality", f"Scene distances of {size.generated} scenes per set to {size.reference} real "
                   f"procedural test scenes. The floor is the mean over {size.floor_sets} disjoint sets of "
                   f"{size.generated} other real scenes: the Fréchet estimate grows as sets shrink, so compare a set "
                   "with the floor of the same run, and it varies between real sets, hence the mean. The requests' "
                   "own real scenes, and the VAE's reconstructions of them, bound what generation through this VAE "
                   f"can reach. Default sampler: {suite.describe(DEFAULT)}. {_guidance_note(sets[MODEL_ALONE])}")
    report.table(QUALITY_HEADER, rows)

    def ratio(name: str) -> float:
        return numbers[name]["volume_fsd"] / max(numbers["floor"]["volume_fsd"], 1e-9)

    report.lines.append(f"\nConditional FSD / floor: **{ratio('command + trajectory + layout'):.2f}×** (target ≤ 2×); "
                        f"the VAE's reconstructions of the same scenes: {ratio(RECONSTRUCTED):.2f}×.")
    report.numbers["quality"] = numbers
    _write_nothing(report, space, every, size)
    return {"sets": sets, "asked": asked, "floor": floor_clips}


def _write_nothing(report: Report, space: suite.FeatureSpace, every: dict[str, suite.GeneratedSet],
                   size: suite.ReportSize) -> None:
    """Precision of the requests with nothing over `size.nothing_sets` disjoint sets of requests: with
    no condition every scene is a fresh draw, and one set's precision moves by about a tenth between sets
    of 64, so its target is read over all of them. Per set the recall too (comparable with the table, set for
    set), and for the drawn drive the precision per drawn command."""
    rows, numbers = [], {}
    for name, made in every.items():
        scenes = [s.labels for s in made.scenes]
        pooled = space.compare(scenes)["precision"]
        parts = [space.compare(scenes[k:k + size.generated]) for k in range(0, len(scenes), size.generated)]
        parts = [suite.plain(part) for part in parts]
        by_command = space.inside_per_command(made.scenes)
        rows.append([name, len(scenes), pooled, " / ".join(f"{p['precision']:.2f}" for p in parts),
                     " / ".join(f"{p['recall']:.2f}" for p in parts), suite.per_command_text(by_command) or "–"])
        numbers[name] = {"requests": len(scenes), "precision": pooled.value, "precision_low": pooled.low,
                         "precision_high": pooled.high, "precision_per_set": [p["precision"] for p in parts],
                         "recall_per_set": [p["recall"] for p in parts],
                         "precision_per_command": {c: float(found.mean()) for c, found in by_command.items()}}
    first, last = size.generated, size.generated * size.nothing_sets
    report.lines += ["", f"**Requests with nothing, over {last} requests** (seeds 0–{last - 1}, {size.nothing_sets} "
                     f"sets of {first}; the table above has the first set). With no condition every scene is a fresh "
                     f"draw, and a set's precision moves from set to set (the fourth column), so the precision target "
                     f"(≥ 0.7) is read over all {last}. Recall depends on the size of the generated set, so it is given "
                     f"per set of {first}, as in the table. Per command: the share of the drawn drives of that "
                     "command inside the real manifold (how many were drawn)."]
    report.table(["set", "requests", "precision [95 % interval]", f"precision, each set of {first}",
                  f"recall, each set of {first}", "precision per drawn command"], rows)
    report.numbers["nothing"] = numbers


def _guidance_note(model_alone: suite.GeneratedSet) -> str:
    """How the requests were guided: classifier-free, and those given to the model with nothing by the
    guide model when the checkpoints hold one (core.pipeline), read from the scenes' recipes."""
    drawn = ("A request without conditions draws a command at the procedural city's frequencies and drives a "
             "typical path of it (the app's and the CLI's default), so it is guided like the others; ")
    recipes = [scene.metadata.get("recipe", {}) for scene in model_alone.scenes]
    if recipes and all(GUIDE in recipe.get("checkpoints", {}) for recipe in recipes):
        return ("The sets with conditions are guided classifier-free. " + drawn + "the model alone, with nothing "
                "to guide towards that way, is guided by autoguidance with the DiT's guide model (an earlier state "
                "of its training).")
    return "The sets with conditions are guided classifier-free. " + drawn + "the model alone is not guided."


def write_adherence(report: Report, generated: dict) -> None:
    sets, asked = generated["sets"], generated["asked"]
    rows, numbers = [], {}
    keys = ("layout_iou", "final_error_m", "heading_error_deg", "command_accuracy", "on_road", "collisions")
    for name, layout, trajectory, command in (("command + trajectory + layout", True, True, True),
                                              ("command only", False, False, True), (COMMAND_ALONE, False, False, True),
                                              ("layout only", True, False, False)):
        measured = suite.adherence_summary(sets[name].scenes, asked, layout=layout, trajectory=trajectory, command=command)
        numbers[name] = measured
        rows.append([name, *(measured.get(key, "–") for key in keys)])
    truth = suite.adherence_summary([c.scene for c in asked], asked, layout=True, trajectory=True, command=True)
    rows.insert(0, ["real scenes (the metric's own error)", *(truth[key] for key in keys)])
    report.section("Condition adherence", "Layout: bird's-eye IoU of the drawn layout and the generated frame 0 (mean over "
                   "drawn classes). Trajectory: the ego car tracked in the generated scene vs the requested path "
                   "(median final position error over 16 frames). Command: derived from the tracked motion. A command "
                   "without a path or layout is driven along a typical path of that command (the app's and the "
                   "CLI's default); the model's command embedding alone is the row below it.")
    report.table(["set", "layout IoU", "final error m", "heading error °", "command accuracy", "on road", "collisions"], rows)
    report.numbers["adherence"] = {"truth": truth, **numbers}


def write_inpainting(report: Report, service: SceneService, space: suite.FeatureSpace, size: suite.ReportSize, grid) -> None:
    sources = suite.real_clips(grid, suite.INPAINT, size.inpaint)
    results, kept, seams, source_seams = [], [], [], []
    for index, clip in enumerate(sources):
        mask = suite.inpaint_mask(grid, index)
        result = service.inpaint(clip.scene, mask, SamplerSettings(seed=index))
        results.append(result)
        kept.append(adherence.outside_unchanged(clip.scene, result, mask))
        seams.append(adherence.seam_continuity(result, mask))
        source_seams.append(adherence.seam_continuity(clip.scene, mask))
    measured = space.compare([r.labels for r in results])
    report.section("Inpainting", f"{size.inpaint} real scenes, a rectangle of 15–35 % of the grid regenerated in each.")
    report.table(["outside the mask unchanged", "seam continuity (result)", "seam continuity (source)", "FSD (3D)", "KSD ×100"],
                 [[f"{100 * min(kept):.2f} % (worst scene)", float(np.mean(seams)), float(np.mean(source_seams)),
                   measured["volume_fsd"], measured["volume_ksd"]]])
    report.numbers["inpainting"] = {"outside_unchanged_min": min(kept), "seam": float(np.mean(seams)),
                                    "seam_source": float(np.mean(source_seams)), **suite.plain(measured)}


def write_long_scenes(report: Report, service: SceneService, space: suite.FeatureSpace, size: suite.ReportSize, grid) -> None:
    asked = suite.real_clips(grid, suite.CONDITIONS, size.long_scenes)
    rows, numbers = [], {}
    for frames in size.long_frames:
        generated = suite.generate_set(service, [suite.conditions_of(c, trajectory=False, layout=False) for c in asked], DEFAULT,
                                       frames=frames)
        per_clip = list(zip(*[suite.clips_of(s, grid.frames) for s in generated.scenes]))
        for index, clips in enumerate(per_clip):
            measured = space.compare(list(clips))
            rows.append([f"{frames} frames", index + 1, measured["volume_fsd"], measured["volume_ksd"]])
            numbers[f"{frames}/{index + 1}"] = suite.plain(measured)
    report.section("Long scenes", f"{size.long_scenes} scenes per length, extended clip by clip; distances per clip index "
                   "(drift shows as growth along the scene).")
    report.table(["length", "clip", "FSD (3D)", "KSD ×100"], rows)
    report.numbers["long"] = numbers


def write_temporal(report: Report, generated: dict) -> None:
    rows, numbers = [], {}
    for name, scenes in (("real", [c.scene for c in generated["floor"]]),
                         ("generated (command + trajectory + layout)", generated["sets"]["command + trajectory + layout"].scenes),
                         ("generated (unconditional: a drawn drive)", generated["sets"][UNCONDITIONAL].scenes),
                         ("generated (unconditional: the model alone)", generated["sets"][MODEL_ALONE].scenes)):
        measured = suite.temporal_summary(scenes)
        numbers[name] = measured
        rows.append([name, 100 * measured["flicker"], measured["vehicle_acceleration"], measured["track_breaks"],
                     100 * measured["vehicle_debris"]])
    report.section("Temporal consistency", "Flicker: % of static-class voxels that change between frames. Vehicle tracks: "
                   "mean acceleration along tracks (m/s², blob centres quantised to 0.8 m) and breaks per track. "
                   f"Vehicle debris: % of the vehicle blobs seen from above smaller than a car ({adherence.MIN_CAR_CELLS} cells).")
    report.table(["scenes", "flicker %", "vehicle acceleration", "track breaks", "vehicle debris %"], rows)
    report.numbers["temporal"] = numbers


STUDIED_SAMPLERS = ("dpm++", "dpm++sde", "ddim")
"""Few-step samplers of the sampler study, each at 10, 25 and 50 steps (and DDPM as the reference)."""
TARGET_RATIO = 1.05
"""The default sampler's scene distance may be at most this times the reference DDPM's."""


def write_sampler_study(report: Report, service: SceneService, space: suite.FeatureSpace, size: suite.ReportSize, grid) -> None:
    clips = suite.real_clips(grid, suite.CONDITIONS, size.sampler_scenes)
    asked = [suite.conditions_of(c) for c in clips]
    configs = [SamplerSettings(sampler, steps) for sampler in STUDIED_SAMPLERS for steps in (10, 25, 50)]
    configs += [replace(DEFAULT, guidance_scale=scale) for scale in (1.0, 2.0, 3.0, 4.0, 6.0) if scale != DEFAULT.guidance_scale]
    configs += [replace(DEFAULT, guidance_from=start) for start in (None, 700, 500, 300) if start != DEFAULT.guidance_from]
    reference = SamplerSettings("ddpm", size.reference_steps)
    measured_by, labels_by = {}, {}
    for settings in [DEFAULT, reference, *(c for c in configs if c != DEFAULT)]:  # the default first: each is compared to it
        generated = suite.generate_set(service, asked, settings, frames=grid.frames)
        labels = [s.labels for s in generated.scenes]
        if settings in (reference, DEFAULT):
            labels_by[settings] = labels
        over_default = space.fsd_ratio(labels, labels_by[DEFAULT])
        measured_by[settings] = {"sampler": settings.sampler, "steps": settings.steps, "guidance": settings.guidance_scale,
                                 "guidance_from": settings.guidance_from, "seconds": generated.seconds_per_scene,
                                 **suite.plain(space.compare(labels)),
                                 **suite.adherence_summary(generated.scenes, clips, layout=True, trajectory=True, command=True),
                                 "over_default": asdict(over_default)}
    results = [measured_by[settings] for settings in [reference, *configs]]
    plot_sampler_study(results, report.out / "sampler_study.png", DEFAULT, STUDIED_SAMPLERS)
    default = measured_by[DEFAULT]
    ratio = space.fsd_ratio(labels_by[DEFAULT], labels_by[reference])
    report.section("Sampler study", f"The same {size.sampler_scenes} conditional requests (command + trajectory + layout) "
                   f"and seeds for every sampler: quality and adherence (layout IoU, median final error of the ego "
                   f"car, command accuracy). The default is {suite.describe(DEFAULT)}. Guidance from t: guidance only "
                   "at timesteps ≤ t (of 1000, counted down), the conditional prediction alone "
                   "before. FSD / default: the setting's FSD over the default's, with the paired 95 % interval over "
                   "the requests; a setting is better or worse than the default only where its interval leaves out 1.")
    report.table(["sampler", "steps", "guidance", "guidance from t", "s / scene", "FSD (3D)", "FSD / default [95 %]", "KSD ×100",
                  "precision", "recall", "layout IoU", "final error m", "command accuracy"],
                 [[r["sampler"], r["steps"], r["guidance"], "every step" if r["guidance_from"] is None else r["guidance_from"],
                   r["seconds"], r["volume_fsd"], distances.Estimate(**r["over_default"]), r["volume_ksd"], r["precision"],
                   r["recall"], r["layout_iou"], r["final_error_m"], r["command_accuracy"]] for r in results])
    caveat = ("" if size.sampler_scenes >= size.generated else
              f" With {size.sampler_scenes} requests (the sets above have {size.generated}) the Fréchet estimate "
              "moves with the choice of requests by more than the differences between most settings here: rank "
              f"settings on {size.generated} (`--sampler-scenes {size.generated}`, or `bench/sampler_settings.py "
              f"--requests {size.generated}` without DDPM).")
    verdict = ("inside the target" if ratio.high <= TARGET_RATIO else "outside the target" if ratio.low > TARGET_RATIO
               else f"the interval holds {TARGET_RATIO}: these requests cannot tell whether the target is met")
    report.lines.append(f"\nDefault FSD / DDPM-{size.reference_steps} FSD: **{ratio.value:.3f}** [{ratio.low:.3f}, "
                        f"{ratio.high:.3f}] (target ≤ {TARGET_RATIO}; the interval over subsets of the requests, the "
                        f"same requests for both samplers: {verdict}), at {default['seconds']:.1f} s against "
                        f"{results[0]['seconds']:.1f} s per scene.{caveat}\n\n![sampler study](sampler_study.png)")
    report.numbers["sampler_study"] = results
    report.numbers["default_over_reference"] = asdict(ratio)


MEASURED_BUNDLES = ("vae_cpu", "dit_cpu", f"{GUIDE}_cpu", "scene_features")
"""The bundles of a checkpoints folder a report measures with, in the order its Models table lists them."""


def write_models(report: Report, checkpoints: Path) -> None:
    """Which bundles were measured (hash as in the recipes) and what their training took, from their notes."""
    models = {}
    for name in MEASURED_BUNDLES:
        if (checkpoints / name / "config.json").is_file():
            meta = read_bundle_meta(checkpoints / name)
            notes = meta.get("notes", {})
            models[name] = {"kind": meta["kind"], "hash": bundle_hash(checkpoints / name), "steps": notes.get("steps"),
                            "train_minutes": notes.get("train_minutes")}
    report.section("Models", "The bundles measured here (hashes as in the scenes' recipes) and their training on "
                   "2 CPU cores. How each was trained, every change made to reach the figures below and the "
                   "attempts not kept: [checkpoints/README.md](../checkpoints/README.md).")
    report.table(["bundle", "kind", "hash", "training steps", "training CPU-minutes"],
                 [[name, m["kind"], f"`{m['hash']}`", "–" if m["steps"] is None else f"{m['steps']:,}",
                   "–" if m["train_minutes"] is None else f"{m['train_minutes']:,.0f}"] for name, m in models.items()])
    report.numbers["models"] = models


def build_report(service: SceneService, vae, network, out: Path, *, quick: bool, sampler_scenes: int | None = None,
                 checkpoints: Path | None = None) -> Path:
    size = suite.SIZES["quick" if quick else "full"]
    if sampler_scenes is not None:
        size = replace(size, sampler_scenes=sampler_scenes)
    grid = vae.config.grid()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = Report(out, [f"# DynamicCity Studio evaluation ({'quick' if quick else 'full'} mode)", "",
                          "Regenerate with `python -m core.eval report --out report/" + (" --quick" if quick else "")
                          + ("" if sampler_scenes is None else f" --sampler-scenes {sampler_scenes}") + "`."], {})
    if checkpoints is not None:
        write_models(report, checkpoints)
    space = suite.FeatureSpace(network, [c.scene.labels for c in suite.real_clips(grid, suite.REFERENCE, size.reference)], size.rounds)
    stages = [
        ("reconstruction", lambda: write_reconstruction(report, vae, size, grid)),
        ("sample quality", lambda: generated.update(write_quality(report, service, vae, space, size, grid))),
        ("condition adherence", lambda: write_adherence(report, generated)),
        ("inpainting", lambda: write_inpainting(report, service, space, size, grid)),
        ("long scenes", lambda: write_long_scenes(report, service, space, size, grid)),
        ("temporal consistency", lambda: write_temporal(report, generated)),
        ("sampler study", lambda: write_sampler_study(report, service, space, size, grid)),
        ("samples", lambda: sample_grid({name: s.scenes[:4] for name, s in generated["sets"].items()}, out / "samples.png")),
    ]
    generated: dict = {}
    for index, (name, stage) in enumerate(stages, start=1):
        print(f"[{index}/{len(stages)}] {name} ({(time.perf_counter() - started) / 60:.1f} min so far)", flush=True)
        stage()
    report.section("Samples", "Frame 0 and frame 15 of the first scenes of each set (chase camera).", "![samples](samples.png)")
    reused, decoded = getattr(service, "read_back", 0), getattr(service, "decoded", 0)  # core.eval.kept
    counts = []
    if reused:
        counts.append(f"{reused} generated scenes read back")
    if decoded:
        counts.append(f"{decoded} decoded from their kept samples")
    kept = f", {' and '.join(counts)} from the kept folder (core.eval.kept)" if counts else ""
    report.lines.append(f"\n_Measured in {(time.perf_counter() - started) / 60:.1f} min{kept}._")
    (out / "README.md").write_text("\n".join(report.lines) + "\n")
    (out / "report.json").write_text(json.dumps(report.numbers, indent=1, default=float))
    return out / "README.md"
