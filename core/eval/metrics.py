"""Segmentation metrics for occupancy: confusion matrices, per-class IoU, mIoU and binary IoU.

Unobserved voxels are left out. mIoU is the mean IoU over the evaluated classes (1..10 by default,
the 10 CarlaSC-derived classes besides free and the absent bicycle) that occur in the targets or the
predictions, as in the paper's protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EVALUATED_CLASSES = tuple(range(1, 11))


def confusion_matrix(prediction: np.ndarray, target: np.ndarray, num_classes: int, valid: np.ndarray | None = None) -> np.ndarray:
    """(K, K) int64 counts, rows = target class, columns = predicted class."""
    prediction, target = np.asarray(prediction).ravel(), np.asarray(target).ravel()
    if valid is not None:
        keep = np.asarray(valid).ravel()
        prediction, target = prediction[keep], target[keep]
    index = target.astype(np.int64) * num_classes + prediction.astype(np.int64)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class IoUReport:
    confusion: np.ndarray
    classes: tuple[int, ...] = EVALUATED_CLASSES
    per_class: dict[int, float] = field(init=False)

    def __post_init__(self) -> None:
        tp = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        self.per_class = {c: float(tp[c] / union[c]) for c in self.classes if union[c] > 0}

    @property
    def miou(self) -> float:
        return float(np.mean(list(self.per_class.values()))) if self.per_class else 0.0

    @property
    def binary_iou(self) -> float:
        """IoU of occupied (any class but 0) against free."""
        occupied_hit = self.confusion[1:, 1:].sum()
        union = self.confusion.sum() - self.confusion[0, 0]
        return float(occupied_hit / union) if union else 0.0
