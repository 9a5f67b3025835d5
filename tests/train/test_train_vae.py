"""VAE training CLI: runs, resumes exactly, evaluates, and trains under torchrun with two processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.eval.__main__ import main as eval_main
from launch import free_port
from core.train.train_vae import main as train_main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--preset", "tiny", "--eval-every", "2", "--eval-clips", "1", "--warmup", "1", "--amp", "off"]


def weights(folder: Path) -> dict:
    return load_file(str(folder / "last" / "model.safetensors"))


def test_train_writes_state_bundles_and_metrics(tmp_path):
    assert train_main(["--out", str(tmp_path), "--steps", "4", *TINY]) == 0
    assert (tmp_path / "train_state.pt").is_file() and (tmp_path / "best" / "config.json").is_file()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "eval" in r] == [2, 4]
    notes = json.loads((tmp_path / "last" / "config.json").read_text())["notes"]
    assert notes["steps"] == 4 and "train_vae" in notes["command"]


def test_resume_continues_exactly(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train_main(["--out", str(straight), "--steps", "4", *TINY]) == 0
    assert train_main(["--out", str(resumed), "--steps", "4", "--stop-after", "2", *TINY]) == 0
    assert json.loads((resumed / "last" / "config.json").read_text())["notes"]["steps"] == 2
    assert train_main(["--out", str(resumed), "--steps", "4", "--resume", *TINY]) == 0
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_options_fail_in_one_line(tmp_path, capsys):
    assert train_main(["--out", str(tmp_path), "--resume", *TINY]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert train_main(["--out", str(tmp_path), "--set", "latent=4", *TINY]) == 2
    assert "unknown VAEConfig option" in capsys.readouterr().err
    assert train_main(["--out", str(tmp_path), "--data", str(tmp_path / "none"), *TINY]) == 2


def test_recon_cli_prints_the_table_and_miou_last(tmp_path, capsys):
    assert train_main(["--out", str(tmp_path), "--steps", "2", *TINY]) == 0
    capsys.readouterr()
    assert eval_main(["recon", "--vae", str(tmp_path / "best"), "--n", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("mIoU: ") and any(line.startswith("compression ratio") for line in lines)
    assert eval_main(["recon", "--vae", str(tmp_path / "missing")]) == 2
    assert "no such checkpoint folder" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_two_process_ddp_on_cpu(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port("127.0.0.1")),
               "-m", "core.train.train_vae", "--out", str(tmp_path), "--steps", "2", *TINY]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "last" / "model.safetensors").is_file()


def test_decoder_only_from_a_bundle_leaves_the_encoder_as_it_was(tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert train_main(["--out", str(first), "--steps", "2", *TINY]) == 0
    assert train_main(["--out", str(second), "--steps", "3", "--init", str(first / "last"), "--decoder-only",
                       "--latent-noise", "0.5", *TINY]) == 0
    before, after = weights(first), weights(second)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("decoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    notes = json.loads((second / "last" / "config.json").read_text())["notes"]
    assert notes["decoder_only"] is True and notes["latent_noise"] == 0.5
    resumed = ["--out", str(second), "--steps", "4", "--init", str(first / "last"), "--resume", *TINY]
    assert train_main([*resumed, "--decoder-only", "--latent-noise", "0.3"]) == 2  # another noise than it trained with
    assert "was trained with --latent-noise 0.5, not 0.3" in capsys.readouterr().err
    assert train_main([*resumed, "--latent-noise", "0.5"]) == 2  # the whole model, where it trained the decoder alone
    assert train_main([*resumed, "--decoder-only", "--latent-noise", "0.5"]) == 0


def test_decoder_options_refuse_what_cannot_work(tmp_path, capsys):
    assert train_main(["--out", str(tmp_path), "--decoder-only", *TINY]) == 2
    assert "--init BUNDLE" in capsys.readouterr().err
    assert train_main(["--out", str(tmp_path), "--latent-noise", "-1", *TINY]) == 2
    assert "--latent-noise must be between 0 and 10" in capsys.readouterr().err
    assert train_main(["--out", str(tmp_path / "a"), "--steps", "1", *TINY]) == 0
    assert train_main(["--out", str(tmp_path / "b"), "--init", str(tmp_path / "a" / "last"), "--set", "latent_channels=4", *TINY]) == 2
    assert "drop --set" in capsys.readouterr().err
