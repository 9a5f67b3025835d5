"""Scenario planning for the procedural city: the ego's drive, the road network it needs, and traffic.

A clip is planned around the ego's drive: first the command (STATIC at a red light, FORWARD, possibly
braking, LEFT or RIGHT at an intersection ahead), then a road network that makes that drive possible
(junctions where the turn or the stop happens, more cross streets and parallel streets around), then
vehicles in every lane (through traffic, right turns, queues at the red light: one axis of every
junction is red) and pedestrians on the sidewalks. Everything is in frame 0's ego frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.city import LANE_WIDTH, Road
from core.data.palette import CLASS
from core.data.traffic import Agent, Path, SpeedProfile, straight_path, turn_path, walk_path
from core.types import Command, Trajectory

EGO_LENGTH, EGO_WIDTH = 4.6, 1.9
COMMAND_WEIGHTS = {Command.STATIC: 0.15, Command.FORWARD: 0.35, Command.LEFT: 0.25, Command.RIGHT: 0.25}


@dataclass(frozen=True)
class Plan:
    """Everything a clip is made of, in frame 0's ego frame."""

    roads: list[Road]
    ego: Agent
    stop_axis: int  # roads along this axis have the red light at the junctions


def draw_command(rng: np.random.Generator) -> Command:
    """The command of a drive, at the city's frequencies (`COMMAND_WEIGHTS`)."""
    choices = list(COMMAND_WEIGHTS)
    return choices[int(rng.choice(len(choices), p=list(COMMAND_WEIGHTS.values())))]


def plan_ego(rng: np.random.Generator, command: Command, duration: float) -> Plan:
    """Pick a main road, junctions and an ego drive that realise `command` inside the grid."""
    for _ in range(100):
        plan = _try_plan(rng, command, duration)
        if plan is not None:
            return plan
    raise RuntimeError(f"could not plan a {command.name} drive")  # unreachable in practice


def typical_path(command: Command, *, frames: int, clip_frames: int, frame_interval: float, seed: int) -> Trajectory:
    """A drive of `frames` frames that realises `command` in its first clip, as the city plans its own
    ego drives (so it is a path the models saw in training): (T, 3) relative to frame 0. Seeds that
    the planner realises as another command (a turn that starts too late) are skipped."""
    from core.conditions.command import command_from_trajectory
    from core.conditions.drawings import relative_to_first

    times = np.arange(frames) * frame_interval
    for attempt in range(100):
        rng = np.random.default_rng([int(seed), attempt])
        poses = plan_ego(rng, command, (clip_frames - 1) * frame_interval).ego.poses(times)
        trajectory = relative_to_first(poses)
        if command_from_trajectory(Trajectory(trajectory.poses[:clip_frames])) is command:
            return trajectory
    raise RuntimeError(f"could not plan a {command.name} path")  # unreachable in practice


def _try_plan(rng: np.random.Generator, command: Command, duration: float) -> Plan | None:
    lanes = int(rng.choice([1, 2], p=[0.6, 0.4]))
    ego_lane = lanes - 1 if command is Command.RIGHT else (0 if command is Command.LEFT else int(rng.integers(lanes)))
    main = Road(0, (ego_lane + 0.5) * LANE_WIDTH, lanes)
    cross_lanes = int(rng.choice([1, 2], p=[0.7, 0.3]))
    speed = rng.uniform(3.0, min(7.0, 19.0 / duration))
    if command in (Command.LEFT, Command.RIGHT):
        turn = 1 if command is Command.LEFT else -1
        radius = rng.uniform(8.0, 11.0) if turn > 0 else rng.uniform(5.0, 7.5)
        arc = np.pi / 2 * radius
        reach = speed * duration
        straight = rng.uniform(max(0.0, reach - arc - 2.0), max(0.5, reach - 0.6 * arc))
        out_dir = turn  # a left turn from +X heads +Y; a right turn heads -Y
        corner_x = straight + radius
        cross_centre = corner_x - out_dir * 0.5 * LANE_WIDTH if turn > 0 else corner_x + 0.5 * LANE_WIDTH
        cross = Road(1, cross_centre, cross_lanes, _t_span(rng, main, out_dir))
        if cross_centre - cross.half_width < 3.0:
            return None
        path = turn_path(main, 1, ego_lane, 0.0, cross, turn, radius)
        profile = SpeedProfile(speed)
        stop_axis = 1
    else:
        path = straight_path(main, 1, ego_lane, 0.0)
        if command is Command.STATIC:
            stop_line = rng.uniform(3.0, 9.0)
            cross = Road(1, stop_line + cross_lanes * LANE_WIDTH + 0.3, cross_lanes)
            profile, stop_axis = SpeedProfile(0.0, 0.0), 0
        else:
            cross = Road(1, rng.uniform(-30.0, 35.0), cross_lanes, _t_span(rng, main, 0))
            braking = rng.random() < 0.25
            profile = SpeedProfile(speed, speed * duration * rng.uniform(0.5, 0.9) if braking else None)
            stop_axis = 1
    ego = Agent(CLASS["vehicle"], EGO_LENGTH, EGO_WIDTH, 5, path, 0.0, profile)
    return Plan(_add_network(rng, main, cross), ego, stop_axis)


def _t_span(rng: np.random.Generator, main: Road, needed_side: int) -> tuple[float, float]:
    """A side street crossing the main road, or a T-junction ending at it (keeping `needed_side`)."""
    if rng.random() < 0.7:
        return (-1e9, 1e9)
    side = needed_side if needed_side else int(rng.choice([-1, 1]))
    return (main.centre, 1e9) if side > 0 else (-1e9, main.centre)


def _add_network(rng: np.random.Generator, main: Road, cross: Road) -> list[Road]:
    roads = [main, cross]
    for direction in (-1, 1):  # further cross streets before and after
        x = cross.centre + direction * rng.uniform(38.0, 60.0)
        if rng.random() < 0.7:
            roads.append(Road(1, x, int(rng.choice([1, 2], p=[0.7, 0.3]))))
    for side in (-1, 1):  # parallel streets left and right
        if rng.random() < 0.6:
            roads.append(Road(0, main.centre + side * rng.uniform(34.0, 55.0), 1))
    return roads


def plan_traffic(rng: np.random.Generator, plan: Plan, density: float) -> list[Agent]:
    """Vehicles in every lane (through, turning right, queueing at red lights) and pedestrians."""
    agents: list[Agent] = []
    junctions = [r for r in plan.roads if r.axis == 1]
    for road in plan.roads:
        for direction in (-1, 1):
            for lane in range(road.lanes_per_direction):
                agents += _lane_vehicles(rng, plan, road, direction, lane, junctions, density)
        agents += _pedestrians(rng, road, density)
    return agents


def _lane_vehicles(
    rng: np.random.Generator, plan: Plan, road: Road, direction: int, lane: int, junctions: list[Road], density: float,
) -> list[Agent]:
    is_ego_lane = road is plan.roads[0] and direction == 1 and abs(road.lane_centre(1, lane)) < 0.1
    red = road.axis == plan.stop_axis
    speed = rng.uniform(3.0, 8.0)
    agents, along, queued = [], -60.0 * direction, 0
    stop_at = _stop_line(road, direction, plan.roads) if red else None
    while abs(along) <= 60.0:
        length = rng.uniform(7.0, 11.0) if rng.random() < 0.12 else rng.uniform(4.0, 5.0)
        along += direction * (length + rng.uniform(2.0, 22.0) / density)
        if rng.random() > 0.75 or abs(along) > 60.0:
            continue
        if is_ego_lane and -14.0 < along < 26.0:
            continue
        if _in_junction(road, along, plan.roads) or not road.span[0] + length < along < road.span[1] - length:
            continue
        path = straight_path(road, direction, lane, along)
        profile = SpeedProfile(speed)
        if stop_at is not None and direction * (stop_at - along) > 0:
            gap = direction * (stop_at - along) - length / 2 - queued * 7.0
            profile = SpeedProfile(speed if gap > 0 else 0.0, max(gap, 0.0))
            queued += 1
        elif not red and road.axis == 0 and lane == road.lanes_per_direction - 1 and rng.random() < 0.35:
            path = _right_turn(road, direction, lane, along, junctions, rng) or path
        top = 8 if length > 6.5 else 5
        agents.append(Agent(CLASS["vehicle"], length, rng.uniform(1.8, 2.5 if length > 6.5 else 2.0), top, path, 0.0, profile))
    return agents


def _stop_line(road: Road, direction: int, roads: list[Road]) -> float | None:
    """The stop line of the first crossing road ahead of a lane's entry into the grid area."""
    crossings = sorted(
        (direction * r.centre, r) for r in roads if r.axis != road.axis and r.span[0] <= road.centre <= r.span[1]
    )
    for signed, r in crossings:
        if signed > -40.0:
            return direction * (signed - r.half_width - 1.0)
    return None


def _in_junction(road: Road, along: float, roads: list[Road]) -> bool:
    return any(r.axis != road.axis and abs(along - r.centre) < r.half_width + 4.0 for r in roads)


def _right_turn(
    road: Road, direction: int, lane: int, along: float, junctions: list[Road], rng: np.random.Generator,
) -> Path | None:
    ahead = [j for j in junctions if direction * (j.centre - along) > 8.0]
    if not ahead:
        return None
    nearest = min(ahead, key=lambda j: direction * (j.centre - along))
    side = -direction  # a right turn from +X heads -Y; from -X heads +Y
    if not nearest.span[0] <= road.centre + side * 10 <= nearest.span[1]:
        return None
    return turn_path(road, direction, lane, along, nearest, -1, rng.uniform(5.0, 7.0), target_lane=nearest.lanes_per_direction - 1)


def _pedestrians(rng: np.random.Generator, road: Road, density: float) -> list[Agent]:
    """Walkers on both sidewalks of a road, some standing; their lines run on across the junctions."""
    agents = []
    for side in (-1, 1):
        across = road.centre + side * (road.half_width + 1.5)
        along = rng.uniform(-60.0, -50.0)
        while along < 60.0:
            along += rng.uniform(4.0, 26.0) / density
            if rng.random() < 0.5:
                continue
            direction = int(rng.choice([-1, 1]))
            speed = 0.0 if rng.random() < 0.15 else rng.uniform(0.8, 1.6)
            path = walk_path(road.axis, across, direction, along)
            agents.append(Agent(CLASS["pedestrian"], 0.6, 0.6, 6, path, 0.0, SpeedProfile(speed)))
    return agents
