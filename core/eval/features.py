"""The scene feature network: features that understand occupancy, for scene distances (issue 6).

The paper measures generation with FID-style scores on networks trained on other data. Here a small
network is trained on procedural scenes to predict what a scene is about: the driving command (from
its motion), the share of each class, how many vehicles and pedestrians it holds, and how much of it
moves — and, for half of its training scenes, which generator-like defect was put in and how strong
(`core.eval.corruptions`), so its features also move when a scene is noisy, flickers or jumps. Its
pooled activations define the Fréchet / kernel scene distances and the precision / recall of
`core.eval.distances`.

Two branches share the targets: a 3D branch over (T, X, Y) with height folded into the channels
(a scene's 4D content), and a 2D branch over each frame's bird's-eye class map, averaged over frames
(the "bird's-eye render" variant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from core.config import SceneFeatureConfig
from core.data.palette import PALETTE
from core.data.procedural import bev_layout
from core.eval.corruptions import NAMES as CORRUPTION_NAMES
from core.eval.geometry import components
from core.types import InputError

COUNTED = ("vehicle", "pedestrian")  # classes whose objects the network learns to count


@dataclass(frozen=True)
class SceneTargets:
    """What the network predicts for a batch: (B,) command, (B, K) class shares, (B, 2) counts, (B,) motion,
    (B,) corruption kind (0 = none) and (B,) its strength."""

    command: torch.Tensor
    shares: torch.Tensor
    counts: torch.Tensor
    motion: torch.Tensor
    corruption: torch.Tensor
    strength: torch.Tensor


def scene_targets(labels: np.ndarray, command: int, corruption: int = 0, strength: float = 0.0) -> dict[str, np.ndarray | int]:
    """Targets of one (T, X, Y, Z) scene, each scaled to about [0, 1]; the command is the clip's own."""
    counts = np.bincount(labels.ravel(), minlength=PALETTE.num_classes).astype(np.float64)
    shares = np.log1p(counts) / np.log1p(labels.size)
    first = bev_layout(labels[0])
    objects = [components(first == PALETTE.class_id(name))[1] for name in COUNTED]
    motion = float((labels[1:] != labels[:-1]).mean()) * 10.0 if len(labels) > 1 else 0.0
    return {"command": int(command), "shares": shares.astype(np.float32),
            "counts": np.log1p(np.array(objects, np.float32)) / 3.0, "motion": np.float32(motion),
            "corruption": int(corruption), "strength": np.float32(strength)}


def _conv_block(dims: int, inputs: int, outputs: int, stride) -> nn.Sequential:
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    return nn.Sequential(conv(inputs, outputs, 3, stride=stride, padding=1), nn.GroupNorm(8 if outputs >= 8 else 1, outputs), nn.SiLU())


class SceneFeatureNet(nn.Module):
    def __init__(self, config: SceneFeatureConfig) -> None:
        super().__init__()
        self.config = config
        k, z = config.num_classes, config.cells[2]
        # 3D: a linear stem over each 2×2 patch of one-hot columns (a 2×2 patch convolution, computed on
        # channels-last data so no large transpose is needed), then conv blocks halve every axis.
        self.stem = nn.Linear(4 * z * k, config.channels[0])
        widths = config.channels
        self.volume = nn.Sequential(nn.SiLU(), *(_conv_block(3, a, b, 2) for a, b in zip(widths, widths[1:])))
        flat = (k, *config.channels)
        self.bird_eye = nn.Sequential(*(_conv_block(2, a, b, 2) for a, b in zip(flat, flat[1:])))
        outputs = config.num_commands + k + len(COUNTED) + 1 + len(CORRUPTION_NAMES) + 1
        self.volume_head = nn.Linear(config.features, outputs)
        self.bird_eye_head = nn.Linear(config.features, outputs)

    def features(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """labels (B, T, X, Y, Z) int → (B, F) volume features, (B, F) bird's-eye features."""
        k = self.config.num_classes
        classes = torch.arange(k, device=labels.device)
        one_hot = (labels.unsqueeze(-1) == classes).float()  # (B, T, X, Y, Z, K)
        patches = rearrange(one_hot, "b t (x p) (y q) z k -> b t x y (p q z k)", p=2, q=2)
        stem = rearrange(self.stem(patches), "b t x y c -> b c t x y")  # (B, C0, T, X/2, Y/2)
        volume_features = self.volume(stem).mean(dim=(2, 3, 4))
        top = torch.from_numpy(np.stack([[bev_layout(frame) for frame in scene] for scene in labels.cpu().numpy()]))
        flat = rearrange(top.to(labels.device).unsqueeze(-1) == classes, "b t x y k -> (b t) k x y").float()
        bird_eye = self.bird_eye(flat).mean(dim=(2, 3))
        bird_eye_features = rearrange(bird_eye, "(b t) f -> b t f", b=labels.shape[0]).mean(dim=1)
        return volume_features, bird_eye_features

    def forward(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """labels (B, T, X, Y, Z) → predictions (B, P) of both branches, P = commands + classes + counts + 1."""
        volume_features, bird_eye_features = self.features(labels)
        return self.volume_head(volume_features), self.bird_eye_head(bird_eye_features)


def target_loss(prediction: torch.Tensor, targets: SceneTargets, num_commands: int) -> torch.Tensor:
    """Cross-entropy on the command and the corruption kind, mean squared error on the rest."""
    kinds = len(CORRUPTION_NAMES)
    command, rest = prediction[:, :num_commands], prediction[:, num_commands:]
    corruption, rest = rest[:, -kinds - 1: -1], torch.cat([rest[:, : -kinds - 1], rest[:, -1:]], dim=1)
    regression = torch.cat([targets.shares, targets.counts, targets.motion[:, None], targets.strength[:, None]], dim=1)
    return (F.cross_entropy(command, targets.command) + F.cross_entropy(corruption, targets.corruption)
            + 10.0 * F.mse_loss(rest, regression))


def batch_targets(items: list[dict]) -> SceneTargets:
    return SceneTargets(
        command=torch.tensor([item["command"] for item in items]),
        shares=torch.from_numpy(np.stack([item["shares"] for item in items])),
        counts=torch.from_numpy(np.stack([item["counts"] for item in items])),
        motion=torch.tensor([float(item["motion"]) for item in items]),
        corruption=torch.tensor([int(item["corruption"]) for item in items]),
        strength=torch.tensor([float(item["strength"]) for item in items]),
    )


@torch.no_grad()
def extract_features(model: SceneFeatureNet, scenes: list[np.ndarray], *, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) volume and (N, F) bird's-eye features of (T, X, Y, Z) label arrays."""
    model.eval()
    expected = (model.config.frames, *model.config.cells)
    volume, bird_eye = [], []
    for start in range(0, len(scenes), batch):
        chunk = scenes[start: start + batch]
        for scene in chunk:
            if scene.shape != expected:
                raise InputError(f"the feature network takes scenes of shape {expected}, got {scene.shape}")
        labels = torch.from_numpy(np.stack(chunk).astype(np.int64))
        v, b = model.features(labels)
        volume.append(v.numpy())
        bird_eye.append(b.numpy())
    return np.concatenate(volume).astype(np.float64), np.concatenate(bird_eye).astype(np.float64)
