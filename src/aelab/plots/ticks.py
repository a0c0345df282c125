"""Numbers on an axis that read cleanly: round values, 0 printed as 0, as many decimals as their step needs.

Why: a tick placed at a grid cell's own code value prints float noise — the middle cell of a 30-point
grid over [−1, 1] sits at ±0.0345, which read "−0.03 / 0.03" where a reader expects 0. Ticks are put
at round values instead (matplotlib's MaxNLocator chooses them) and placed where those values fall.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator

MINUS = "\u2212"  # the minus sign matplotlib's own tick labels use (axes.unicode_minus)


def round_ticks(low: float, high: float, n: int = 7) -> np.ndarray:
    """At most about `n` round values (steps of 1, 2 or 5 × 10ᵏ) within [low, high], 0 among them if it is."""
    if not high > low:
        return np.array([low])
    values = MaxNLocator(nbins=n - 1, steps=[1, 2, 5, 10]).tick_values(low, high)
    slack = (high - low) * 1e-9  # an end that is itself round stays
    return values[(values >= low - slack) & (values <= high + slack)]


def clean_labels(values: Sequence[float]) -> list[str]:
    """Labels for `values` with the fewest decimals (up to 12; beyond, six significant digits) that write every one
    of them exactly, zero as "0" (never "−0.00"), and matplotlib's minus sign.

    "Exactly" is up to float noise, a billionth of the largest value (0.1 + 0.2 is 0.3): the steps between
    round ticks are far larger, so 50.00005 keeps its fifth decimal.
    """
    values = np.asarray(values, dtype=float)
    noise = float(np.abs(values).max(initial=0.0)) * 1e-9
    exact = [d for d in range(13) if np.allclose(np.round(values, d), values, rtol=0, atol=noise)]
    written = (f"{v:.{exact[0]}f}" if exact else f"{v:.6g}" for v in values)
    return ["0" if abs(v) <= noise else text.replace("-", MINUS) for v, text in zip(values, written)]
