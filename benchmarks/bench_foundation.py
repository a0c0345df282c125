"""Load time of the 70,000 Fashion-MNIST images once the verified, decompressed copy is in the cache."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import summary  # noqa: E402

from aelab.data import load_dataset  # noqa: E402
from aelab.data.load import clear_loaded  # noqa: E402


def load_times(repeats: int = 5) -> list[float]:
    """Seconds per load from the cache (SHA-256 verification of all four payloads included)."""
    load_dataset("fashion-mnist", progress=False)  # makes sure the verified copy is in the cache
    saved = os.environ.pop("AELAB_DATA_DIR", None)
    times = []
    try:
        for _ in range(repeats):
            clear_loaded()  # as in a fresh process: nothing kept
            start = time.perf_counter()
            data = load_dataset("fashion-mnist", progress=False)
            times.append(time.perf_counter() - start)
            assert data.source.startswith("aelab cache"), data.source
    finally:
        if saved is not None:
            os.environ["AELAB_DATA_DIR"] = saved
    return times


def run() -> dict:
    result = summary(load_times())
    print(
        f"load 70,000 Fashion-MNIST images from the cache, digests verified: median {result['median']:.3f} s "
        f"[{result['min']:.3f}–{result['max']:.3f}]"
    )
    return result


if __name__ == "__main__":
    run()
