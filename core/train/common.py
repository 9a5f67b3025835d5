"""Pieces both training CLIs share: device and precision choice, LR schedule, state files, DDP, options."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Callable
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


AMP_HELP = "reduced precision: auto = on CUDA only; on = also on the CPU (bfloat16); checked against float32 first"


def autocast_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Reduced precision for training: by default on CUDA (bfloat16 where supported, else float16);
    on the CPU only when asked (`on`): bfloat16 is fast only on CPUs with bfloat16 instructions (AMX,
    AVX512-BF16) and emulated elsewhere. PyTorch 2.13's oneDNN bfloat16 convolution on AMX CPUs returns
    wrong results for some shapes (16 or 24 input channels, kernel = stride ≥ 4): a DiT trained under it
    learned to read its layouts through that fault and ignored them in float32. Its patch embeddings are
    now a matrix product (`core.models.embedders.Patchify`), and `checked_autocast` tests every module."""
    if mode == "off":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if mode == "on" else None


def cpu_computes_bfloat16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX); true when this torch cannot tell."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    known = [check for check in checks if callable(check)]
    return not known or any(check() for check in known)


def precision_name(dtype: torch.dtype | None) -> str:
    """What a training run computes in, for its notes: "float32" without autocast."""
    return str(dtype or torch.float32).removeprefix("torch.")


def reduced_precision_faults(model: torch.nn.Module, forward: Callable[[], object], dtype: torch.dtype,
                             device: torch.device, *, tolerance: float = 0.05) -> list[str]:
    """Run `forward` once under autocast and recompute every leaf module's output in float32 from the
    same inputs: the modules whose own result parts from float32 by more than `tolerance` (relative
    L2 error; rounding alone gives ≈ 0.003 in bfloat16). Catches backend faults, not rounding drift."""
    faults: list[str] = []
    checking = False

    def compare(name: str, module: torch.nn.Module, inputs: tuple, output: object) -> None:
        nonlocal checking
        if checking or not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return
        checking = True
        try:
            with torch.autocast(device.type, enabled=False):
                exact = module(*(x.float() if torch.is_tensor(x) and x.is_floating_point() else x for x in inputs))
        finally:
            checking = False
        error = float((output.float() - exact).norm() / exact.norm().clamp_min(1e-12))
        if error > tolerance:
            faults.append(f"{name} ({module}): relative error {error:.2f}")

    hooks = [module.register_forward_hook(functools.partial(compare, name))
             for name, module in model.named_modules() if name and not list(module.children())]
    try:
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype):
            forward()
    finally:
        for hook in hooks:
            hook.remove()
    return faults


def checked_autocast(mode: str, device: torch.device, model: torch.nn.Module,
                     forward: Callable[[], object]) -> torch.dtype | None:
    """`autocast_dtype`, verified on the model: a fault under `--amp on` is an error; under `auto` the
    run falls back to float32 and says why."""
    dtype = autocast_dtype(mode, device)
    if dtype is None:
        return None
    if device.type == "cpu" and not cpu_computes_bfloat16():
        print("this CPU has no bfloat16 instructions (AVX512-BF16 or AMX), so bfloat16 is emulated: a training "
              "step can take over 20× as long as in float32 (the cpu DiT preset, measured: 45 s against under 2 s). "
              "Train with --amp off.", file=sys.stderr)
    faults = reduced_precision_faults(model, forward, dtype, device)
    if not faults:
        return dtype
    message = (f"{precision_name(dtype)} autocast computes wrong results on this machine "
               f"({torch.__version__}, {device.type}): " + "; ".join(faults))
    if mode == "on":
        raise InputError(f"{message}. Train with --amp off.")
    print(f"{message}; training in float32.", file=sys.stderr)
    return None


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


