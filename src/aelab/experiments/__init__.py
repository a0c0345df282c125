"""Experiments: run folders and the commands that fill them (train one model; later sweeps)."""
