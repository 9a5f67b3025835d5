"""Author view: canvas → layout, clicks → trajectory → command, Generate, and every bad drawing."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import authoring
from app.authoring import AUTO, CANVAS, AuthorState
from app.handlers import SessionState
from core.data.palette import PALETTE
from core.types import Command, Conditions, GridSpec, InputError, Layout, SamplerSettings, Trajectory
from tests.app.fake_service import TINY, FakeService

CPU = GridSpec.preset("cpu")
CENTRE = CANVAS / 2


def painted_canvas(classes: dict[str, tuple[slice, slice]]) -> dict:
    picture = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    for name, (rows, cols) in classes.items():
        picture[rows, cols, :3] = PALETTE.colors[PALETTE.class_id(name)]
        picture[rows, cols, 3] = 255
    return {"background": None, "layers": [], "composite": picture}


def path(*points) -> AuthorState:
    state = AuthorState()
    for row, col in points:
        state = authoring.add_waypoint(state, row, col)
    return state


def test_two_brushes_become_a_layout_and_an_empty_canvas_is_no_layout():
    canvas = painted_canvas({"road": (slice(0, CANVAS), slice(224, 288)), "building": (slice(0, 128), slice(0, 128))})
    layout = authoring.layout_from_canvas(canvas, CPU)
    road, building = PALETTE.class_id("road"), PALETTE.class_id("building")
    assert layout.static.shape == (64, 64) and set(np.unique(layout.static)) == {0, road, building}
    assert layout.static[63, 63] == building  # top-left of the picture: far ahead, on the left
    assert (layout.static[:, 28:36] == road).all()
    assert authoring.layout_from_canvas(painted_canvas({}), CPU) is None
    assert authoring.layout_from_canvas(None, CPU) is None


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 11).map(lambda c: c), st.integers(1, 63), st.integers(1, 63))
def test_canvas_round_trip(class_id, x, y):
    static = np.zeros((64, 64), np.uint8)
    static[:x, :y] = class_id
    picture = authoring.canvas_from_layout(Layout(static))
    back = authoring.layout_from_canvas({"composite": picture}, CPU)
    assert np.array_equal(back.static if back is not None else np.zeros((64, 64), np.uint8), static)


def test_clicks_become_a_trajectory_and_a_command():
    straight = authoring.trajectory_from_clicks(path((CENTRE, CENTRE), (CENTRE - 150, CENTRE)), CPU, speed=5, frames=16)
    assert straight.poses.shape == (16, 3) and straight.poses[-1, 0] == pytest.approx(15.0)
    assert authoring.resolve_command(AUTO, straight) is Command.FORWARD
    left = path((CENTRE, CENTRE), (CENTRE - 60, CENTRE), (CENTRE - 60, CENTRE - 100))
    turn = authoring.trajectory_from_clicks(left, CPU, speed=5, frames=16)
    assert authoring.resolve_command(AUTO, turn) is Command.LEFT
    assert authoring.resolve_command("right", turn) is Command.RIGHT  # the person's override wins
    assert authoring.resolve_command(AUTO, None) is None
    assert authoring.trajectory_from_clicks(AuthorState(), CPU, speed=5, frames=16) is None


@pytest.mark.parametrize(
    "points, speed, message",
    [
        (((CENTRE, CENTRE),), 5, "at least 2 points"),
        (((CENTRE, CENTRE), (CENTRE - 80, CENTRE), (CENTRE - 80, CENTRE - 60), (CENTRE - 40, CENTRE - 60),
          (CENTRE - 40, CENTRE + 30)), 3, "crosses itself"),
        (((CENTRE, CENTRE), (0, CENTRE)), 12, "leaves the grid"),
        (((100, 100), (0, 100)), 5, "start the trajectory at the ego car"),
        (((CENTRE, CENTRE), (CENTRE, CENTRE - 100)), 5, "first segment"),
    ],
)
def test_bad_trajectories(points, speed, message):
    with pytest.raises(InputError, match=message):
        authoring.trajectory_from_clicks(path(*points), CPU, speed=speed, frames=16)


def test_undo_and_clicks_outside():
    state = authoring.undo_waypoint(path((1, 1), (2, 2)))
    assert state.waypoints == ((1.0, 1.0),)
    with pytest.raises(InputError, match="click inside"):
        authoring.add_waypoint(state, CANVAS + 5, 3)


def test_preview_draws_the_path_over_the_layout():
    layout = Layout(np.full((64, 64), PALETTE.class_id("road"), np.uint8))
    picture = authoring.preview(layout, ((CENTRE, CENTRE), (CENTRE - 100, CENTRE)))
    assert picture.shape == (CANVAS, CANVAS, 3)
    assert tuple(picture[int(CENTRE) - 50, int(CENTRE)]) == (230, 30, 30)  # the path
    assert tuple(picture[10, 10]) == tuple(PALETTE.colors[PALETTE.class_id("road")])


def test_generate_sends_the_drawing_to_the_service(tmp_path):
    service = FakeService()
    canvas = painted_canvas({"sidewalk": (slice(0, CANVAS), slice(0, 64))})
    centre = CANVAS / 2
    author = path((centre, centre), (centre - 40, centre))
    session, view, _ = authoring.generate(
        service, SessionState(folder=str(tmp_path)), author, canvas, speed=2.0, command=AUTO,
        sampler=SamplerSettings(steps=5, seed=3), frames=4, camera="bev",
    )
    request = service.requests[-1]
    assert request.conditions.layout.static.shape == TINY.cells[:2]
    assert request.conditions.trajectory.poses.shape == (4, 3) and request.conditions.trajectory.poses[-1, 0] == pytest.approx(0.5)
    assert request.conditions.command is Command.STATIC  # the 40-pixel path is 0.5 m on the tiny grid
    assert session.scene.metadata["source"] == "generated" and view.video.endswith("bev.mp4")


class PathEcho(FakeService):
    """Records the trajectory it was given in the recipe, or makes one up for a command alone, or draws
    a forward drive for a request with nothing (as `core.generation.with_command_path`)."""

    def generate(self, request, on_progress=None):
        scene = super().generate(request, on_progress)
        drawn = request.conditions.empty()
        if drawn:
            request = replace(request, conditions=Conditions(command=Command.FORWARD))
        trajectory = request.conditions.trajectory
        if trajectory is None and request.conditions.command is not None:
            poses = np.zeros((request.frames, 3))
            poses[:, 0] = np.linspace(0.0, 1.5, request.frames)  # straight ahead, 1.5 m in all
            trajectory = Trajectory(poses)
        scene.metadata["recipe"]["conditions"] = {
            "command": None if request.conditions.command is None else request.conditions.command.name.lower(),
            "trajectory": None if trajectory is None else trajectory.poses.tolist(), **({"drawn": True} if drawn else {})}
        return scene


RECEIVED = tuple(authoring.RECEIVED)


def received_pixels(picture: np.ndarray) -> np.ndarray:
    return (picture == RECEIVED).all(axis=2)


def test_after_generate_the_preview_shows_the_path_the_model_received(tmp_path):
    service = PathEcho()
    session = SessionState(folder=str(tmp_path))
    settings = dict(speed=2.0, sampler=SamplerSettings(steps=5, seed=3), frames=4, camera="bev")
    *_, made_up = authoring.generate(service, session, AuthorState(), painted_canvas({}), command="left", **settings)
    dots = received_pixels(made_up)
    assert dots.any() and service.requests[-1].conditions.trajectory is None
    rows, cols = np.nonzero(dots[:CANVAS - 40])  # above the caption
    # the made-up path runs 1.5 m straight up from the centre: 1.5 of the tiny grid's 6.4 m is 120 pixels
    assert abs(cols.mean() - CENTRE) < 12 and rows.min() < CENTRE - 110 and rows.max() > CENTRE - 10
    assert dots[CANVAS - 40:].any()  # the caption names it

    clicked = path((CENTRE + 30, CENTRE + 30), (CENTRE - 10, CENTRE + 30))  # 40 pixels up, started off the centre
    *_, drawn = authoring.generate(service, session, clicked, painted_canvas({}), command=AUTO, **settings)
    dots = received_pixels(drawn)[:CANVAS - 40]  # above the caption
    rows, cols = np.nonzero(dots)
    # the model gets the path from the car: yellow from the centre up 40 pixels (0.5 m on the tiny grid)
    assert abs(cols.mean() - CENTRE) < 8 and rows.max() > CENTRE - 6 and rows.min() < CENTRE - 34

    *_, nothing = authoring.generate(service, session, AuthorState(), painted_canvas({}), command=AUTO, **settings)
    assert service.requests[-1].conditions.empty()  # nothing asked: the generator drew a drive and shows it
    assert np.array_equal(received_pixels(nothing)[:CANVAS - 40], received_pixels(made_up)[:CANVAS - 40])
    assert not np.array_equal(nothing[CANVAS - 40:], made_up[CANVAS - 40:])  # captioned as drawn, not as asked


def test_frames_beyond_the_view_are_counted_in_the_caption():
    far = authoring.ReceivedPath(Trajectory(np.column_stack([np.arange(16.0), np.zeros(16), np.zeros(16)])), "far")
    assert authoring.received_caption(far, TINY) == "far (12 of 16 frames beyond the view)"  # 3.2 m to the edge
    assert authoring.received_caption(far, CPU) == "far"  # 25.6 m to the edge
    assert authoring.preview(None, (), received=far, grid=TINY).shape == (CANVAS, CANVAS, 3)


def test_start_from_an_example_or_from_the_current_result(tmp_path):
    from app.handlers import SessionState
    from core.types import GridSpec, OccupancySequence

    grid = GridSpec.preset("cpu")
    names = authoring.example_layouts()
    assert {"crossroads", "straight_avenue", "t_junction"} <= set(names)
    canvas, layout = authoring.canvas_from_example("crossroads", grid)
    assert canvas.shape == (authoring.CANVAS, authoring.CANVAS, 4) and layout.static.shape == grid.cells[:2]
    road = PALETTE.class_id("road")
    assert (layout.static == road).mean() > 0.15  # two roads cross
    with pytest.raises(InputError, match="no example layout 'nowhere'"):
        authoring.canvas_from_example("nowhere", grid)
    with pytest.raises(InputError, match="choose an example"):
        authoring.canvas_from_example(None, grid)

    with pytest.raises(InputError, match="no result yet"):
        authoring.canvas_from_result(SessionState(folder=str(tmp_path)))
    labels = np.zeros(grid.shape, np.uint8)
    labels[:, :, :, 0] = road
    labels[:, 10:16, 30:33, 1] = PALETTE.class_id("vehicle")  # a car on the road is not part of the layout
    _, from_result = authoring.canvas_from_result(SessionState(folder=str(tmp_path), scene=OccupancySequence(labels, grid)))
    assert (from_result.static == road).all()
