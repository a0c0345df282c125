"""The compiled engine: each training step one call into native/kernels.c — no autograd, no per-step allocation.

base.py holds what every compiled step shares (flat Adam, pointers, a batch's shares as `Share`, thread modes by
name, the caches of structs, a step and a run of steps); dense.py, sweep.py and vae.py each add one model kind's
layout and kernel calls. The autograd step (train/step.py) is every compiled step's reference in the tests.
"""
