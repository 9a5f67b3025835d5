"""Reconstruction evaluation of a HexPlane VAE: per-class IoU, mIoU (classes 1..10), binary IoU.

Clips are encoded to μ and decoded; unobserved voxels are excluded. Used by training (held-out
evaluation), by `python -m core.eval recon`, and by the report (real scenes through the VAE).
"""

from __future__ import annotations

import numpy as np
import torch

from core.eval.metrics import IoUReport, confusion_matrix
from core.types import OccupancySequence


@torch.no_grad()
def evaluate_reconstruction(model, clips: list[OccupancySequence], *, device: torch.device | str = "cpu",
                            on_clip=None) -> IoUReport:
    was_training = model.training
    model.eval()
    num_classes = model.config.num_classes
    confusion = np.zeros((num_classes, num_classes), np.int64)
    for index, clip in enumerate(clips):
        labels = torch.from_numpy(clip.labels.astype(np.int64))[None].to(device)
        prediction = model.reconstruct(labels)[0].cpu().numpy()
        valid = None if clip.unobserved is None else ~clip.unobserved
        confusion += confusion_matrix(prediction, clip.labels, num_classes, valid)
        if on_clip:
            on_clip(index)
    model.train(was_training)
    return IoUReport(confusion)


@torch.no_grad()
def reconstruct(model, scenes: list[np.ndarray], *, device: torch.device | str = "cpu") -> list[np.ndarray]:
    """Each (T, X, Y, Z) class-id scene encoded to μ and decoded, as uint8 class ids."""
    was_training = model.training
    model.eval()
    decoded = [model.reconstruct(torch.from_numpy(labels.astype(np.int64))[None].to(device))[0].to(torch.uint8).cpu().numpy()
               for labels in scenes]
    model.train(was_training)
    return decoded
