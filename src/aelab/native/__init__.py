"""Compiled kernels for the fused training steps (kernels.c, built on first use by build.py)."""
