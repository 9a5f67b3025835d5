"""Gradio layout and wiring of DynamicCity Studio: the Author tab, the Open tab, and the results.

Every event calls one plain function of `app.handlers` / `app.authoring` through `guard`, which
turns an `InputError` into a visible warning and leaves every output as it was (`gr.skip()`), so a
bad drawing, upload or option never loses what the page showed. Heavy jobs are queued one at a time;
each session gets its own folder for videos and downloads, removed when the browser session ends.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from app import author_tab, handlers, inpaint_tab
from app.common import guard, progress_reporter, session_state, view_outputs
from core.types import CAMERA_PRESETS, Command, SceneService

COMMANDS = [handlers.AUTO_COMMAND, *(c.name.lower() for c in Command)]


def _sources_layout(service: SceneService) -> SimpleNamespace:
    ui = SimpleNamespace()
    with gr.Row():
        with gr.Column():
            gr.Markdown("**Procedural city** (no model needed)")
            with gr.Row():
                ui.seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
                ui.dice = gr.Button("Random", elem_id="dice", scale=0, min_width=80)
            ui.command = gr.Dropdown(COMMANDS, value=handlers.AUTO_COMMAND, label="command")
            ui.preset = gr.Dropdown(service.grid_presets(), value="cpu", label="grid preset")
            ui.make = gr.Button("Make scene", variant="primary", elem_id="make-scene")
        with gr.Column():
            gr.Markdown("**Scene file** (a scene .npz, or a recipe .json to generate its scene again)")
            ui.upload = gr.File(label="scene .npz or recipe .json", file_types=[".npz", ".json"], type="filepath",
                                elem_id="upload")
            ui.open_file = gr.Button("Open file", elem_id="open-file")
        with gr.Column():
            gr.Markdown("**Dataset folder** (given with `--data` at launch)")
            scenes = service.dataset_scenes()
            ui.dataset = gr.Dropdown(scenes, value=scenes[0] if scenes else None, label="CarlaSC / Occ3D scene folder")
            ui.open_folder = gr.Button("Open folder")
    return ui


def _results_layout() -> SimpleNamespace:
    ui = SimpleNamespace()
    gr.Markdown("### Result")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            ui.video = gr.Video(label="video", autoplay=True, loop=True, interactive=False, elem_id="video", height=420)
            ui.camera = gr.Radio(list(CAMERA_PRESETS), value="chase", label="camera", elem_id="camera")
            ui.summary = gr.Markdown("No scene yet: author one above, or open one.", elem_id="summary")
            with gr.Row():
                ui.scene_file = gr.DownloadButton("Download .npz", elem_id="download-npz")
                ui.video_file = gr.DownloadButton("Download .mp4", elem_id="download-mp4")
            with gr.Accordion("Export for other tools", open=False):
                with gr.Row():
                    ui.export_recipe = gr.Button("Recipe .json", size="sm", elem_id="export-recipe")
                    ui.export_ply = gr.Button("Meshes .ply (zip)", size="sm")
                    ui.export_glb = gr.Button("Meshes .glb (zip)", size="sm")
                with gr.Row():
                    ui.beams = gr.Slider(8, 128, value=32, step=8, label="LiDAR beams")
                    ui.max_range = gr.Slider(10, 100, value=50, step=5, label="range (m)")
                    ui.dropout = gr.Slider(0.0, 0.5, value=0.05, step=0.05, label="dropout")
                ui.export_lidar = gr.Button("Simulated LiDAR scans: KITTI .bin + .ply (zip)", size="sm")
                ui.export_file = gr.File(label="export", interactive=False, elem_id="export-file")
        with gr.Column(scale=1, min_width=320):
            ui.figure = gr.Plot(label="3D view", elem_id="figure")
            ui.frame = gr.Slider(0, 15, value=0, step=1, label="frame (3D view)", elem_id="frame")
            ui.counts = gr.Plot(label="class counts", elem_id="counts")
    ui.gallery = gr.Gallery(label=f"this session's results (newest first, the last {handlers.HISTORY}): click one to show it again",
                            columns=8, fit_columns=False, height=240, object_fit="contain", allow_preview=False,
                            elem_id="gallery")
    return ui


def _wire_sources(service: SceneService, ui: SimpleNamespace, results: SimpleNamespace, state: gr.State, view: list) -> None:
    def on_make(seed_value, command_value, preset_value, camera_value, current, request: gr.Request, progress=gr.Progress()):
        new, shown = handlers.make_scene(service, session_state(request, current), seed_value, command_value,
                                         preset_value, camera_value, progress_reporter(progress))
        return view_outputs(new, shown)

    def on_upload(path, camera_value, current, request: gr.Request, progress=gr.Progress()):
        new, shown = handlers.open_upload(service, session_state(request, current), path, camera_value, progress_reporter(progress))
        return view_outputs(new, shown)

    def on_dataset(choice, camera_value, current, request: gr.Request, progress=gr.Progress()):
        new, shown = handlers.open_dataset(service, session_state(request, current), choice, camera_value, progress_reporter(progress))
        return view_outputs(new, shown)

    ui.make.click(guard(on_make, len(view)), [ui.seed, ui.command, ui.preset, results.camera, state], view)
    ui.open_file.click(guard(on_upload, len(view)), [ui.upload, results.camera, state], view)
    ui.open_folder.click(guard(on_dataset, len(view)), [ui.dataset, results.camera, state], view)
    ui.dice.click(handlers.random_seed, None, ui.seed)


def _wire_results(service: SceneService, ui: SimpleNamespace, state: gr.State, view: list) -> None:
    def on_camera(camera_value, current, request: gr.Request, progress=gr.Progress()):
        new, shown = handlers.change_camera(service, session_state(request, current), camera_value, progress_reporter(progress))
        return view_outputs(new, shown)

    def on_pick(camera_value, current, request: gr.Request, event: gr.SelectData, progress=gr.Progress()):
        new, shown = handlers.recall(service, session_state(request, current), event.index, camera_value,
                                     progress_reporter(progress))
        return view_outputs(new, shown)

    def on_frame(frame_value, current, request: gr.Request):
        return handlers.show_frame(service, session_state(request, current), frame_value)

    def on_recipe(current, request: gr.Request):
        return handlers.export_recipe(session_state(request, current))

    def on_meshes(fmt):
        def export(current, request: gr.Request):
            return handlers.export_meshes(service, session_state(request, current), fmt)

        return export

    def on_lidar(beams, max_range, dropout, current, request: gr.Request, progress=gr.Progress()):
        progress(0.1, desc="ray casting")
        return handlers.export_lidar(service, session_state(request, current), beams, max_range, dropout)

    ui.export_recipe.click(guard(on_recipe, 1), [state], ui.export_file)
    ui.export_ply.click(guard(on_meshes("ply"), 1), [state], ui.export_file)
    ui.export_glb.click(guard(on_meshes("glb"), 1), [state], ui.export_file)
    ui.export_lidar.click(guard(on_lidar, 1), [ui.beams, ui.max_range, ui.dropout, state], ui.export_file)
    ui.camera.input(guard(on_camera, len(view)), [ui.camera, state], view)
    ui.gallery.select(guard(on_pick, len(view)), [ui.camera, state], view)
    ui.frame.release(guard(on_frame, 1), [ui.frame, state], ui.figure, show_progress="hidden")


def build_demo(service: SceneService) -> gr.Blocks:
    """The app's Blocks, wired to `service` (the real `SceneGenerator` or a test fake)."""
    with gr.Blocks(title="DynamicCity Studio") as demo:
        state = gr.State(None)
        gr.Markdown("# DynamicCity Studio\nAuthor, generate and inspect 4D semantic occupancy scenes of city driving.")
        with gr.Tabs():
            with gr.Tab("Author", id="author"):
                author = author_tab.layout(service)
            with gr.Tab("Inpaint & extend", id="inpaint"):
                repair = inpaint_tab.layout()
            with gr.Tab("Open a scene", id="open"):
                sources = _sources_layout(service)
        results = _results_layout()
        view = [state, results.video, results.scene_file, results.video_file, results.figure, results.counts,
                results.summary, results.frame, results.gallery]
        author_tab.wire(service, author, state, results.camera, view)
        inpaint_tab.wire(service, repair, state, results.camera, view)
        _wire_sources(service, sources, results, state, view)
        _wire_results(service, results, state, view)

        def on_unload(request: gr.Request):
            handlers.close_session(request.session_hash or "anonymous")

        demo.unload(on_unload)
    return demo
