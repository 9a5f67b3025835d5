"""DynamicCity Studio core: scene types, data, models, diffusion, rendering (no UI code)."""
