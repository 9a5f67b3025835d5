"""The clean-ups a decoded scene's vehicles may get, on request (`SamplerSettings.remove_specks` and
`SamplerSettings.vehicle_boxes`; by name, `vehicle_cleanup`).

Seen from above, every vehicle blob of a real procedural scene is at least car-sized, unless the grid's
edge cuts it. The generated scenes have as many car-sized blobs as real ones (a third of them ragged),
and besides them about as many *specks*: blobs of 1 to 5 cells away from the edge, 8 % of the vehicle
voxels (checkpoints README, step 24); and their cars come and go between frames (1.1 track breaks per
track against 0.05 in real scenes). Removing specks relabels their voxels with the decoder's best class
other than vehicle. Redrawing cars as boxes (`vehicle_boxes`) makes every car-sized blob a solid box of
its size and heading (a moving car heads where it goes) and moves the boxes along smoothed tracks:
short gaps filled, jumps put back on the track, cars seen in a few frames inside the grid dropped, a
car found twice drawn once, a cell's gap kept between cars, and a car that appears or vanishes inside
the grid continued to the clip's ends until it leaves the grid or meets something. Both are off by
default, so the API, the CLIs and the evaluation give the models' own output; a recipe records them,
so a scene made with them is made again exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.palette import PALETTE
from core.data.traffic import box_footprint
from core.eval.geometry import components
from core.types import GridSpec, InputError

VEHICLE = PALETTE.class_id("vehicle")
FREE = 0
MIN_CAR_CELLS = 6  # a car at 0.8 m is about 6 × 3 cells seen from above; smaller blobs are debris
MIN_CAR_AREA_M2 = MIN_CAR_CELLS * 0.8 * 0.8
VEHICLE_CLEANUPS = {  # named clean-ups → their `SamplerSettings` fields
    "as decoded": {},
    "specks": {"remove_specks": True},
    "boxes": {"remove_specks": True, "vehicle_boxes": True},
}
MIN_CAR_LENGTH_M, MIN_CAR_WIDTH_M = 4.0, 1.8  # the procedural city's shortest and narrowest vehicle
TRACK_REACH_M = 3.0  # a car moves less than this between frames (0.2 s), as `core.eval.temporal` tracks them
MAX_TRACK_GAP = 3  # frames a track may miss its car and still go on
MIN_TRACK_BOXES = 6  # a car seen in fewer frames (1.2 s at 5 Hz), never at the grid's edge, flickers
CONTINUED_TRACK_BOXES = 8  # a car seen in this many frames (half a 16-frame clip) is continued to the clip's ends
SMOOTH_HALF_WINDOW = 3  # frames each side that a track's smoothed motion follows
MOVING_CELLS = 1.0  # a car moving this many cells a frame or more (4 m/s at 0.8 m) heads where it goes
SNAP_CELLS = 1.0  # a box this close to its smoothed track stays as it is
MAX_CAR_OVERLAP = 0.25  # a box more covered by a car drawn before is the same car found twice
AXIS_SNAP_DEG = 5.0  # a box heading this close to the grid's axes is put on them: no stair-stepped sides


def vehicle_cleanup(name: str) -> dict[str, bool]:
    """The `SamplerSettings` fields of a named vehicle clean-up: 'as decoded' (none), 'specks' (removed)
    or 'boxes' (specks removed and cars redrawn as boxes)."""
    if name not in VEHICLE_CLEANUPS:
        raise InputError(f"unknown vehicle clean-up {name!r}; expected one of: {', '.join(VEHICLE_CLEANUPS)}")
    return dict(VEHICLE_CLEANUPS[name])


def min_car_cells(grid: GridSpec) -> int:
    """The smallest car seen from above, in cells of `grid` (6 at 0.8 m)."""
    return max(1, round(MIN_CAR_AREA_M2 / (grid.voxel_size[0] * grid.voxel_size[1])))


def vehicle_blobs(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (X, Y, Z) frame's vehicle blobs seen from above (4-connected): the (X, Y) blob index of each
    cell (0: no vehicle), and per index its size in cells and whether the grid's edge cuts it (index 0:
    size 0, not cut)."""
    blob, count = components((frame == VEHICLE).any(axis=2))
    sizes = np.bincount(blob.ravel(), minlength=count + 1)
    sizes[0] = 0
    cut = np.zeros(count + 1, bool)
    cut[np.concatenate([blob[0], blob[-1], blob[:, 0], blob[:, -1]])] = True
    cut[0] = False
    return blob, sizes, cut


def vehicle_specks(labels: np.ndarray, min_cells: int) -> np.ndarray:
    """(T, X, Y, Z) bool: the vehicle voxels of each frame's vehicle blobs smaller than `min_cells` that
    the grid's edge does not cut."""
    specks = np.zeros(labels.shape, bool)
    for t, frame in enumerate(labels):
        blob, sizes, cut = vehicle_blobs(frame)
        small = (sizes > 0) & (sizes < min_cells) & ~cut
        specks[t] = small[blob][..., None] & (frame == VEHICLE)
    return specks


def remove_vehicle_specks(labels: np.ndarray, fallback: np.ndarray, min_cells: int,
                          editable: np.ndarray | None = None) -> np.ndarray:
    """`labels` with its vehicle specks (`vehicle_specks`) relabelled from `fallback` (the decoder's best
    class other than vehicle, same shape); with `editable` (bool, same shape), only voxels there change."""
    specks = vehicle_specks(labels, min_cells)
    if editable is not None:
        specks &= editable
    return np.where(specks, fallback, labels).astype(labels.dtype)


def blob_box(cells: np.ndarray, min_length: float, min_width: float) -> tuple[np.ndarray, float, float]:
    """The oriented rectangle with the second moments of a blob's (N, 2) cell indices: its pose (centre
    x, y, yaw of the long side) and its length and width in cells, at least `min_length` by `min_width`.
    A filled rectangle of cells gives itself back (a side of n cells has variance (n² − 1) / 12)."""
    centre = cells.mean(axis=0)
    variances, axes = np.linalg.eigh(np.cov(cells.T, bias=True).reshape(2, 2))
    sides = np.sqrt(12 * np.clip(variances, 0, None) + 1)
    yaw = float(np.arctan2(axes[1, 1], axes[0, 1]))
    return np.array([centre[0], centre[1], yaw]), max(float(sides[1]), min_length), max(float(sides[0]), min_width)


@dataclass(frozen=True)
class CarBox:
    """A car-sized vehicle blob of one frame as a box, in cells: centre x, y and yaw of its long side,
    length, width, bottom and top layers (inclusive), and whether the grid's edge cuts the blob."""

    frame: int
    pose: np.ndarray
    length: float
    width: float
    layers: tuple[int, int]
    cut: bool


def car_boxes(labels: np.ndarray, grid: GridSpec) -> tuple[list[CarBox], np.ndarray]:
    """Every car-sized vehicle blob of every frame (seen from above, at least `min_car_cells`) as the
    oriented rectangle of its second moments (`blob_box`; at least the smallest car unless the grid's
    edge cuts it; a heading close to an axis put on it, `on_axis`) between the median bottom and top of
    its columns; and the (T, X, Y, Z) bool mask of those blobs' vehicle voxels."""
    cell = max(grid.voxel_size[0], grid.voxel_size[1])
    min_cells, min_length, min_width = min_car_cells(grid), MIN_CAR_LENGTH_M / cell, MIN_CAR_WIDTH_M / cell
    boxes, mask = [], np.zeros(labels.shape, bool)
    for t, frame in enumerate(labels):
        blob, sizes, cut = vehicle_blobs(frame)
        vehicle, cars = frame == VEHICLE, np.flatnonzero(sizes >= min_cells)
        for car in cars:
            columns = vehicle[blob == car]  # (N, Z)
            layers = (int(np.median(columns.argmax(axis=1))),
                      int(np.median(columns.shape[1] - 1 - columns[:, ::-1].argmax(axis=1))))
            at_least = (1.0, 1.0) if cut[car] else (min_length, min_width)
            pose, length, width = blob_box(np.argwhere(blob == car).astype(float), *at_least)
            pose[2] = on_axis(pose[2])
            boxes.append(CarBox(t, pose, length, width, layers, bool(cut[car])))
        mask[t] = np.isin(blob, cars)[..., None] & vehicle
    return boxes, mask


def on_axis(yaw: float) -> float:
    """`yaw` put on the nearest of the grid's axes when within `AXIS_SNAP_DEG` of it."""
    nearest = np.round(yaw / (np.pi / 2)) * (np.pi / 2)
    return float(nearest) if abs(yaw - nearest) <= np.radians(AXIS_SNAP_DEG) else float(yaw)


def predicted_centre(track: list[CarBox], frame: int) -> np.ndarray:
    """Where a track's box should be at `frame`: its last centre moved on at the speed of its last two."""
    last = track[-1].pose[:2]
    if len(track) < 2:
        return last
    before = track[-2]
    velocity = (last - before.pose[:2]) / (track[-1].frame - before.frame)
    return last + velocity * (frame - track[-1].frame)


def link_tracks(boxes: list[CarBox], frames: int, reach: float, max_gap: int = MAX_TRACK_GAP) -> list[list[CarBox]]:
    """Tracks of the boxes: frame by frame, the closest pairs of a track and a box within `reach` cells
    of its predicted centre (`predicted_centre`), or of its last box when a jump threw the prediction
    off, are joined first; a box left over starts a track, and a track ends after `max_gap` frames
    without a box."""
    tracks, live = [], []
    for t in range(frames):
        current = [box for box in boxes if box.frame == t]
        pairs = sorted((min(float(np.linalg.norm(box.pose[:2] - predicted_centre(track, t))),
                            float(np.linalg.norm(box.pose[:2] - track[-1].pose[:2]))), i, j)
                       for i, track in enumerate(live) for j, box in enumerate(current))
        taken_tracks, taken_boxes = set(), set()
        for distance, i, j in pairs:
            if distance <= reach and i not in taken_tracks and j not in taken_boxes:
                live[i].append(current[j])
                taken_tracks.add(i)
                taken_boxes.add(j)
        live = [track for track in live if t - track[-1].frame <= max_gap]
        new = [[box] for j, box in enumerate(current) if j not in taken_boxes]
        tracks += new
        live += new
    return tracks


def local_fit(times: np.ndarray, values: np.ndarray, at: np.ndarray, half_window: int = SMOOTH_HALF_WINDOW) -> np.ndarray:
    """(len(at), D) values at times `at` of the least-squares quadratic through the (N, D) `values` at
    the other `times` within `half_window` frames of each (a line through 2 or 3 of them, their mean for
    1; the value at `at` itself only when there is no other; the line through the nearest two when
    none is within the window): each value is judged by its neighbours."""
    out = np.empty((len(at), values.shape[1]))
    for k, t in enumerate(at):
        distance = np.abs(times - t)
        near = (distance <= half_window) & (times != t)
        if not near.any():
            near = times == t if (times == t).any() else distance <= np.sort(distance)[min(1, len(times) - 1)]
        degree = 2 if near.sum() >= 4 else min(1, int(near.sum()) - 1)
        out[k] = [np.polyval(np.polyfit(times[near], column, degree), t) for column in values[near].T]
    return out


def on_course(times: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N,) bool: the boxes (frames `times`, (N, 2) `centres`) left when the one farthest from where its
    neighbours put it (`local_fit`) is set aside, again and again while it is more than `SNAP_CELLS`
    away: one jump off a track then no longer bends the fit of the boxes around it."""
    keep = np.ones(len(times), bool)
    while keep.sum() > 2:
        residual = np.linalg.norm(local_fit(times[keep], centres[keep], times[keep]) - centres[keep], axis=1)
        if residual.max() <= SNAP_CELLS:
            break
        keep[np.flatnonzero(keep)[residual.argmax()]] = False
    return keep


def smooth_track(track: list[CarBox]) -> list[CarBox]:
    """A track's boxes with the gaps filled and the motion smoothed: the boxes the grid's edge cuts stay
    as they are; at every other frame from the first to the last box it does not cut, one box with its
    centre on the local least-squares quadratic (`local_fit`) through those boxes' centres over time
    (those `on_course`), heading the way the car then moves (at `MOVING_CELLS` a frame or more) or else
    on the same fit of their doubled angle (a box's long side has no front), and their median length,
    width and layers. A box already close to that box (`close_to`) stays as it is, so a car that moves
    smoothly keeps its own cells."""
    whole = [box for box in track if not box.cut]
    kept = [box for box in track if box.cut]
    if not whole:
        return kept
    times = np.array([box.frame for box in whole], float)
    centres = np.array([box.pose[:2] for box in whole])
    course = on_course(times, centres)
    taken = {box.frame for box in kept}
    every = np.array([t for t in range(whole[0].frame, whole[-1].frame + 1) if t not in taken], float)
    xy = local_fit(times[course], centres[course], every)
    doubled = np.array([[np.cos(2 * box.pose[2]), np.sin(2 * box.pose[2])] for box in whole])
    heading = local_fit(times[course], doubled[course], every)
    yaw = 0.5 * np.arctan2(heading[:, 1], heading[:, 0])
    if len(every) > 1:  # a moving car points where it goes, whatever shape its blob has
        velocity = np.gradient(xy, every, axis=0)
        moving = np.linalg.norm(velocity, axis=1) >= MOVING_CELLS
        yaw[moving] = np.arctan2(velocity[moving, 1], velocity[moving, 0])
    yaw = [on_axis(a) for a in yaw]
    length, width = float(np.median([b.length for b in whole])), float(np.median([b.width for b in whole]))
    layers = (int(np.median([b.layers[0] for b in whole])), int(np.median([b.layers[1] for b in whole])))
    seen = {box.frame: box for box in whole}
    smooth = [CarBox(int(t), np.array([x, y, a]), length, width, layers, False) for t, (x, y), a in zip(every, xy, yaw)]
    return kept + [seen[box.frame] if box.frame in seen and close_to(seen[box.frame], box) else box for box in smooth]


def close_to(box: CarBox, other: CarBox) -> bool:
    """Whether two boxes' centres, lengths and widths are within `SNAP_CELLS` of each other, headings
    within 10°."""
    turn = abs(np.sin(box.pose[2] - other.pose[2]))  # a long side has no front
    return (np.linalg.norm(box.pose[:2] - other.pose[:2]) <= SNAP_CELLS and abs(box.length - other.length) <= SNAP_CELLS
            and abs(box.width - other.width) <= SNAP_CELLS and turn <= np.sin(np.radians(10)))


def is_flicker(track: list[CarBox], frames: int) -> bool:
    """A car seen in fewer than `MIN_TRACK_BOXES` frames of a clip of more, never at the grid's edge: no
    real car comes and goes inside the grid, and so few boxes do not tell where it was before or after."""
    return len(track) < min(MIN_TRACK_BOXES, frames) and not any(box.cut for box in track)


def track_velocity(boxes: list[CarBox]) -> np.ndarray:
    """(2,) cells a frame: the slope of the least-squares line through the centres of the first
    `MIN_TRACK_BOXES` of `boxes` over their frames (0 for one box)."""
    times = np.array([box.frame for box in boxes[:MIN_TRACK_BOXES]], float)
    centres = np.array([box.pose[:2] for box in boxes[:MIN_TRACK_BOXES]])
    if len(times) < 2:
        return np.zeros(2)
    return np.array([np.polyfit(times, column, 1)[0] for column in centres.T])


def continuations(track: list[CarBox], frames: int, reach: float) -> list[list[CarBox]]:
    """Where a car seen in at least `CONTINUED_TRACK_BOXES` frames (or the whole of a shorter clip) was
    before its first box and after its last: from the first (last) box, one box a frame at the speed of
    the first (last) `MIN_TRACK_BOXES` boxes (at most `reach` cells a frame) to the clip's first (last)
    frame; a car seen from the first frame, or cut by the edge at that end, needs none. A real car does
    not appear or vanish inside the grid, so the generated one that does was there all along: driving
    in or out of view, or standing still. Returned outwards from the track, backwards first; the caller
    stops one where it leaves the grid or meets something (`vehicle_boxes`)."""
    ordered = sorted(track, key=lambda box: box.frame)
    if len(ordered) < min(CONTINUED_TRACK_BOXES, frames):
        return [[], []]
    ends = []
    for end, inner, step, last in ((ordered[0], ordered, -1, 0), (ordered[-1], ordered[::-1], 1, frames - 1)):
        if end.cut or end.frame == last:
            ends.append([])
            continue
        velocity = track_velocity(inner)
        speed = float(np.linalg.norm(velocity))
        velocity = velocity * min(1.0, reach / speed) if speed > 0 else velocity
        ends.append([CarBox(t, np.array([*(end.pose[:2] + velocity * (t - end.frame)), end.pose[2]]), end.length,
                            end.width, end.layers, False)
                     for t in range(end.frame + step, last + step, step)])
    return ends


def vehicle_boxes(labels: np.ndarray, fallback: np.ndarray, grid: GridSpec,
                  editable: np.ndarray | None = None) -> np.ndarray:
    """`labels` with its cars redrawn as solid boxes that move smoothly. Every car-sized vehicle blob
    becomes a box (`car_boxes`); the boxes are linked over the frames into tracks (`link_tracks`, within
    `TRACK_REACH_M` a frame); tracks that are flickers (`is_flicker`) are dropped; a track's motion is
    smoothed and its gaps filled (`smooth_track`). The blobs' own vehicle voxels are relabelled from
    `fallback` (the decoder's best class other than vehicle, same shape) and each box then fills the
    free voxels and those, so it never covers a building, a road or anything else the scene holds
    (`BoxCanvas.draw`: the longer tracks first, a box mostly on a car drawn before skipped, a cell's
    gap kept from the others). Last, a long-seen car that appears or vanishes inside the grid is
    continued to the clip's ends (`continuations`), frame by frame until it leaves the grid or would
    meet another car or anything solid. Smaller blobs are left as they are (`remove_vehicle_specks`
    takes the specks); with `editable` (bool, same shape), only voxels there change."""
    boxes, blobs = car_boxes(labels, grid)
    reach = TRACK_REACH_M / max(grid.voxel_size[0], grid.voxel_size[1])
    tracks = [smooth_track(track) for track in link_tracks(boxes, len(labels), reach)
              if not is_flicker(track, len(labels))]
    redrawn = np.where(blobs, fallback, labels)
    canvas = BoxCanvas(redrawn, blobs)
    tracks.sort(key=len, reverse=True)  # where two overlap, the longer track's car is drawn
    for box in (box for track in tracks for box in track):
        canvas.draw(box)
    for track in tracks:
        for continuation in continuations(track, len(labels), reach):
            for box in continuation:
                if not canvas.draw(box, continuing=True):
                    break
    out = redrawn if editable is None else np.where(editable, redrawn, labels)
    return out.astype(labels.dtype)


SURFACES = [PALETTE.class_id(name) for name in ("road", "ground", "sidewalk")]  # a car may stand on these


class BoxCanvas:
    """(T, X, Y, Z) class ids that car boxes are drawn into, in place; `cleared` (bool, same shape): the
    voxels the cars' blobs held, which a box may fill as well as free ones."""

    def __init__(self, labels: np.ndarray, cleared: np.ndarray) -> None:
        self.labels, self.cleared = labels, cleared
        self.centres_x = np.arange(labels.shape[1], dtype=float)
        self.centres_y = np.arange(labels.shape[2], dtype=float)
        self.layers = np.arange(labels.shape[3])

    def draw(self, box: CarBox, *, continuing: bool = False) -> bool:
        """Fill the box's free and cleared voxels with vehicle, but those beside another car
        (`beside_cars`); whether it was drawn. It is not when it misses the grid, nor when more than
        `MAX_CAR_OVERLAP` of it is another car drawn before (the same car found twice), nor, `continuing`
        a track past its boxes, when it would meet another car at all or anything but a surface (road,
        ground, sidewalk) the cars stand on."""
        window = box_footprint(self.centres_x, self.centres_y, box.pose, box.length + 1e-6, box.width + 1e-6)
        if window is None or not window[2].any():
            return False
        along_x, along_y, inside = window
        height = (self.layers >= box.layers[0]) & (self.layers <= box.layers[1])
        frame, cleared = self.labels[box.frame, along_x, along_y], self.cleared[box.frame, along_x, along_y]
        volume = inside[..., None] & height
        cars = (volume & (frame == VEHICLE)).sum()
        fillable = (frame == FREE) | (cleared & (frame != VEHICLE))
        if continuing and (cars or (volume & ~fillable & ~np.isin(frame, SURFACES)).any()):
            return False
        if cars > MAX_CAR_OVERLAP * volume.sum():
            return False
        apart = ~self.beside_cars(box.frame)[along_x, along_y]
        frame[volume & fillable & apart[..., None]] = VEHICLE
        return True

    def beside_cars(self, frame: int) -> np.ndarray:
        """(X, Y) bool: the cells seen from above that hold a vehicle, or touch one along a side, in `frame`
        (a car drawn now keeps a cell's gap from them, as real cars do, so no two merge into one blob)."""
        cars = (self.labels[frame] == VEHICLE).any(axis=2)
        beside = cars.copy()
        beside[1:] |= cars[:-1]
        beside[:-1] |= cars[1:]
        beside[:, 1:] |= cars[:, :-1]
        beside[:, :-1] |= cars[:, 1:]
        return beside
