"""2D annotations composited onto rendered frames in numpy: the class legend and title bars.

The legend (a colour swatch and the name of each class present in the scene) is drawn once with Pillow
into a small RGBA patch and alpha-blended onto every frame, which costs well under a millisecond, far
less than adding 2D actors to either 3D backend, and looks the same whichever backend drew the frame.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.data.palette import PALETTE

PANEL_RGBA = (255, 255, 255, 215)
TEXT_RGB = (30, 30, 36)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def font_size_for(image_height: int) -> int:
    """Legend text height in pixels, proportional to the frame so it reads the same at any size."""
    return int(np.clip(round(image_height / 36), 9, 28))


@functools.lru_cache(maxsize=32)
def legend_patch(class_ids: tuple[int, ...], font_size: int) -> np.ndarray:
    """(h, w, 4) uint8 RGBA panel listing the given classes (free space, class 0, is left out)."""
    entries = [(int(c), PALETTE.names[c]) for c in class_ids if c != 0]
    font = _font(font_size)
    pad, swatch, gap = font_size // 2, font_size, font_size // 3 + 1
    text_width = max((int(font.getlength(name)) for _, name in entries), default=0)
    width = pad * 2 + swatch + gap + text_width
    height = pad * 2 + len(entries) * (swatch + gap) - (gap if entries else 0)
    panel = Image.new("RGBA", (width, height), PANEL_RGBA)
    draw = ImageDraw.Draw(panel)
    for row, (class_id, name) in enumerate(entries):
        top = pad + row * (swatch + gap)
        color = tuple(int(v) for v in PALETTE.colors[class_id])
        draw.rectangle([pad, top, pad + swatch - 1, top + swatch - 1], fill=color, outline=TEXT_RGB)
        draw.text((pad + swatch + gap, top + swatch / 2), name, fill=TEXT_RGB, font=font, anchor="lm")
    return np.asarray(panel)


def composite(image: np.ndarray, patch: np.ndarray, top: int, left: int) -> np.ndarray:
    """Alpha-blend an RGBA `patch` onto a copy of the (H, W, 3) uint8 `image`, cropped to fit."""
    out = image.copy()
    height = min(patch.shape[0], image.shape[0] - top)
    width = min(patch.shape[1], image.shape[1] - left)
    if height <= 0 or width <= 0:
        return out
    region = out[top:top + height, left:left + width].astype(np.float32)
    rgba = patch[:height, :width].astype(np.float32)
    alpha = rgba[..., 3:] / 255.0
    blended = region * (1 - alpha) + rgba[..., :3] * alpha
    out[top:top + height, left:left + width] = np.round(blended).astype(np.uint8)
    return out


def draw_legend(image: np.ndarray, class_ids: tuple[int, ...]) -> np.ndarray:
    """The frame with a legend of `class_ids` in its top-left corner."""
    margin = max(4, image.shape[0] // 60)
    return composite(image, legend_patch(tuple(class_ids), font_size_for(image.shape[0])), margin, margin)


def title_bar(text: str, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 white bar with `text` centred, to put above a panel of a comparison."""
    bar = Image.new("RGB", (width, height), (255, 255, 255))
    font = _font(max(9, int(height * 0.55)))
    ImageDraw.Draw(bar).text((width / 2, height / 2), text, fill=TEXT_RGB, font=font, anchor="mm")
    return np.asarray(bar)
