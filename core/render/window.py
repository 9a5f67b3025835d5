"""A desktop PyVista window to inspect a scene locally: a frame slider, play/pause, free camera.

The same unlit, face-coloured mesh as the offscreen renderer, swapped per frame under one actor; the
camera starts at the chosen preset's view of frame 0 and is then the user's (mouse to orbit, pan,
zoom). Keys: space plays or pauses, Left / Right step one frame. It needs a display (a desktop, or
Xvfb for tests); `auto_close_seconds` plays the clip and closes the window by itself, for tests.
"""

from __future__ import annotations

import os
import time
from typing import Any

from core.data.palette import PALETTE
from core.render.backends import BACKGROUND_RGB, import_pyvista
from core.render.camera import camera_views
from core.render.mesh import exposed_faces, shaded_face_colors
from core.render.pipeline import check_scene, present_classes
from core.render.pyvista_backend import add_unlit_actor, apply_view, to_polydata
from core.types import InputError, OccupancySequence

PLAY_INTERVAL_MS = 125  # 8 frames per second, the videos' default rate


class ScenePlayer:
    """The window's state: which frame is shown, whether it plays, and the widgets that show it."""

    def __init__(self, scene: OccupancySequence, *, camera: str = "chase", size: tuple[int, int] = (1024, 768)):
        check_scene(scene)
        self.scene = scene
        self.frame = 0
        self.playing = False
        self.frames_shown = 0
        self.slider: Any = None  # the slider calls back once while it is being created
        self._pv = import_pyvista(offscreen=False)
        self.plotter = self._pv.Plotter(window_size=list(size), title="DynamicCity Studio scene", lighting=None)
        self.plotter.set_background([v / 255 for v in BACKGROUND_RGB])
        self._actor = add_unlit_actor(self.plotter)
        self._add_widgets()
        self.show_frame(0)
        apply_view(self.plotter, camera_views(scene, camera, size[0] / size[1])[0])

    def _add_widgets(self) -> None:
        plotter, last = self.plotter, self.scene.num_frames - 1
        self.slider = plotter.add_slider_widget(
            lambda value: self.show_frame(int(round(value))), rng=[0, max(last, 1)], value=0,
            title="frame", fmt="%.0f", pointa=(0.3, 0.08), pointb=(0.95, 0.08), style="modern",
            interaction_event="always",
        )
        self._play_button = plotter.add_checkbox_button_widget(
            self.set_playing, value=False, position=(12, 20), size=36,
        )
        plotter.add_text("play / pause (space)", position=(56, 28), font_size=9, color="black")
        legend = [[PALETTE.names[c], PALETTE.colors[c] / 255] for c in present_classes(self.scene)]
        if legend:
            plotter.add_legend(
                legend, bcolor="white", border=True, face="rectangle", size=(0.18, 0.04 * len(legend)),
                loc="upper left",
            )
        plotter.add_key_event("space", lambda: self.set_playing(not self.playing))
        plotter.add_key_event("Right", lambda: self.step(1))
        plotter.add_key_event("Left", lambda: self.step(-1))

    def show_frame(self, frame: int) -> None:
        """Draw frame `frame` (clamped to the clip) and move the slider to it."""
        self.frame = min(max(int(frame), 0), self.scene.num_frames - 1)
        mesh = exposed_faces(self.scene.labels[self.frame], self.scene.grid)
        self._actor.GetMapper().SetInputData(to_polydata(self._pv, mesh, shaded_face_colors(mesh, PALETTE.colors)))
        if self.slider is not None:
            self.slider.GetRepresentation().SetValue(self.frame)
        self.frames_shown += 1
        self.plotter.render()

    def step(self, delta: int) -> None:
        """Show the frame `delta` away, wrapping around the clip's ends."""
        self.show_frame((self.frame + delta) % self.scene.num_frames)

    def set_playing(self, playing: bool) -> None:
        self.playing = bool(playing)
        self._play_button.GetRepresentation().SetState(int(self.playing))
        self.plotter.render()

    def tick(self, _step: Any = None) -> None:
        """Timer callback: advance one frame while playing."""
        if self.playing:
            self.step(1)


def _check_display() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise InputError("--window needs a display: run it on a desktop, or under Xvfb (DISPLAY is not set)")


def run_window(
    scene: OccupancySequence, *, camera: str = "chase", auto_close_seconds: float | None = None,
) -> int:
    """Open the window and block until it is closed; returns how many frame updates were drawn."""
    _check_display()
    player = ScenePlayer(scene, camera=camera)
    started = time.monotonic()

    def on_timer(step: Any) -> None:
        player.tick(step)
        if auto_close_seconds is not None and time.monotonic() - started > auto_close_seconds:
            player.plotter.iren.terminate_app()

    if auto_close_seconds is not None:
        player.set_playing(True)
    # A generous step budget: PyVista's repeating timer stops after max_steps calls.
    player.plotter.add_timer_event(max_steps=10**9, duration=PLAY_INTERVAL_MS, callback=on_timer)
    player.plotter.show(auto_close=True)
    return player.frames_shown
