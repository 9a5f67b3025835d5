"""The Gradio app: layout and wiring (ui.py), one plain function per user action (handlers.py)."""

from app.ui import build_demo

__all__ = ["build_demo"]
