"""Self-describing model bundles: a folder with `config.json` and `model.safetensors`.

`config.json` holds the kind of model, a format version, the model's full config, the grid it was
trained on, the class table and free-form notes (training command, metrics). Loading rebuilds the
model from that config and loads the weights strictly; nothing is unpickled. Weights may be stored
in float16 to keep bundles small; they are cast back to the model's dtype on load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.config import DiTConfig, SceneFeatureConfig, VAEConfig, config_from_dict, config_to_dict
from core.data.palette import PALETTE
from core.fileio import atomic_write
from core.types import InputError

FORMAT_VERSION = 1
KINDS: dict[str, tuple[type, Any]] = {}


def _register_kinds() -> None:
    from core.eval.features import SceneFeatureNet
    from core.models.dit import HexPlaneDiT
    from core.models.vae import HexPlaneVAE

    KINDS.setdefault("hexplane-vae", (VAEConfig, HexPlaneVAE))
    KINDS.setdefault("hexplane-dit", (DiTConfig, HexPlaneDiT))
    KINDS.setdefault("scene-features", (SceneFeatureConfig, SceneFeatureNet))


def save_bundle(
    model: nn.Module, folder: str | Path, *, kind: str, notes: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write `model` (which has a `.config` dataclass) as a bundle folder; returns the folder."""
    from safetensors.torch import save_file

    _register_kinds()
    if kind not in KINDS:
        raise InputError(f"unknown model kind {kind!r}; expected one of: {', '.join(KINDS)}")
    folder = Path(folder)
    state = {name: tensor.detach().to("cpu", dtype if tensor.is_floating_point() else tensor.dtype).contiguous()
             for name, tensor in model.state_dict().items()}
    atomic_write(folder / "model.safetensors", lambda temp: save_file(state, str(temp)))
    meta = {
        "kind": kind, "format_version": FORMAT_VERSION, "config": config_to_dict(model.config),
        "class_names": list(PALETTE.names), "class_table_version": PALETTE.version,
        "weights_dtype": str(dtype).removeprefix("torch."), "notes": notes or {},
    }
    atomic_write(folder / "config.json", lambda temp: temp.write_text(json.dumps(meta, indent=2)))
    return folder


def read_bundle_meta(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such checkpoint folder")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise InputError(f"{folder}: not a checkpoint bundle, config.json is missing")
    try:
        meta = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{config_path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{config_path}: unsupported bundle format {meta.get('format_version') if isinstance(meta, dict) else meta!r}")
    return meta


def load_bundle(folder: str | Path, *, kind: str, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model stored in `folder` and load its weights strictly (eval mode)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    _register_kinds()
    folder = Path(folder)
    meta = read_bundle_meta(folder)
    if meta.get("kind") != kind:
        raise InputError(f"{folder}: holds a {meta.get('kind')!r} model, expected {kind!r}")
    config_cls, model_cls = KINDS[kind]
    config = config_from_dict(config_cls, meta["config"])
    model = model_cls(config)
    weights_path = folder / "model.safetensors"
    if not weights_path.is_file():
        raise InputError(f"{folder}: model.safetensors is missing")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise InputError(f"{weights_path}: unreadable weights ({error})") from None
    expected = model.state_dict()
    _check_state(folder, state, expected)
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
    return model.to(device).eval()


def _check_state(folder: Path, state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise InputError(f"{folder}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise InputError(
                f"{folder}: weight {name} has shape {tuple(state[name].shape)}, the config needs {tuple(tensor.shape)}"
            )


def bundle_hash(folder: str | Path) -> str:
    """Short content hash of a bundle's weights, for recipes."""
    digest = hashlib.sha256((Path(folder) / "model.safetensors").read_bytes()).hexdigest()
    return digest[:16]
