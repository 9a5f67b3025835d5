"""The report end to end on a tiny grid, with a stand-in generator that returns procedural scenes."""

import json
from dataclasses import replace

import numpy as np
import pytest

from core.checkpoint import bundle_hash, save_bundle
from core.config import FEATURE_PRESETS, VAE_PRESETS
from core.data.procedural import generate_drive
from core.eval import report as report_module, suite
from core.eval.features import SceneFeatureNet
from core.generation import recipe_for, with_command_path
from core.models.vae import HexPlaneVAE
from core.types import Conditions, OccupancySequence

VAE = HexPlaneVAE(VAE_PRESETS["tiny"])
GRID = VAE.config.grid()


class ProceduralService:
    """Generates what the procedural city makes for the requested command (a perfect model, as far as
    the procedural city goes), other scenes at guidance 6 (a setting unlike the default); inpainting takes
    the masked columns from another scene."""

    def __init__(self):
        self.requests = []

    def scene_grid(self):
        return GRID

    def generate(self, request, on_progress=None) -> OccupancySequence:
        self.requests.append(request)
        command = request.conditions.command
        if request.conditions.empty():  # a drawn drive's command, as the generator draws it
            command = with_command_path(request, GRID.frames).conditions.command
        seed = request.sampler.seed + (1000 if request.sampler.guidance_scale == 6 else 7)
        clips = generate_drive(seed, grid=GRID, command=command, clips=request.frames // GRID.frames)
        labels = np.concatenate([clip.scene.labels for clip in clips])
        recipe = recipe_for(replace(request, conditions=Conditions(command=command)), {}, drawn=request.conditions.empty())
        return OccupancySequence(labels, GRID.with_frames(request.frames), metadata={"source": "generated", "recipe": recipe})

    def inpaint(self, scene, mask, settings, *, frames=None, on_progress=None) -> OccupancySequence:
        other = generate_drive(settings.seed + 99, grid=GRID, clips=1)[0].scene.labels
        labels = scene.labels.copy()
        labels[:, mask] = other[:, mask]
        return OccupancySequence(labels, scene.grid)


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setitem(suite.SIZES, "quick", suite.ReportSize(
        reference=10, generated=5, nothing_sets=2, floor_sets=2, inpaint=2, long_scenes=4, long_frames=(8,), sampler_scenes=4, reference_steps=200,
        recon=2, rounds=3))


def test_the_report_has_every_section_and_its_figures(small, tmp_path):
    network = SceneFeatureNet(FEATURE_PRESETS["tiny"])
    service = ProceduralService()
    path = report_module.build_report(service, VAE, network, tmp_path, quick=True)
    text = path.read_text()
    nothing = [r.command_path for r in service.requests if r.conditions.empty()]
    assert sorted(nothing) == [False] * 10 + [True] * 10  # a drawn drive and the model alone, 2 sets of 5 requests each
    for title in ("Reconstruction", "Sample quality", "Condition adherence", "Inpainting", "Long scenes",
                  "Temporal consistency", "Sampler study", "Samples"):
        assert f"## {title}" in text
    for picture in ("reconstruction_per_class.png", "sampler_study.png", "samples.png"):
        assert (tmp_path / picture).stat().st_size > 1000
    numbers = json.loads((tmp_path / "report.json").read_text())
    assert numbers["inpainting"]["outside_unchanged_min"] == 1.0  # the stand-in keeps everything outside
    assert len(numbers["sampler_study"]) == 17 and numbers["sampler_study"][0]["steps"] == 200  # reference + 9 + 4 scales + 3 starts
    assert {"layout_iou", "final_error_m", "command_accuracy"} <= set(numbers["sampler_study"][0])  # adherence per sampler
    assert {r["sampler"] for r in numbers["sampler_study"]} == {"ddpm", *report_module.STUDIED_SAMPLERS}
    # the stand-in makes the same scene for a request whatever the sampler: the paired ratio is 1 on every subset
    assert numbers["default_over_reference"] == pytest.approx({"value": 1.0, "low": 1.0, "high": 1.0})
    assert "**1.000** [1.000, 1.000]" in text and "inside the target" in text
    unlike = [r["guidance"] == 6 for r in numbers["sampler_study"]]
    assert sum(unlike) == 1 and "FSD / default [95 %]" in text
    for row, other in zip(numbers["sampler_study"], unlike):  # each setting's FSD over the default's, paired
        assert (row["over_default"]["value"] != pytest.approx(1.0)) if other else (row["over_default"] == pytest.approx(
            {"value": 1.0, "low": 1.0, "high": 1.0}))
    assert set(numbers["long"]) == {"8/1", "8/2"}
    quality = numbers["quality"]
    assert len(quality["floor"]["volume_fsd_per_set"]) == 2
    assert quality["floor"]["volume_fsd"] == pytest.approx(np.mean(quality["floor"]["volume_fsd_per_set"]))
    assert {report_module.REQUESTED, report_module.RECONSTRUCTED, report_module.UNCONDITIONAL,
            report_module.MODEL_ALONE} <= set(quality)
    assert "the model alone is not guided" in text  # the stand-in has no guide model
    assert "**Requests with nothing, over 10 requests** (seeds 0–9, 2 sets of 5" in text
    for name in (report_module.UNCONDITIONAL, report_module.MODEL_ALONE):
        pooled = numbers["nothing"][name]
        assert pooled["requests"] == 10 and len(pooled["precision_per_set"]) == len(pooled["recall_per_set"]) == 2
        assert 0.0 <= pooled["precision_low"] <= pooled["precision_high"] <= 1.0
        assert pooled["precision_per_set"][0] == quality[name]["precision"]  # the table's set is the first one
        assert pooled["precision"] == pytest.approx(np.mean(pooled["precision_per_set"]))  # a mean of indicators
    drawn = numbers["nothing"][report_module.UNCONDITIONAL]["precision_per_command"]
    assert drawn and set(drawn) <= {"static", "forward", "left", "right"}
    assert numbers["nothing"][report_module.MODEL_ALONE]["precision_per_command"] == {}  # no command was drawn
    assert "over 2 sets" in text and "the VAE's reconstructions of the same scenes" in text
    assert "With 4 requests (the sets above have 5)" in text and "`--sampler-scenes 5`" in text  # too few to rank


def test_the_sampler_study_size_can_be_chosen_and_the_measured_bundles_are_listed(small, tmp_path):
    network = SceneFeatureNet(FEATURE_PRESETS["tiny"])
    checkpoints = tmp_path / "checkpoints"
    save_bundle(VAE, checkpoints / "vae_cpu", kind="hexplane-vae", notes={"steps": 3500, "train_minutes": 89.5})
    save_bundle(network, checkpoints / "scene_features", kind="scene-features")  # no training notes
    path = report_module.build_report(ProceduralService(), VAE, network, tmp_path / "report", quick=True, sampler_scenes=5,
                                      checkpoints=checkpoints)
    text = path.read_text()
    assert "The same 5 conditional requests" in text and "--sampler-scenes 5" in text
    assert "With 5 requests" not in text  # as many as the other sets: no warning
    assert "## Models" in text and "../checkpoints/README.md" in text
    assert f"| vae_cpu | hexplane-vae | `{bundle_hash(checkpoints / 'vae_cpu')}` | 3,500 | 90 |" in text
    assert "| scene_features | scene-features |" in text and "dit_cpu" not in text  # only the bundles there
    models = json.loads((tmp_path / "report" / "report.json").read_text())["models"]
    assert models["scene_features"]["steps"] is None and models["vae_cpu"]["train_minutes"] == 89.5


def test_too_few_sampler_scenes_is_a_clear_error(capsys):
    from core.eval.__main__ import main

    assert main(["report", "--quick", "--sampler-scenes", "2", "--out", "unused"]) != 0
    assert "--sampler-scenes must be at least 4" in capsys.readouterr().err


def test_the_guidance_note_says_which_requests_the_guide_steered():
    def made(checkpoints):
        return suite.GeneratedSet([OccupancySequence(np.zeros((4, *GRID.cells), np.uint8), GRID,
                                                     metadata={"recipe": {"checkpoints": checkpoints}})], 1.0)

    guided = report_module._guidance_note(made({"vae": "a", "dit": "b", report_module.GUIDE: "c"}))
    assert "the model alone, with nothing to guide towards that way, is guided by autoguidance" in guided
    assert "the model alone is not guided" in report_module._guidance_note(made({"vae": "a", "dit": "b"}))
