"""The HexPlane latent and the paper's Padded Rollout (DESIGN §2).

A HexPlane is six 2D feature planes of C channels: xy (X'×Y'), xz (X'×Z'), yz (Y'×Z'), tx (T'×X'),
ty (T'×Y'), tz (T'×Z'). The Padded Rollout tiles them into one (X'+T'+Z') × (Y'+Z'+T') map for the
DiT, zeros elsewhere:

    rows X' : [ xy  | xz | txᵀ ]
    rows T' : [ ty  | tz |  0  ]
    rows Z' : [ yzᵀ |  0 |  0  ]

`unroll` is its exact inverse and `padding_mask` marks the cells that belong to no plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PLANES = ("xy", "xz", "yz", "tx", "ty", "tz")


@dataclass
class HexPlane:
    """Six planes, each (B, C, A, B') over the axes in its name, in that order."""

    xy: torch.Tensor
    xz: torch.Tensor
    yz: torch.Tensor
    tx: torch.Tensor
    ty: torch.Tensor
    tz: torch.Tensor

    def planes(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in PLANES}

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(T', X', Y', Z')."""
        return self.tx.shape[2], self.xy.shape[2], self.xy.shape[3], self.xz.shape[3]

    def map(self, function) -> "HexPlane":
        return HexPlane(**{name: function(plane) for name, plane in self.planes().items()})


def rollout_shape(sizes: tuple[int, int, int, int]) -> tuple[int, int]:
    t, x, y, z = sizes
    return x + t + z, y + z + t


def rollout(hexplane: HexPlane) -> torch.Tensor:
    """HexPlane → (B, C, X'+T'+Z', Y'+Z'+T') padded rollout."""
    t, x, y, z = hexplane.sizes
    batch, channels = hexplane.xy.shape[:2]
    out = hexplane.xy.new_zeros(batch, channels, *rollout_shape((t, x, y, z)))
    out[:, :, :x, :y] = hexplane.xy
    out[:, :, :x, y: y + z] = hexplane.xz
    out[:, :, :x, y + z:] = hexplane.tx.transpose(2, 3)
    out[:, :, x: x + t, :y] = hexplane.ty
    out[:, :, x: x + t, y: y + z] = hexplane.tz
    out[:, :, x + t:, :y] = hexplane.yz.transpose(2, 3)
    return out


def unroll(rolled: torch.Tensor, sizes: tuple[int, int, int, int]) -> HexPlane:
    """(B, C, X'+T'+Z', Y'+Z'+T') → HexPlane; the exact inverse of `rollout`."""
    t, x, y, z = sizes
    expected = rollout_shape(sizes)
    if tuple(rolled.shape[2:]) != expected:
        raise ValueError(f"rollout must be (B, C, {expected[0]}, {expected[1]}) for sizes {sizes}, got {tuple(rolled.shape)}")
    return HexPlane(
        xy=rolled[:, :, :x, :y],
        xz=rolled[:, :, :x, y: y + z],
        yz=rolled[:, :, x + t:, :y].transpose(2, 3),
        tx=rolled[:, :, :x, y + z:].transpose(2, 3),
        ty=rolled[:, :, x: x + t, :y],
        tz=rolled[:, :, x: x + t, y: y + z],
    )


def padding_mask(sizes: tuple[int, int, int, int]) -> torch.Tensor:
    """(X'+T'+Z', Y'+Z'+T') bool, True on padding cells (no plane lives there)."""
    t, x, y, z = sizes
    mask = torch.ones(rollout_shape(sizes), dtype=torch.bool)
    mask[:x, :] = False
    mask[x: x + t, : y + z] = False
    mask[x + t:, :y] = False
    return mask
