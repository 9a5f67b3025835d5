"""The static half of the procedural 4D city: roads, sidewalks, blocks, buildings, trees, poles, clutter.

The world is built in the ego frame of frame 0 (X forward, Y left) as a bird's-eye column map
`volume[ix, iy, iz]` of class ids at the target grid's x/y resolution and z layers, covering twice the
grid's extent so that ego-convention frames, which move and turn with the car, stay inside it.
Layer 0 is the ground surface (road, sidewalk, ground); objects stand on it from layer 1 up.
The layout follows CarlaSC's towns: a road grid with intersections, sidewalks along every road, blocks
of buildings (facades only: their inside is never observed by the sensors that label CarlaSC), yards,
parks, street trees, hedges, fences and walls, street lights and signs, and some clutter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.data.palette import CLASS
from core.types import GridSpec

LANE_WIDTH = 3.5


@dataclass(frozen=True)
class Road:
    """A straight road: along X (`axis` 0, centre is its y) or along Y (`axis` 1, centre is its x).

    `span` limits it along its own axis (metres), so a side street can end at a T-junction.
    """

    axis: int
    centre: float
    lanes_per_direction: int
    span: tuple[float, float] = (-1e9, 1e9)

    @property
    def half_width(self) -> float:
        return self.lanes_per_direction * LANE_WIDTH

    def lane_centre(self, direction: int, lane: int = 0) -> float:
        """Cross-axis coordinate of a lane. Traffic keeps right: right of +X is -Y, right of +Y is +X."""
        offset = (lane + 0.5) * LANE_WIDTH
        if self.axis == 0:
            return self.centre - direction * offset
        return self.centre + direction * offset


@dataclass
class WorldMap:
    """A bird's-eye column map of the static world, `volume[ix, iy, iz]`, cell size `resolution`."""

    volume: np.ndarray  # (W, W, Z) uint8
    origin: float  # metric coordinate of cell 0's lower edge, the same along x and y
    resolution: float
    roads: list[Road] = field(default_factory=list)
    sidewalk_width: float = 3.0

    @property
    def size(self) -> int:
        return self.volume.shape[0]

    def index(self, metres: np.ndarray | float) -> np.ndarray:
        return np.floor((np.asarray(metres) - self.origin) / self.resolution).astype(np.int64)

    def centres(self) -> np.ndarray:
        return self.origin + (np.arange(self.size) + 0.5) * self.resolution

    def fill_box(self, x0: float, x1: float, y0: float, y1: float, z0: int, z1: int, value: int) -> None:
        """Set layers z0..z1-1 of the cells whose centres lie in [x0, x1) × [y0, y1)."""
        ix0, ix1 = self._cell_range(x0, x1)
        iy0, iy1 = self._cell_range(y0, y1)
        self.volume[ix0:ix1, iy0:iy1, z0:z1] = value

    def _cell_range(self, low: float, high: float) -> tuple[int, int]:
        start = int(np.ceil((low - self.origin) / self.resolution - 0.5))
        stop = int(np.ceil((high - self.origin) / self.resolution - 0.5))
        return max(start, 0), min(max(stop, start + 1), self.size)


def empty_world(grid: GridSpec) -> WorldMap:
    resolution = grid.voxel_size[0]
    # Twice the grid's half extent on each side, and never less than a city block or two around.
    half = max(grid.extent[0], grid.extent[1], 51.2)
    cells = int(round(2 * half / resolution))
    return WorldMap(np.zeros((cells, cells, grid.cells[2]), np.uint8), -half, resolution)


def road_masks(world: WorldMap, roads: list[Road], extra_road: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(road, sidewalk) bird's-eye masks: sidewalks are a band of `sidewalk_width` around every road."""
    c = world.centres()
    road = np.zeros((world.size, world.size), bool)
    for r in roads:
        along, across = (c[:, None], c[None, :]) if r.axis == 0 else (c[None, :], c[:, None])
        inside = (np.abs(across - r.centre) <= r.half_width) & (along >= r.span[0]) & (along <= r.span[1])
        road |= inside
    if extra_road is not None:
        road |= extra_road
    sidewalk = dilate(road, int(round(world.sidewalk_width / world.resolution))) & ~road
    return road, sidewalk


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a 2D mask by a (2r+1)² square, separably with shifted ORs."""
    rows = mask.copy()
    for shift in range(1, radius + 1):
        rows[shift:] |= mask[:-shift]
        rows[:-shift] |= mask[shift:]
    out = rows.copy()
    for shift in range(1, radius + 1):
        out[:, shift:] |= rows[:, :-shift]
        out[:, :-shift] |= rows[:, shift:]
    return out


def paint_ground(world: WorldMap, road: np.ndarray, sidewalk: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Layer 0: road, sidewalk, and terrain in the blocks (with bare, unlabelled patches). Returns blocks."""
    blocks = ~(road | sidewalk)
    ground = world.volume[:, :, 0]
    ground[road] = CLASS["road"]
    ground[sidewalk] = CLASS["sidewalk"]
    # Terrain near the street is mown verge; further in, lots are often paved or unlabelled (free).
    verge = dilate(road | sidewalk, int(round(rng.uniform(2.0, 6.0) / world.resolution))) & blocks
    patches = _blobs(world.size, rng, count=int(rng.integers(3, 8)), radius=(4.0 / world.resolution, 12.0 / world.resolution))
    ground[verge | (patches & blocks)] = CLASS["ground"]
    return blocks


def _blobs(size: int, rng: np.random.Generator, *, count: int, radius: tuple[float, float]) -> np.ndarray:
    ii, jj = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    out = np.zeros((size, size), bool)
    for _ in range(count):
        ci, cj, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(*radius)
        out |= (ii - ci) ** 2 + (jj - cj) ** 2 <= r * r
    return out


def place_buildings(world: WorldMap, blocks: np.ndarray, rng: np.random.Generator) -> None:
    """Facade shells of varied footprint and height, set back from the street, on free block land."""
    nz = world.volume.shape[2]
    taken = ~blocks
    attempts = int(rng.integers(60, 120))
    for _ in range(attempts):
        size = rng.uniform([6.0, 6.0], [22.0, 18.0]) / world.resolution
        sx, sy = int(size[0]), int(size[1])
        ix, iy = int(rng.integers(0, world.size - sx)), int(rng.integers(0, world.size - sy))
        margin = max(1, int(round(rng.uniform(1.0, 4.0) / world.resolution)))
        region = taken[max(ix - margin, 0): ix + sx + margin, max(iy - margin, 0): iy + sy + margin]
        if region.any():
            continue
        top = nz if rng.random() < 0.65 else int(rng.integers(nz // 2 + 1, nz))
        _building_shell(world.volume, ix, iy, sx, sy, top)
        taken[ix: ix + sx, iy: iy + sy] = True


def _building_shell(volume: np.ndarray, ix: int, iy: int, sx: int, sy: int, top: int) -> None:
    block = volume[ix: ix + sx, iy: iy + sy]
    block[:, :, 0] = 0  # the floor inside is never seen
    block[[0, -1], :, 1:top] = CLASS["building"]
    block[:, [0, -1], 1:top] = CLASS["building"]
    if top < volume.shape[2]:  # a low building's roof is inside the grid's height
        block[:, :, top - 1] = CLASS["building"]


def place_street_furniture(world: WorldMap, road: np.ndarray, sidewalk: np.ndarray, rng: np.random.Generator) -> None:
    """Street lights and signs at the kerb, street trees, bins and benches on the sidewalk."""
    nz = world.volume.shape[2]
    kerb = sidewalk & dilate(road, 1)
    kerb_cells = np.argwhere(kerb)
    if len(kerb_cells) == 0:
        return
    lights = kerb_cells[rng.random(len(kerb_cells)) < world.resolution / rng.uniform(14.0, 24.0)]
    for ix, iy in lights:
        world.volume[ix, iy, 1:nz] = CLASS["pole"]
    signs = kerb_cells[rng.random(len(kerb_cells)) < world.resolution / 30.0]
    for ix, iy in signs:
        world.volume[ix, iy, 1: max(2, nz - 3)] = CLASS["pole"]
    outer = sidewalk & ~dilate(road, 1)
    outer_cells = np.argwhere(outer & (world.volume[:, :, 1] == 0))
    trees = outer_cells[rng.random(len(outer_cells)) < world.resolution / rng.uniform(10.0, 40.0) / 3]
    for ix, iy in trees:
        plant_tree(world, ix, iy, rng)
    clutter = outer_cells[rng.random(len(outer_cells)) < world.resolution / 25.0]
    for ix, iy in clutter:
        world.volume[ix: ix + 2, iy: iy + 1, 1: int(rng.integers(2, 4))] = CLASS["other"]


def plant_tree(world: WorldMap, ix: int, iy: int, rng: np.random.Generator) -> None:
    nz = world.volume.shape[2]
    radius = rng.uniform(1.0, 2.6) / world.resolution
    low = min(int(rng.integers(2, 4)), nz - 1)
    high = max(int(rng.integers(nz - 2, nz + 1)), low + 1)  # low grids still get a canopy layer
    r = int(np.ceil(radius))
    x0, y0 = max(ix - r, 0), max(iy - r, 0)
    window = world.volume[x0: ix + r + 1, y0: iy + r + 1]
    gx, gy = np.meshgrid(np.arange(x0, x0 + window.shape[0]), np.arange(y0, y0 + window.shape[1]), indexing="ij")
    canopy = (gx - ix) ** 2 + (gy - iy) ** 2 <= radius * radius
    layers = window[:, :, low:high]
    layers[canopy & (layers[..., 0] == 0)] = CLASS["vegetation"]
    world.volume[ix, iy, 1:low] = CLASS["vegetation"]


def place_yard_features(world: WorldMap, blocks: np.ndarray, sidewalk: np.ndarray, rng: np.random.Generator) -> None:
    """Hedges, fences and walls along block edges, park trees, and sheds and boxes ('other')."""
    edge = blocks & dilate(sidewalk, 1)
    free = world.volume[:, :, 1] == 0
    edge_cells = np.argwhere(edge & free)
    if len(edge_cells):
        # Edges come in 10 m segments, each a hedge, a fence or open, so runs look built, not noisy.
        segment = (edge_cells[:, 0] * world.resolution // 10 * 7 + edge_cells[:, 1] * world.resolution // 10 * 13) % 5
        kinds = rng.permutation(5)
        hedge = segment == kinds[0]
        fence = (segment == kinds[1]) | (segment == kinds[2])
        for (ix, iy) in edge_cells[hedge]:
            world.volume[ix, iy, 1:3] = CLASS["vegetation"]
        for (ix, iy) in edge_cells[fence]:
            world.volume[ix, iy, 1: int(rng.integers(2, 4))] = CLASS["barrier"]
    open_land = np.argwhere(blocks & (world.volume[:, :, 1] == 0))
    if len(open_land) == 0:
        return
    for ix, iy in open_land[rng.random(len(open_land)) < rng.uniform(0.0005, 0.004)]:
        plant_tree(world, ix, iy, rng)
    for ix, iy in open_land[rng.random(len(open_land)) < 0.0015]:
        sx, sy = rng.integers(1, 4, size=2)
        world.volume[ix: ix + sx, iy: iy + sy, 1: int(rng.integers(2, 5))] = CLASS["other"]


def add_median_barriers(world: WorldMap, roads: list[Road], junctions: np.ndarray) -> None:
    """Wide roads get a low barrier on their centre line, open at intersections."""
    c = world.centres()
    for r in roads:
        if r.lanes_per_direction < 2:
            continue
        line = np.abs(c - r.centre) < world.resolution / 2
        along = (c >= r.span[0]) & (c <= r.span[1])
        mask = (along[:, None] & line[None, :]) if r.axis == 0 else (line[:, None] & along[None, :])
        mask &= ~junctions
        world.volume[mask, 1] = CLASS["barrier"]


def junction_mask(world: WorldMap, roads: list[Road]) -> np.ndarray:
    """Cells where an X road and a Y road cross, grown by a margin for the turning arcs."""
    c = world.centres()
    x_cover = np.zeros((world.size, world.size), bool)
    y_cover = np.zeros_like(x_cover)
    for r in roads:
        if r.axis == 0:
            x_cover |= (np.abs(c[None, :] - r.centre) <= r.half_width + 8) & (c[:, None] >= r.span[0]) & (c[:, None] <= r.span[1])
        else:
            y_cover |= (np.abs(c[:, None] - r.centre) <= r.half_width + 8) & (c[None, :] >= r.span[0]) & (c[None, :] <= r.span[1])
    return x_cover & y_cover


def build_world(
    grid: GridSpec, roads: list[Road], rng: np.random.Generator, *, extra_road: np.ndarray | None = None,
    sidewalk_width: float = 3.0,
) -> WorldMap:
    """Rasterise a road network and fill its blocks with buildings, vegetation and street furniture."""
    world = empty_world(grid)
    world.roads, world.sidewalk_width = roads, sidewalk_width
    road, sidewalk = road_masks(world, roads, extra_road)
    blocks = paint_ground(world, road, sidewalk, rng)
    place_buildings(world, blocks, rng)
    place_street_furniture(world, road, sidewalk, rng)
    place_yard_features(world, blocks, sidewalk, rng)
    add_median_barriers(world, roads, junction_mask(world, roads) | (extra_road if extra_road is not None else False))
    return world
