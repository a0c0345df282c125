"""Value ranges of your own data: uint8 divided by 255, then a per-feature scaling fitted on the training split.

    x' = (x / divisor − offset) · factor                                    (S1)
    minmax:   offset_j = min_j,  factor_j = 1 / (max_j − min_j)            (S2)  → training values in [0, 1]
    standard: offset_j = mean_j, factor_j = 1 / std_j  (population std)    (S3)  → zero mean, unit variance
    none:     offset_j = 0,      factor_j = 1

A feature that is constant on the training split gets factor 1 (as scikit-learn's scalers do), so
it neither divides by zero nor blows up. The statistics come from the training split only (the test
split must not leak into training) and are recorded in config.json, so `encode` on new data
applies exactly the same (S1). With BCE, the scaled values are clipped to [0, 1] (test values can
fall outside the training range).
"""

from __future__ import annotations

import numpy as np

from aelab.data.custom.samples import FLOAT32_OVERFLOW, chunks
from aelab.errors import ConfigError, DataError


def divisor_of(x: np.ndarray) -> float:
    return 255.0 if x.dtype == np.uint8 else 1.0


def value_range(x: np.ndarray) -> tuple[float, float]:
    """(min, max) of `x`, in chunks (a memory-mapped array is not read whole at once)."""
    rows = x.reshape(len(x), -1)
    lo, hi = np.inf, -np.inf
    for start, stop in chunks(len(rows), rows.shape[1] * rows.itemsize):
        block = rows[start:stop]
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    return lo, hi


def default_scale(x: np.ndarray) -> str:
    """none for uint8 and for values already in [0, 1]; standard otherwise."""
    if x.dtype == np.uint8:
        return "none"
    lo, hi = value_range(x)
    return "none" if 0.0 <= lo and hi <= 1.0 else "standard"


def fit(x: np.ndarray, method: str) -> dict:
    """The scaling record {method, divisor, offset, factor} of training samples `x` (n, ...)."""
    divisor = divisor_of(x)
    rows = x.reshape(len(x), -1)
    if method == "none":
        return {"method": "none", "divisor": divisor, "offset": None, "factor": None}
    if method == "minmax":
        lo = np.full(rows.shape[1], np.inf)
        hi = np.full(rows.shape[1], -np.inf)
        for start, stop in chunks(len(rows), rows.shape[1] * rows.itemsize):
            block = rows[start:stop].astype(np.float64) / divisor
            lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
        spread = hi - lo
        return {
            "method": method,
            "divisor": divisor,
            "offset": lo.tolist(),
            "factor": np.where(spread > 0, 1.0 / np.where(spread > 0, spread, 1.0), 1.0).tolist(),
        }  # (S2)
    total = np.zeros(rows.shape[1])
    for start, stop in chunks(len(rows), rows.shape[1] * rows.itemsize):
        total += (rows[start:stop].astype(np.float64) / divisor).sum(axis=0)
    mean = total / len(rows)
    squares = np.zeros(rows.shape[1])
    for start, stop in chunks(len(rows), rows.shape[1] * rows.itemsize):  # two passes: no cancellation
        squares += np.square(rows[start:stop].astype(np.float64) / divisor - mean).sum(axis=0)
    std = np.sqrt(squares / len(rows))
    return {
        "method": method,
        "divisor": divisor,
        "offset": mean.tolist(),
        "factor": np.where(std > 0, 1.0 / np.where(std > 0, std, 1.0), 1.0).tolist(),
    }  # (S3)


def apply(x: np.ndarray, record: dict, clip: bool, in_place: bool = False) -> np.ndarray:
    """float32 rows (n, features) of `x` scaled by `record` (S1); a float32 array needing nothing is not copied.

    `in_place`: `x` is the caller's own copy (a drawn split's part), so float32 rows are scaled where they are
    (each chunk is read before it is written) — one array fewer at the peak of a load."""
    rows = x.reshape(len(x), -1)
    if record["method"] == "none" and record["divisor"] == 1.0 and rows.dtype == np.float32 and not clip:
        return rows
    if rows.shape[1] != (len(record["offset"]) if record["offset"] is not None else rows.shape[1]):
        raise ConfigError(
            f"samples with {rows.shape[1]} features: expected {len(record['offset'])}, as the scaling was fitted on"
        )
    mine = in_place and rows.dtype == np.float32 and rows.flags.writeable and rows.flags.c_contiguous
    out = rows if mine else np.empty(rows.shape, dtype=np.float32)
    offset = None if record["offset"] is None else np.asarray(record["offset"], dtype=np.float64)
    factor = None if record["factor"] is None else np.asarray(record["factor"], dtype=np.float64)
    if rows.dtype == np.uint8 and offset is None and _divide_in_float32(rows, record["divisor"], clip, out) is not None:
        return out
    for start, stop in chunks(len(rows), rows.shape[1] * 8):
        block = rows[start:stop].astype(np.float64) / record["divisor"]
        if offset is not None:
            block = (block - offset) * factor  # (S1)
            if not clip:
                _check_scaled(rows[start:stop], block, start, record["method"])
        out[start:stop] = np.clip(block, 0.0, 1.0) if clip else block
    return out


def _check_scaled(raw: np.ndarray, block: np.ndarray, start: int, method: str) -> None:
    """Refuse a scaled value float32 cannot hold, before it becomes inf in training. Only values the scaling was not
    fitted on can get there (a test or new sample far from a feature that barely varies on the training split: its
    factor is huge); the training split's own stay within [0, 1] (minmax) or ±sqrt(n) (standard)."""
    big = np.abs(block) >= FLOAT32_OVERFLOW
    if big.any():
        row, column = (int(i) for i in np.argwhere(big)[0])
        raise DataError(
            f"sample {start + row}, feature {column}: {float(raw[row, column]):g} scaled by {method} (fitted on the "
            f"training split) becomes {block[row, column]:g}: expected scaled values within float32's range ±3.4e38 "
            "(a feature almost constant on the training split? --scale none keeps the values as read)"
        )


def _divide_in_float32(rows: np.ndarray, divisor: float, clip: bool, out: np.ndarray) -> np.ndarray | None:
    """(S1) without offset for uint8 rows, divided in float32 into `out` — only if that gives, for each of the 256
    values, exactly the float32 that the float64 path gives (checked here); else None. A float64 copy of every chunk
    is 4× the memory traffic: it was most of a second load of 70,000 cached images (and IDX loads divide in float32)."""
    exact = np.arange(256, dtype=np.float64) / divisor
    fast = np.divide(np.arange(256, dtype=np.uint8), np.float32(divisor), dtype=np.float32)
    if clip:
        exact, fast = np.clip(exact, 0.0, 1.0), np.clip(fast, 0.0, 1.0)
    if not np.array_equal(fast, exact.astype(np.float32)):
        return None
    for start, stop in chunks(len(rows), rows.shape[1] * 4):
        np.divide(rows[start:stop], np.float32(divisor), out=out[start:stop], dtype=np.float32)
        if clip:
            np.clip(out[start:stop], 0.0, 1.0, out=out[start:stop])
    return out


def in_unit_range(record: dict, x: np.ndarray) -> bool:
    """Whether the scaled training values lie in [0, 1] (what BCE needs)."""
    if record["method"] == "minmax":
        return True
    if record["method"] == "standard":
        return False
    lo, hi = value_range(x)
    return 0.0 <= lo / record["divisor"] and hi / record["divisor"] <= 1.0
