"""Figures: functions from arrays to `matplotlib.figure.Figure`. The caller chooses and saves.

Figures are built with `Figure()` directly, never pyplot, so there is no global state, no backend
to select, and nothing ever calls `show()`.
"""
