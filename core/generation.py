"""Scene generation as named stages: conditions → tensors → sample → decode → scene, with recipes.

`generate` makes a scene of 16·k frames clip by clip: the first clip from the person's conditions,
each next one conditioned on the previous clip's latent (and, when given, its part of the
trajectory), anchored at its own first frame; every frame keeps its world pose so all clips share one
world. `inpaint` regenerates a bird's-eye region (optionally a frame range) of a scene in latent space
and copies every voxel outside it from the source exactly. Each result carries a **recipe** (JSON)
that regenerates it bit for bit with the same checkpoints.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from core.conditions.command import command_from_trajectory
from core.conditions.drawings import relative_to_first
from core.conditions.tensors import to_dit_conditions
from core.pipeline import LatentPipeline
from core.postprocess import VEHICLE, min_car_cells, remove_vehicle_specks, vehicle_boxes
from core.types import (
    Command, Conditions, GenerationRequest, GridSpec, InputError, Layout, OccupancySequence, ProgressCallback, ProgressEvent,
    SamplerSettings, Trajectory,
)

RECIPE_VERSION = 1
MAX_CLIPS = 8  # 128 frames of 16


def _pose_matrix(x: float, y: float, yaw: float) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    matrix[:2, 3] = [x, y]
    return matrix


def clip_conditions(request: GenerationRequest, clip: int, clip_frames: int) -> Conditions:
    """The conditions of clip `clip`: its slice of the trajectory (relative to its own first frame),
    the command (derived from that slice when there is a trajectory), the layout for the first clip."""
    trajectory = request.conditions.trajectory
    part = None
    if trajectory is not None:
        part = relative_to_first(trajectory.poses[clip * clip_frames: (clip + 1) * clip_frames])
    command = command_from_trajectory(part) if part is not None and clip > 0 else request.conditions.command
    return Conditions(command=command, trajectory=part, layout=request.conditions.layout if clip == 0 else None)


def world_poses(trajectory: Trajectory | None, frames: int) -> np.ndarray:
    """(frames, 4, 4) world-from-ego poses (world = frame 0's ego frame); a still ego without a trajectory."""
    if trajectory is None:
        return np.tile(np.eye(4), (frames, 1, 1))
    return np.stack([_pose_matrix(*pose) for pose in trajectory.poses])


def check_request(request: GenerationRequest, clip_frames: int) -> None:
    if request.frames < clip_frames or request.frames % clip_frames or request.frames > MAX_CLIPS * clip_frames:
        raise InputError(f"frames must be a multiple of {clip_frames} up to {MAX_CLIPS * clip_frames}, got {request.frames}")
    trajectory = request.conditions.trajectory
    if trajectory is not None and trajectory.num_frames != request.frames:
        raise InputError(f"trajectory must have {request.frames} poses for {request.frames} frames, got {trajectory.num_frames}")


def with_command_path(request: GenerationRequest, clip_frames: int) -> GenerationRequest:
    """The request with a typical path of its command when `request.command_path` is set and it has a
    command but no trajectory and no layout (a drawn layout decides where the roads are, so no path is
    made up for it). A request with no condition at all first draws its command, at the procedural
    city's frequencies, with the sampler's seed (`GenerationRequest`)."""
    from core.data.procedural import FRAME_INTERVAL
    from core.data.scenario import draw_command, typical_path

    check_request(request, clip_frames)
    given, seed = request.conditions, int(request.sampler.seed)
    if not request.command_path:
        return request
    if given.empty():  # a stream of its own: the path's attempts use default_rng([seed, attempt])
        given = replace(given, command=draw_command(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))))
    if given.command is None or given.trajectory is not None or given.layout is not None:
        return request
    path = typical_path(given.command, frames=request.frames, clip_frames=clip_frames, frame_interval=FRAME_INTERVAL,
                        seed=seed)
    return replace(request, conditions=replace(given, trajectory=path))


def sample_clips(pipeline: LatentPipeline, request: GenerationRequest,
                 on_progress: ProgressCallback | None = None) -> list[torch.Tensor]:
    """The DiT's sample of every clip of the request, each a normalised rollout (1, C, H, W), each clip
    conditioned on the one before. They depend on the DiT (and guide) alone, not on the VAE."""
    grid = pipeline.vae.config.grid()
    check_request(request, grid.frames)
    clips, earlier, rolled = request.frames // grid.frames, None, []
    for clip in range(clips):
        conditions = to_dit_conditions(clip_conditions(request, clip, grid.frames), pipeline.dit.config, grid.cells,
                                       earlier=earlier, device=pipeline.device)
        settings = replace(request.sampler, seed=(request.sampler.seed + clip) % 2**31)
        earlier = pipeline.sample(conditions, settings, callback=_sampling_progress(on_progress, clip, clips))
        rolled.append(earlier)
    return rolled


def decode_clips(pipeline: LatentPipeline, request: GenerationRequest, rolled: list[torch.Tensor],
                 on_progress: ProgressCallback | None = None) -> OccupancySequence:
    """The scene of the request's sampled clips (`sample_clips`), every frame at its world pose (recipe
    added by the caller)."""
    grid = pipeline.vae.config.grid()
    if len(rolled) * grid.frames != request.frames:
        raise InputError(f"{len(rolled)} sampled clips of {grid.frames} frames do not make the request's {request.frames}")
    labels = []
    for clip, latent in enumerate(rolled):
        _report(on_progress, "decoding", clip + 1, len(rolled))
        labels.append(decode_clip(pipeline, latent.to(pipeline.device), request.sampler))
    poses = world_poses(request.conditions.trajectory, request.frames)
    metadata = {"source": "generated", "clip_frames": grid.frames, "command": _command_name(request.conditions.command)}
    return OccupancySequence(np.concatenate(labels), grid.with_frames(request.frames), poses=poses, metadata=metadata)


def decode_clip(pipeline: LatentPipeline, rolled: torch.Tensor, settings: SamplerSettings, *,
                source: np.ndarray | None = None, region: np.ndarray | None = None) -> np.ndarray:
    """One sampled clip's (T, X, Y, Z) class ids, its vehicle specks removed and its cars redrawn as
    boxes when `settings` ask (`core.postprocess`); with `source` and `region` (bool, same shape), decoded
    inside the region and the source's own voxels outside it, exactly."""
    if settings.tidies_vehicles:
        labels, fallback = pipeline.decode_with_fallback(rolled, VEHICLE)
    else:
        labels, fallback = pipeline.decode(rolled), None
    if source is not None:
        labels = np.where(region, labels, source).astype(np.uint8)
    grid = pipeline.vae.config.grid()
    if settings.remove_specks:
        labels = remove_vehicle_specks(labels, fallback, min_car_cells(grid), editable=region)
    if settings.vehicle_boxes:
        labels = vehicle_boxes(labels, fallback, grid, editable=region)
    return labels


def _next_anchor(poses: np.ndarray) -> np.ndarray:
    """The world pose one frame after the last, at the last frame's velocity (constant motion)."""
    if len(poses) < 2:
        return poses[-1]
    step = np.linalg.inv(poses[-2]) @ poses[-1]
    return poses[-1] @ step


def extend_scene(pipeline: LatentPipeline, scene: OccupancySequence, settings: SamplerSettings, *,
                 trajectory: Trajectory | None = None, on_progress: ProgressCallback | None = None) -> OccupancySequence:
    """The scene with one more clip, conditioned on its last clip's latent and, when given, the next
    clip's trajectory (relative to that clip's first frame, where the ego continues from)."""
    clip_frames = pipeline.vae.config.frames
    if scene.grid.cells != tuple(pipeline.vae.config.cells) or scene.num_frames % clip_frames:
        raise InputError(f"only scenes of {clip_frames}·k frames of {pipeline.vae.config.cells} cells can be extended")
    if scene.num_frames + clip_frames > MAX_CLIPS * clip_frames:
        raise InputError(f"a scene can grow to {MAX_CLIPS * clip_frames} frames; this one has {scene.num_frames}")
    earlier = pipeline.encode(scene.labels[-clip_frames:])
    command = None if trajectory is None else command_from_trajectory(trajectory)
    conditions = to_dit_conditions(Conditions(command=command, trajectory=trajectory), pipeline.dit.config,
                                   scene.grid.cells, earlier=earlier, device=pipeline.device)
    rolled = pipeline.sample(conditions, settings, callback=_sampling_progress(on_progress, 0, 1))
    _report(on_progress, "decoding", 1, 1)
    old_poses = scene.poses if scene.poses is not None else np.tile(np.eye(4), (scene.num_frames, 1, 1))
    anchor = _next_anchor(old_poses)
    poses = np.concatenate([old_poses, anchor[None] @ world_poses(trajectory, clip_frames)])
    history = [*scene.metadata.get("extensions", []), {"sampler": settings.__dict__,
               "trajectory": None if trajectory is None else trajectory.poses.tolist()}]
    metadata = {**scene.metadata, "clip_frames": clip_frames, "extensions": history}
    labels = np.concatenate([scene.labels, decode_clip(pipeline, rolled, settings)])
    return OccupancySequence(labels, scene.grid.with_frames(len(labels)), poses, None, "anchored", metadata)


def rollout_known_mask(mask: np.ndarray, frames: range | None, sizes: tuple[int, int, int, int], grid: GridSpec) -> torch.Tensor:
    """(1, 1, H, W) bool, True on rollout cells to keep: the bird's-eye `mask` (X, Y) (True = regenerate)
    projected onto xy, and onto the x / y rows of xz, yz, tx and ty (within the frame range for tx, ty)."""
    from core.models.embedders import rollout_footprint

    if mask.shape != grid.cells[:2]:
        raise InputError(f"mask must be {grid.cells[0]}×{grid.cells[1]} cells, got {mask.shape[0]}×{mask.shape[1]}")
    if not mask.any():
        raise InputError("the inpainting mask is empty: mark the region to regenerate")
    chosen = np.zeros(grid.frames, bool)
    chosen[frames if frames is not None else slice(None)] = True
    if not chosen.any():
        raise InputError(f"the frame range is empty; frames are 0..{grid.frames - 1}")
    return ~rollout_footprint(torch.from_numpy(chosen[:, None, None] & mask[None])[None], sizes)


def inpaint_scene(pipeline: LatentPipeline, scene: OccupancySequence, mask: np.ndarray, settings: SamplerSettings,
                  *, frames: range | None = None, on_progress: ProgressCallback | None = None) -> OccupancySequence:
    """Regenerate the masked bird's-eye region of a 16-frame scene; voxels outside it stay exactly."""
    if scene.num_frames != pipeline.vae.config.frames or scene.grid.cells != tuple(pipeline.vae.config.cells):
        raise InputError(
            f"inpainting needs a {pipeline.vae.config.frames}-frame scene of {pipeline.vae.config.cells} cells, "
            f"got {scene.num_frames} frames of {scene.grid.cells}"
        )
    known = pipeline.encode(scene.labels)
    keep = rollout_known_mask(mask, frames, pipeline.dit.config.latent_sizes, scene.grid).to(pipeline.device)
    rolled = pipeline.sample(to_dit_conditions(Conditions(), pipeline.dit.config, scene.grid.cells, device=pipeline.device),
                             settings, known=known, known_mask=keep, callback=_sampling_progress(on_progress, 0, 1))
    _report(on_progress, "decoding", 1, 1)
    region = np.zeros(scene.labels.shape, bool)
    region[frames if frames is not None else slice(None)] = mask[None, :, :, None]
    labels = decode_clip(pipeline, rolled, settings, source=scene.labels, region=region)
    metadata = {**scene.metadata, "source": "inpainted"}
    return OccupancySequence(labels, scene.grid, scene.poses, scene.unobserved, scene.convention, metadata)


def _sampling_progress(on_progress: ProgressCallback | None, clip: int, clips: int):
    if on_progress is None:
        return None

    def callback(step: int, total: int, x0: torch.Tensor) -> None:
        message = f"clip {clip + 1}/{clips}" if clips > 1 else ""
        on_progress(ProgressEvent("sampling", step, total, message))

    return callback


def _report(on_progress: ProgressCallback | None, stage: str, step: int, total: int) -> None:
    if on_progress is not None:
        on_progress(ProgressEvent(stage, step, total))


def _command_name(command: Command | None) -> str | None:
    return None if command is None else command.name.lower()


def recipe_for(request: GenerationRequest, checkpoints: dict[str, str], *, drawn: bool = False) -> dict:
    """A JSON-able description that regenerates the request's scene exactly (`drawn`: its command and
    path were drawn by the generator, nothing having been asked; for the reader, ignored when read)."""
    conditions = request.conditions
    layout = conditions.layout
    return {
        "version": RECIPE_VERSION, "mode": "generate", "frames": request.frames,
        "sampler": {"sampler": request.sampler.sampler, "steps": request.sampler.steps,
                    "guidance_scale": request.sampler.guidance_scale, "seed": request.sampler.seed,
                    "guidance_from": request.sampler.guidance_from,
                    **({"remove_specks": True} if request.sampler.remove_specks else {}),
                    **({"vehicle_boxes": True} if request.sampler.vehicle_boxes else {})},
        "conditions": {
            "command": _command_name(conditions.command),
            "trajectory": None if conditions.trajectory is None else conditions.trajectory.poses.tolist(),
            "layout": None if layout is None else layout.static.tolist(),
            "vehicles": None if layout is None or layout.vehicles is None else np.argwhere(layout.vehicles).tolist(),
            **({"drawn": True} if drawn else {}),
        },
        "checkpoints": checkpoints,
    }


def request_from_recipe(recipe: dict, grid: GridSpec) -> GenerationRequest:
    """The inverse of `recipe_for`; malformed recipes raise a one-line InputError."""
    if not isinstance(recipe, dict):
        raise InputError(f"a recipe is a JSON object (as saved beside a scene), got {type(recipe).__name__}")
    try:
        if recipe.get("version") != RECIPE_VERSION or recipe.get("mode") != "generate":
            raise InputError(f"unsupported recipe (version {recipe.get('version')}, mode {recipe.get('mode')})")
        given = recipe["conditions"]
        layout = None
        if given.get("layout") is not None:
            vehicles = None
            if given.get("vehicles") is not None:
                vehicles = np.zeros((grid.frames, *grid.cells[:2]), bool)
                index = np.asarray(given["vehicles"], dtype=np.int64).reshape(-1, 3)
                vehicles[tuple(index.T)] = True
            layout = Layout(np.asarray(given["layout"], dtype=np.uint8), vehicles)
        trajectory = None if given.get("trajectory") is None else Trajectory(np.asarray(given["trajectory"], dtype=np.float64))
        command = None if given.get("command") is None else Command.parse(given["command"])
        sampler = SamplerSettings(**{"guidance_from": None, **recipe["sampler"]})  # recipes before it: every step
        # a typical path, when one was drawn for a command, is already the recipe's trajectory
        return GenerationRequest(Conditions(command, trajectory, layout), sampler, int(recipe["frames"]), command_path=False)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"malformed recipe: {error}") from None
