"""Helpers shared by the benchmark scripts: alternating A/B timing, medians and spread, machine facts."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import NamedTuple

import torch

from aelab.devices import cpu_model  # the CPU as lscpu names it, in every benchmark's record


class Timing(NamedTuple):
    """Seconds a contender measured itself (a peer process timing its epoch, its start-up excluded),
    and the CPU seconds all its threads used meanwhile, where it reports them."""

    seconds: float
    cpu_seconds: float | None = None


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "date": datetime.date.today().isoformat(),
    }


def alternate(
    contenders: dict[str, Callable[[], object]], repeats: int, cpu_seconds: dict[str, list[float]] | None = None
) -> dict[str, list[float]]:
    """Time each contender `repeats` times, interleaved (A B A B …) so machine noise hits all alike.

    A contender that returns a float or a `Timing` reports its own seconds (a peer process timed
    inside itself); the others are timed here. `cpu_seconds`, when given, collects each contender's
    CPU seconds: this process's for contenders timed here, a peer's own where it reports them.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            result = run()
            timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
            if isinstance(result, (float, Timing)):
                timing = result if isinstance(result, Timing) else Timing(result)
            times[name].append(timing.seconds)
            if cpu_seconds is not None and timing.cpu_seconds is not None:
                cpu_seconds.setdefault(name, []).append(timing.cpu_seconds)
    return times


def summary(samples: list[float], cpu_samples: list[float] | None = None) -> dict:
    """Median, min, max and count; with CPU seconds, the median CPU seconds per wall second (cores kept busy)."""
    result = {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}
    if cpu_samples:
        result["cpu_per_second"] = statistics.median(c / s for c, s in zip(cpu_samples, samples))
    return result


def summaries(times: dict[str, list[float]], cpu_seconds: dict[str, list[float]]) -> dict[str, dict]:
    return {name: summary(samples, cpu_seconds.get(name)) for name, samples in times.items()}


def print_rows(table: dict[str, dict], reference: str, width: int = 22) -> None:
    """One line per contender: median s [min–max], the ratio to `reference`'s median, CPU-s per second."""
    base = table[reference]["median"]
    for name, s in table.items():
        spread = f"[{s['min']:.2f}–{s['max']:.2f}]" if s["n"] > 1 else ""
        cores = f"{s['cpu_per_second']:.1f} CPU-s/s" if "cpu_per_second" in s else ""
        print(f"  {name:<{width}} {s['median']:7.2f} s {spread:<14} {s['median'] / base:6.2f}×  {cores}")


def fastest(table: dict[str, dict], names) -> str | None:
    """The name among `names` (those present in `table`) with the smallest median, None if none is."""
    present = [name for name in names if name in table]
    return min(present, key=lambda name: table[name]["median"]) if present else None


def timing_mnist(train_size: int) -> tuple[torch.Tensor, str]:
    """Print the machine line; return (MNIST's first `train_size` training images, resident and shared; the data
    folder)."""
    from aelab.data import load_dataset
    from aelab.data.arrays import shared_tensor

    facts = machine()
    print(f"machine: {facts['cpu']}, {facts['cores']} cores; torch {facts['torch']} ({facts['torch_threads']} threads)")
    data_dir = os.environ.get("AELAB_DATA_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    return shared_tensor(load_dataset("mnist", data_dir=data_dir, progress=False).train_images)[:train_size], data_dir


def timing_arguments(description: str) -> argparse.ArgumentParser:
    """The options every epoch benchmark takes: --train-size (MNIST's first images) and --repeats."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--train-size", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=3)
    return parser


def timed_table(
    title: str, contenders: dict[str, Callable[[], object]], reference: str, repeats: int, width: int = 22
) -> dict[str, dict]:
    """Time `contenders` alternated, print `title` and one row each (ratios to `reference`); return the table."""
    cpu: dict[str, list[float]] = {}
    table = summaries(alternate(contenders, repeats, cpu), cpu)
    print(title)
    print_rows(table, reference, width)
    return table


def peak_status_kb(child, fields: tuple[str, ...], interval: float = 0.02) -> dict[str, int]:
    """The peaks (kB) of `fields` of /proc/PID/status (RssAnon, RssFile, VmHWM, …) of a running child process,
    sampled every `interval` seconds until it ends."""
    import time

    peaks = dict.fromkeys(fields, 0)
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/status") as status:
                for line in status:
                    key = line.split(":", 1)[0]
                    if key in peaks:
                        peaks[key] = max(peaks[key], int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(interval)
    return peaks
