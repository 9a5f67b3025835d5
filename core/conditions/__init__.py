"""Authoring conditions as numpy: command, trajectory, layout and inpainting masks (DESIGN §2)."""
