"""The evaluation suite's requests: what is asked of the generator for each real clip."""

from core.eval import suite
from core.types import GridSpec

GRID = GridSpec.preset("cpu")


def test_conditions_of_a_clip_ask_for_what_was_chosen():
    clip = suite.real_clips(GRID, suite.CONDITIONS, 1)[0]
    full = suite.conditions_of(clip)
    assert full.command == clip.command and full.trajectory is clip.trajectory
    assert (full.layout.static == clip.layout.static).all() and full.layout.vehicles is None  # drawn: static only
    with_vehicles = suite.conditions_of(clip, vehicles=True)
    assert with_vehicles.layout.vehicles is clip.layout.vehicles and clip.layout.vehicles.any()
    bare = suite.conditions_of(clip, command=False, trajectory=False, layout=False, vehicles=True)
    assert bare.command is None and bare.trajectory is None and bare.layout is None  # vehicles are part of the layout
