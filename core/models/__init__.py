"""Neural networks: the HexPlane latent and rollout, the HexPlane VAE, (later) the DiT."""
