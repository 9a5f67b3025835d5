"""Wiring helpers every tab shares: the error guard, progress bars, per-session state, result outputs."""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any, Callable

import gradio as gr

from app import handlers
from core.types import InputError, ProgressEvent

log = logging.getLogger(__name__)


def progress_reporter(progress: gr.Progress) -> Callable[[ProgressEvent], None]:
    def report(event: ProgressEvent) -> None:
        detail = f" ({event.message})" if event.message else ""
        progress(event.step / max(event.total, 1), desc=f"{event.stage} {event.step}/{event.total}{detail}")

    return report


VEHICLE_CHOICES = [("as decoded", "as decoded"), ("specks removed", "specks"), ("cars as boxes", "boxes")]
APP_VEHICLES = "specks"


def vehicles_radio() -> gr.Radio:
    """How generated scenes' vehicles are cleaned up (`core.postprocess.vehicle_cleanup`): specks removed
    in the app, where scenes are shown to people (cars as boxes measured a little further from real
    scenes: checkpoints README, steps 25–26); as decoded in the API and the CLI, which give the models' own
    output."""
    return gr.Radio(VEHICLE_CHOICES, value=APP_VEHICLES, label="vehicles",
                    info="specks removed: bits smaller than a car become what the decoder ranks next; "
                         "cars as boxes: also each car redrawn as a solid box of its size and heading")


def view_outputs(state: handlers.SessionState, view: handlers.SceneView) -> tuple:
    """Values for [state, video, .npz download, .mp4 download, 3D view, counts, summary, frame slider, gallery]."""
    slider = gr.update(maximum=view.frames - 1, value=0, interactive=view.frames > 1)
    return (state, view.video, view.scene_file, view.video, view.figure, view.counts, view.summary, slider,
            state.gallery())


def guard(action: Callable[..., Any], outputs: int) -> Callable[..., Any]:
    """Run a handler; on bad input warn and keep every output unchanged (gr.skip())."""

    @functools.wraps(action)  # gradio reads the signature to inject gr.Request, gr.Progress, gr.SelectData
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


def session_state(request: gr.Request, state: handlers.SessionState | None) -> handlers.SessionState:
    return state or handlers.SessionState(folder=handlers.session_folder(request.session_hash or "anonymous"))
