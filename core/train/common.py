"""Pieces both training CLIs share: device and precision choice, LR schedule, state files, DDP, options."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch
import torch.distributed as dist

from core.types import InputError


def learning_rate(step: int, settings) -> float:
    """Linear warm-up to `settings.lr`, then cosine decay to 5 % of it at `settings.steps`."""
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    progress = min(1.0, (step - settings.warmup) / max(1, settings.steps - settings.warmup))
    return settings.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def pick_device() -> torch.device:
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if torch.cuda.is_available() else torch.device("cpu")


def autocast_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """bfloat16 where it is fast (CUDA with bf16, CPUs with AVX-512 BF16 / AMX), else full precision."""
    if mode == "off":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    supported = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return torch.bfloat16 if (mode == "on" or supported) else None


def save_state_file(state: dict, path: Path) -> None:
    """torch.save to a temp file, then rename: a crash mid-write never corrupts the last good state."""
    temp = path.with_suffix(".tmp")
    torch.save(state, temp)
    os.replace(temp, path)


def init_distributed(world: int) -> None:
    """Join the torchrun process group (gloo on the CPU, nccl on GPUs) when there is more than one rank."""
    if world > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        if not _:
            raise InputError(f"--set expects key=value, got {item!r}")
        try:  # numbers, lists, true / false as JSON; anything else is a string
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


