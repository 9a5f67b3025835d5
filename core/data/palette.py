"""The 12-class label space (DESIGN §2), read from its single source, `assets/palette.json`.

Names, colours, and the lookup tables that remap CarlaSC's 23 raw ids and Occ3D's ids to our classes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.types import InputError

PALETTE_PATH = Path(__file__).resolve().parents[2] / "assets" / "palette.json"


@dataclass(frozen=True)
class Palette:
    version: int
    names: tuple[str, ...]
    colors: np.ndarray  # (C, 3) uint8 RGB
    remaps: dict[str, np.ndarray]  # source name -> (num_source_ids,) uint8 lookup table

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def class_id(self, name: str) -> int:
        if name not in self.names:
            raise InputError(f"unknown class {name!r}; expected one of: {', '.join(self.names)}")
        return self.names.index(name)

    def remap(self, source: str) -> np.ndarray:
        if source not in self.remaps:
            raise InputError(f"unknown label source {source!r}; expected one of: {', '.join(self.remaps)}")
        return self.remaps[source]

    def hex_colors(self) -> list[str]:
        return ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in self.colors]


def _lookup_table(spec: dict) -> np.ndarray:
    table = np.zeros(int(spec["num_source_ids"]), dtype=np.uint8)
    for source_id, class_id in spec["map"].items():
        table[int(source_id)] = class_id
    return table


@functools.lru_cache(maxsize=1)
def load_palette(path: Path = PALETTE_PATH) -> Palette:
    data = json.loads(Path(path).read_text())
    classes = sorted(data["classes"], key=lambda c: c["id"])
    if [c["id"] for c in classes] != list(range(len(classes))):
        raise ValueError(f"{path}: class ids must be 0..N-1 without gaps")
    return Palette(
        version=int(data["version"]),
        names=tuple(c["name"] for c in classes),
        colors=np.array([c["color"] for c in classes], dtype=np.uint8),
        remaps={name: _lookup_table(spec) for name, spec in data["remaps"].items()},
    )


PALETTE = load_palette()
CLASS = {name: i for i, name in enumerate(PALETTE.names)}
