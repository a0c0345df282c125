"""The benchmark helpers the timing tables rest on, and the JAX peer's inputs (benchmarks/, outside the package).

The peers themselves run in .venv-peers (TensorFlow, JAX), which the main install never has; what
they share with aelab and can be checked here is checked here: the images they read and the sweep's
code sizes. Their losses against aelab's are checked by benchmarks/bench_losses.py (`make bench`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path[:0] = [str(BENCHMARKS), str(BENCHMARKS / "peers")]
import common  # noqa: E402
import idx_images  # noqa: E402
import jax_study  # noqa: E402  (imports JAX only inside its functions)

from aelab.config import SweepConfig  # noqa: E402
from aelab.data import load_dataset  # noqa: E402


def test_alternate_interleaves_and_keeps_a_contenders_own_timing():
    calls: list[str] = []

    def peer():
        calls.append("peer")
        return common.Timing(1.5, 2.5)

    def keras():
        calls.append("keras")
        return 4.0

    def here():
        calls.append("here")
        time.sleep(0.02)

    cpu: dict[str, list[float]] = {}
    times = common.alternate({"peer": peer, "keras": keras, "here": here}, repeats=2, cpu_seconds=cpu)
    assert calls == ["peer", "keras", "here"] * 2
    assert times["peer"] == [1.5, 1.5] and times["keras"] == [4.0, 4.0]
    assert all(0.02 <= t < 1.0 for t in times["here"])
    assert cpu["peer"] == [2.5, 2.5] and "keras" not in cpu  # a float reports no CPU time
    assert all(c < 0.02 for c in cpu["here"])  # sleeping costs no CPU: this process's CPU time, not wall time


def test_summary_reports_cores_kept_busy_and_fastest_picks_the_smallest_median():
    times = {"a": [2.0, 1.0, 3.0], "b": [1.5, 1.5, 1.5], "c": [0.1]}
    table = common.summaries(times, {"a": [4.0, 2.0, 3.0]})
    assert table["a"] == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3, "cpu_per_second": 2.0}
    assert "cpu_per_second" not in table["b"]
    assert common.fastest(table, ["a", "b", "missing"]) == "b"
    assert common.fastest(table, ["missing"]) is None


def test_the_jax_peer_trains_the_sweep_aelab_trains():
    assert jax_study.SWEEP_SIZES == SweepConfig().code_sizes


def test_the_peers_read_the_images_aelab_reads(real_data_dir):
    train, test = idx_images.split(str(real_data_dir), "fashion-mnist")
    ours = load_dataset("fashion-mnist", data_dir=real_data_dir, progress=False)
    assert train.dtype == np.float32 and train.shape == (60_000, 784) and test.shape == (10_000, 784)
    np.testing.assert_array_equal(train, ours.train_images)
    np.testing.assert_array_equal(test, ours.test_images)


@pytest.mark.parametrize(
    "threads, affinity_pinned, flags",
    [("default", False, ""), ("one", True, jax_study.PIN_FLAGS), ("flags", False, jax_study.PIN_FLAGS)],
)
def test_pinning_sets_what_it_names(threads, affinity_pinned, flags, monkeypatch):
    calls = []
    monkeypatch.setattr(jax_study.os, "sched_setaffinity", lambda pid, cpus: calls.append(cpus))
    monkeypatch.setenv("XLA_FLAGS", "")  # restored (unset) after the test
    jax_study.pin(threads)
    assert calls == ([{min(jax_study.os.sched_getaffinity(0))}] if affinity_pinned else [])
    assert jax_study.os.environ.get("XLA_FLAGS", "") == flags
