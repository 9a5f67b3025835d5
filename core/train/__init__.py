"""Training entry points (functions with thin CLIs): the VAE now, latent caching and the DiT later."""
