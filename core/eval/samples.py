"""Sample videos per condition, to look at: `python -m core.eval samples --out assets/samples`.

One generation per kind of request, with fixed seeds so the files regenerate identically: nothing asked
(`unconditional`: the generator draws a drive), command (left turn), trajectory (a right turn's path),
layout (a procedural test layout), inpainting (a real scene with a block regenerated, before | after)
and a 64-frame scene extended clip by clip.
Each becomes a chase-camera .mp4 and a contact sheet .png (first, middle and last frame; the layout
request is drawn before its result).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.conditions.drawings import opaque_layout_image
from core.data.procedural import generate_clip, split_seed
from core.eval.suite import conditions_of, inpaint_mask
from core.types import Command, Conditions, GenerationRequest, Layout, OccupancySequence, RenderSettings, SamplerSettings

SOURCE_SEED = 500_000  # test seeds of the clips whose conditions the samples ask for


def requests(grid) -> dict[str, tuple[Conditions, int]]:
    """Named sample requests: (conditions, frames)."""
    turn = generate_clip(split_seed("test", SOURCE_SEED), grid=grid, command="right")
    drawn = generate_clip(split_seed("test", SOURCE_SEED + 1), grid=grid, command="forward")
    return {
        "unconditional": (Conditions(), grid.frames),
        "command_left": (Conditions(command=Command.LEFT), grid.frames),
        "trajectory_right": (conditions_of(turn, command=False, layout=False), grid.frames),
        "layout": (conditions_of(drawn, command=False, trajectory=False), grid.frames),
        "long_64_frames": (Conditions(command=Command.FORWARD), 64),
    }


def contact_sheet(scene: OccupancySequence, path: Path, *, layout: Layout | None = None) -> Path:
    """Frames 0, middle and last side by side (with the requested layout first, when there is one)."""
    from core.render import render_frames

    settings = RenderSettings(camera="chase", width=320, height=240)
    frames = render_frames(scene, settings)
    tiles = [frames[0], frames[len(frames) // 2], frames[-1]]
    if layout is not None:  # the request, bird's-eye (+X up), on a tile of the same size
        picture = opaque_layout_image(layout)
        tile = Image.new("RGB", (320, 240), "white")
        tile.paste(Image.fromarray(picture[:, :, :3]).resize((240, 240), Image.NEAREST), (40, 0))
        tiles.insert(0, np.asarray(tile))
    Image.fromarray(np.concatenate(tiles, axis=1)).save(path)
    return path


def make_samples(service, out: Path) -> list[Path]:
    from core.render import render_video, side_by_side

    out.mkdir(parents=True, exist_ok=True)
    grid = service.scene_grid()
    written = []
    for index, (name, (conditions, frames)) in enumerate(requests(grid).items()):  # a seed each: no two alike
        scene = service.generate(GenerationRequest(conditions, SamplerSettings(seed=1 + index), frames))
        written.append(render_video(scene, out / f"{name}.mp4", RenderSettings(camera="chase")))
        written.append(contact_sheet(scene, out / f"{name}.png", layout=conditions.layout))
    source = generate_clip(split_seed("test", SOURCE_SEED + 2), grid=grid).scene
    mask = inpaint_mask(grid, 3)
    repaired = service.inpaint(source, mask, SamplerSettings(seed=1))
    written.append(side_by_side(source, repaired, out / "inpainting.mp4", RenderSettings(camera="bev", width=400, height=300),
                                titles=("before", "after")))
    written.append(contact_sheet(repaired, out / "inpainting.png"))
    return written
