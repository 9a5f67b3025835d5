"""Gradio layout and wiring of DynamicCity Studio's Inspect view.

Every event calls one plain function of `app.handlers` through `_guard`, which turns an `InputError`
into a visible warning and leaves every output as it was (`gr.skip()`), so a bad upload or option
never loses what the page showed. Heavy jobs are queued one at a time; each session gets its own
folder for videos and downloads, removed when the browser session ends.
"""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any, Callable

import gradio as gr

from app import handlers
from core.types import CAMERA_PRESETS, Command, InputError, ProgressEvent, SceneService

log = logging.getLogger(__name__)
COMMANDS = [handlers.AUTO_COMMAND, *(c.name.lower() for c in Command)]


def _progress_reporter(progress: gr.Progress) -> Callable[[ProgressEvent], None]:
    def report(event: ProgressEvent) -> None:
        progress(event.step / max(event.total, 1), desc=f"{event.stage} {event.step}/{event.total}")

    return report


def _view_outputs(state: handlers.SessionState, view: handlers.SceneView) -> tuple:
    slider = gr.update(maximum=view.frames - 1, value=0, interactive=view.frames > 1)
    return (state, view.video, view.scene_file, view.video, view.figure, view.counts, view.summary, slider)


def _guard(action: Callable[..., Any], outputs: int) -> Callable[..., Any]:
    """Run a handler; on bad input warn and keep every output unchanged."""

    @functools.wraps(action)  # gradio reads the signature to inject gr.Request and gr.Progress
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except InputError as error:
            gr.Warning(str(error))
        except Exception as error:  # keep serving: one failed action must not take the page down
            log.error("action failed: %s", traceback.format_exc())
            gr.Warning(f"internal error: {type(error).__name__}: {error}")
        skipped = tuple(gr.skip() for _ in range(outputs))
        return skipped if outputs > 1 else skipped[0]

    return guarded


def _state(request: gr.Request, state: handlers.SessionState | None) -> handlers.SessionState:
    return state or handlers.SessionState(folder=handlers.session_folder(request.session_hash or "anonymous"))


def build_demo(service: SceneService) -> gr.Blocks:
    """The app's Blocks, wired to `service` (the real `SceneGenerator` or a test fake)."""
    with gr.Blocks(title="DynamicCity Studio") as demo:
        state = gr.State(None)
        gr.Markdown("# DynamicCity Studio · Inspect\nMake, open and inspect 4D semantic occupancy scenes.")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                with gr.Tab("Procedural"):
                    with gr.Row():
                        seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
                        dice = gr.Button("Random", elem_id="dice", scale=0, min_width=80)
                    command = gr.Dropdown(COMMANDS, value=handlers.AUTO_COMMAND, label="command")
                    preset = gr.Dropdown(service.grid_presets(), value="cpu", label="grid preset")
                    make = gr.Button("Make scene", variant="primary", elem_id="make-scene")
                with gr.Tab("Upload"):
                    upload = gr.File(label="scene .npz", file_types=[".npz"], type="filepath", elem_id="upload")
                    open_file = gr.Button("Open file", elem_id="open-file")
                with gr.Tab("Dataset"):
                    scenes = service.dataset_scenes()
                    dataset = gr.Dropdown(scenes, value=scenes[0] if scenes else None, label="CarlaSC / Occ3D scene folder")
                    open_folder = gr.Button("Open folder")
                camera = gr.Radio(list(CAMERA_PRESETS), value="chase", label="camera", elem_id="camera")
                summary = gr.Markdown("No scene yet.", elem_id="summary")
                with gr.Row():
                    scene_file = gr.DownloadButton("Download .npz", elem_id="download-npz")
                    video_file = gr.DownloadButton("Download .mp4", elem_id="download-mp4")
            with gr.Column(scale=2):
                video = gr.Video(label="video", autoplay=True, loop=True, interactive=False, elem_id="video", height=420)
                frame = gr.Slider(0, 15, value=0, step=1, label="frame (3D view)", elem_id="frame")
                figure = gr.Plot(label="3D view", elem_id="figure")
                counts = gr.Plot(label="class counts", elem_id="counts")

        view = [state, video, scene_file, video_file, figure, counts, summary, frame]

        def on_make(seed_value, command_value, preset_value, camera_value, current, request: gr.Request, progress=gr.Progress()):
            new, shown = handlers.make_scene(service, _state(request, current), seed_value, command_value, preset_value, camera_value, _progress_reporter(progress))
            return _view_outputs(new, shown)

        def on_upload(path, camera_value, current, request: gr.Request, progress=gr.Progress()):
            new, shown = handlers.open_upload(service, _state(request, current), path, camera_value, _progress_reporter(progress))
            return _view_outputs(new, shown)

        def on_dataset(choice, camera_value, current, request: gr.Request, progress=gr.Progress()):
            new, shown = handlers.open_dataset(service, _state(request, current), choice, camera_value, _progress_reporter(progress))
            return _view_outputs(new, shown)

        def on_camera(camera_value, current, request: gr.Request, progress=gr.Progress()):
            new, shown = handlers.change_camera(service, _state(request, current), camera_value, _progress_reporter(progress))
            return _view_outputs(new, shown)

        def on_frame(frame_value, current, request: gr.Request):
            return handlers.show_frame(service, _state(request, current), frame_value)

        def on_unload(request: gr.Request):
            handlers.close_session(request.session_hash or "anonymous")

        make.click(_guard(on_make, len(view)), [seed, command, preset, camera, state], view)
        open_file.click(_guard(on_upload, len(view)), [upload, camera, state], view)
        open_folder.click(_guard(on_dataset, len(view)), [dataset, camera, state], view)
        camera.input(_guard(on_camera, len(view)), [camera, state], view)
        frame.release(_guard(on_frame, 1), [frame, state], figure, show_progress="hidden")
        dice.click(handlers.random_seed, None, seed)
        demo.unload(on_unload)
    return demo
