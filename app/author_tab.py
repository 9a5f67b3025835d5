"""The Author tab: paint a bird's-eye layout, click a trajectory, set the sampler, press Generate.

Layout and wiring only; every action is a plain function in `app.authoring`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import gradio as gr

from app import authoring
from app.authoring import AUTO, CANVAS, AuthorState
from app.common import guard, progress_reporter, session_state, vehicles_radio, view_outputs
from app.handlers import random_seed
from core.postprocess import vehicle_cleanup
from core.types import Command, InputError, SamplerSettings, SceneService

COMMAND_CHOICES = [AUTO, *(c.name.lower() for c in Command)]


def layout(service: SceneService) -> SimpleNamespace:
    """The tab's components (created inside the caller's gr.Tab)."""
    ui = SimpleNamespace()
    with gr.Row():
        with gr.Column(scale=5, min_width=340):
            gr.Markdown("**1 · Paint the layout** (bird's-eye, driving direction up). Empty = no layout.")
            ui.canvas = gr.ImageEditor(
                value=authoring.canvas_from_layout(None), type="numpy", image_mode="RGBA", format="png",
                canvas_size=(CANVAS, CANVAS), fixed_canvas=True, interactive=True, elem_id="canvas", height=560,
                brush=gr.Brush(colors=authoring.brush_colors(), default_size=24, color_mode="fixed"),
                eraser=gr.Eraser(default_size=24), layers=False, label="layout canvas",
            )
            with gr.Row():
                ui.start_seed = gr.Number(value=0, precision=0, label="procedural layout seed", min_width=120)
                ui.start_procedural = gr.Button("Start from a procedural layout", size="sm")
                ui.start_blank = gr.Button("Blank", size="sm")
            with gr.Row():
                examples = authoring.example_layouts()
                ui.example = gr.Dropdown(examples, value=examples[0] if examples else None, label="example layout",
                                         min_width=120)
                ui.start_example = gr.Button("Start from the example", size="sm")
                ui.start_result = gr.Button("Start from the current result", size="sm", elem_id="start-from-result")
        with gr.Column(scale=5, min_width=340):
            gr.Markdown("**2 · Click the ego car's path**, starting at the centre and going up. No path and no "
                        "layout: the chosen command drives a typical path of it (no command either: a drive drawn "
                        "with the seed). After Generate, the yellow dots "
                        "show where the model was told the car is in each frame (from the centre, facing up).")
            ui.preview = gr.Image(value=authoring.preview(None, ()), type="numpy", format="png", interactive=False,
                                  elem_id="trajectory", label="what the model receives")
            with gr.Row():
                ui.use_canvas = gr.Button("Show my layout", size="sm")
                ui.undo = gr.Button("Undo point", size="sm")
                ui.clear = gr.Button("Clear path", size="sm")
        with gr.Column(scale=3, min_width=240):
            gr.Markdown("**3 · Generate**")
            ui.speed = gr.Slider(0.0, 12.0, value=5.0, step=0.5, label="speed (m/s)")
            ui.command = gr.Dropdown(COMMAND_CHOICES, value=AUTO, label="command")
            ui.frames = gr.Radio([16, 32, 64], value=16, label="frames")
            ui.steps = gr.Slider(5, 100, value=SamplerSettings().steps, step=1, label="sampling steps")
            ui.guidance = gr.Slider(0.0, 8.0, value=SamplerSettings().guidance_scale, step=0.5, label="guidance scale")
            ui.vehicles = vehicles_radio()
            with gr.Row():
                ui.seed = gr.Number(value=0, precision=0, label="seed", min_width=100)
                ui.dice = gr.Button("Random", size="sm", min_width=60)
            ui.generate = gr.Button("Generate", variant="primary", elem_id="generate")
    return ui


def wire(service: SceneService, ui: SimpleNamespace, state: gr.State, camera: gr.Radio, view: list) -> None:
    author = gr.State(AuthorState())
    grid: Callable[[], Any] = service.scene_grid

    def on_click(current: AuthorState, canvas: Any, event: gr.SelectData):
        col, row = event.index
        updated = authoring.add_waypoint(current, row, col)
        return updated, authoring.preview(authoring.layout_from_canvas(canvas, grid()), updated.waypoints)

    def on_undo(current: AuthorState, canvas: Any):
        updated = authoring.undo_waypoint(current)
        return updated, authoring.preview(authoring.layout_from_canvas(canvas, grid()), updated.waypoints)

    def on_clear(canvas: Any):
        return AuthorState(), authoring.preview(authoring.layout_from_canvas(canvas, grid()), ())

    def on_show(current: AuthorState, canvas: Any):
        return authoring.preview(authoring.layout_from_canvas(canvas, grid()), current.waypoints)

    def on_procedural(seed: Any, current: AuthorState):
        layout = service.procedural_layout(seed=int(seed or 0))
        return authoring.canvas_from_layout(layout), authoring.preview(layout, current.waypoints)

    def on_example(name: str | None, current: AuthorState):
        canvas, layout = authoring.canvas_from_example(name, grid())
        return canvas, authoring.preview(layout, current.waypoints)

    def on_result(current: AuthorState, session, request: gr.Request):
        canvas, layout = authoring.canvas_from_result(session_state(request, session))
        return canvas, authoring.preview(layout, current.waypoints)

    def on_generate(current, canvas, speed, command, frames, steps, guidance, seed, vehicles, camera_value, session,
                    request: gr.Request, progress=gr.Progress()):
        try:
            sampler = SamplerSettings(steps=int(steps), guidance_scale=float(guidance), seed=int(seed or 0),
                                      **vehicle_cleanup(vehicles))
        except (TypeError, ValueError) as error:
            raise InputError(f"sampler settings: {error}") from None
        new, shown, received = authoring.generate(
            service, session_state(request, session), current, canvas, speed=float(speed), command=command,
            sampler=sampler, frames=int(frames), camera=camera_value, on_progress=progress_reporter(progress),
        )
        return (*view_outputs(new, shown), received)

    ui.preview.select(guard(on_click, 2), [author, ui.canvas], [author, ui.preview], trigger_mode="multiple",
                      show_progress="hidden")
    ui.undo.click(guard(on_undo, 2), [author, ui.canvas], [author, ui.preview], show_progress="hidden")
    ui.clear.click(guard(on_clear, 2), [ui.canvas], [author, ui.preview], show_progress="hidden")
    ui.use_canvas.click(guard(on_show, 1), [author, ui.canvas], ui.preview, show_progress="hidden")
    ui.start_blank.click(lambda: authoring.canvas_from_layout(None), None, ui.canvas)
    ui.start_procedural.click(guard(on_procedural, 2), [ui.start_seed, author], [ui.canvas, ui.preview])
    ui.start_example.click(guard(on_example, 2), [ui.example, author], [ui.canvas, ui.preview])
    ui.start_result.click(guard(on_result, 2), [author, state], [ui.canvas, ui.preview])
    ui.dice.click(random_seed, None, ui.seed)
    inputs = [author, ui.canvas, ui.speed, ui.command, ui.frames, ui.steps, ui.guidance, ui.seed, ui.vehicles, camera, state]
    ui.generate.click(guard(on_generate, len(view) + 1), inputs, [*view, ui.preview])
