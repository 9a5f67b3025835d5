"""The Inpaint & extend tab: paint a region of the current result to regenerate, compare before |
after, accept or retry with another seed; or continue the result by one more clip."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from app import inpainting
from app.common import guard, progress_reporter, session_state, vehicles_radio, view_outputs
from app.handlers import random_seed
from core.types import SamplerSettings


def layout() -> SimpleNamespace:
    ui = SimpleNamespace()
    with gr.Row():
        with gr.Column(scale=5, min_width=340):
            gr.Markdown("**Paint the region to regenerate** on the current result (bird's-eye, frame 0).")
            ui.load = gr.Button("Load the current result", size="sm", elem_id="load-for-inpaint")
            ui.canvas = gr.ImageEditor(
                type="numpy", image_mode="RGBA", format="png", canvas_size=(inpainting.CANVAS, inpainting.CANVAS),
                fixed_canvas=True, interactive=True, elem_id="mask-canvas", height=560, layers=False,
                brush=gr.Brush(colors=["#ff2020"], default_size=32, color_mode="fixed"), eraser=gr.Eraser(default_size=32),
                label="inpainting mask",
            )
        with gr.Column(scale=3, min_width=260):
            with gr.Row():
                ui.start = gr.Number(value=0, precision=0, label="from frame", min_width=80)
                ui.stop = gr.Number(value=16, precision=0, label="to frame (excl.)", min_width=80)
            ui.steps = gr.Slider(5, 100, value=SamplerSettings().steps, step=1, label="sampling steps")
            with gr.Row():
                ui.seed = gr.Number(value=1, precision=0, label="seed", min_width=100)
                ui.dice = gr.Button("Random", size="sm", min_width=60)
            ui.vehicles = vehicles_radio()
            ui.run = gr.Button("Regenerate region", variant="primary", elem_id="inpaint")
            with gr.Row():
                ui.accept = gr.Button("Accept", elem_id="accept-inpaint")
                ui.retry = gr.Button("Retry with another seed", elem_id="retry-inpaint")
            gr.Markdown("**Extend in time**: one more 16-frame clip that continues the current result.")
            ui.extend = gr.Button("Extend by one clip", elem_id="extend")
    with gr.Row():
        ui.comparison = gr.Video(label="before | after", autoplay=True, loop=True, interactive=False, elem_id="comparison")
        ui.picture = gr.Image(label="before | after (mask outlined)", type="numpy", format="png", interactive=False)
    return ui


def wire(service, ui: SimpleNamespace, state: gr.State, camera: gr.Radio, view: list) -> None:
    candidate = gr.State(None)

    def on_load(current, request: gr.Request):
        return inpainting.mask_canvas(session_state(request, current))

    def on_run(canvas, start, stop, steps, seed, vehicles, current, request: gr.Request, progress=gr.Progress()):
        found, video, picture = inpainting.inpaint(service, session_state(request, current), canvas, start, stop,
                                                   steps, seed, progress_reporter(progress), vehicles=vehicles)
        return found, video, picture

    def on_retry(canvas, start, stop, steps, seed, vehicles, current, request: gr.Request, progress=gr.Progress()):
        next_seed = int(seed or 0) + 1
        found, video, picture = inpainting.inpaint(service, session_state(request, current), canvas, start, stop,
                                                   steps, next_seed, progress_reporter(progress), vehicles=vehicles)
        return found, video, picture, next_seed

    def on_accept(found, camera_value, current, request: gr.Request, progress=gr.Progress()):
        new, shown = inpainting.accept(service, session_state(request, current), found, camera_value, progress_reporter(progress))
        return view_outputs(new, shown)

    def on_extend(steps, seed, vehicles, camera_value, current, request: gr.Request, progress=gr.Progress()):
        new, shown = inpainting.extend(service, session_state(request, current), steps, seed, camera_value,
                                       progress_reporter(progress), vehicles=vehicles)
        return view_outputs(new, shown)

    options = [ui.canvas, ui.start, ui.stop, ui.steps, ui.seed, ui.vehicles, state]
    ui.load.click(guard(on_load, 1), [state], ui.canvas)
    ui.run.click(guard(on_run, 3), options, [candidate, ui.comparison, ui.picture])
    ui.retry.click(guard(on_retry, 4), options, [candidate, ui.comparison, ui.picture, ui.seed])
    ui.accept.click(guard(on_accept, len(view)), [candidate, camera, state], view)
    ui.extend.click(guard(on_extend, len(view)), [ui.steps, ui.seed, ui.vehicles, camera, state], view)
    ui.dice.click(random_seed, None, ui.seed)
