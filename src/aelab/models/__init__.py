"""Models: plain `nn.Module`s with `encode`, `decode` and `forward`; the objective lives elsewhere."""
