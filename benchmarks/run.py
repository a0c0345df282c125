"""`make bench`: run every benchmark, print its table, write benchmarks/results/<date>.json.

Run it on an otherwise idle machine: the tables are ratios of medians of alternated runs, but a
second job on a 2-core machine still distorts them. With the peers installed (`make bench-peers`:
Keras and JAX) it takes about 30 minutes, most of it the Keras study run twice; `--quick` leaves
out the end-to-end study and the scaling series. With the JAX peer it first checks that the peer
reaches aelab's losses (bench_losses.py), so that its timings compare the same work.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import bench_dense_vae  # noqa: E402
import bench_families  # noqa: E402
import bench_foundation  # noqa: E402
import bench_losses  # noqa: E402
import bench_reproduce  # noqa: E402
import bench_scaling  # noqa: E402
import bench_speed  # noqa: E402
import bench_sweep  # noqa: E402
import bench_threads  # noqa: E402
from common import machine  # noqa: E402
from peer_runs import have_jax  # noqa: E402

from aelab.data import load_dataset  # noqa: E402
from aelab.data.arrays import shared_tensor  # noqa: E402
from aelab.fileio import atomic_write_json  # noqa: E402


def main() -> int:
    facts = machine()
    print(
        f"machine: {facts['cpu']}, {facts['cores']} cores; torch {facts['torch']} ({facts['torch_threads']} "
        f"threads); {facts['date']}"
    )
    data_dir = os.environ.get("AELAB_DATA_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    x = shared_tensor(load_dataset("fashion-mnist", data_dir=data_dir, progress=False).train_images)
    results = {"machine": facts, "load": bench_foundation.run()}
    if have_jax():
        results["peer losses"] = bench_losses.run(data_dir)
    results.update(epoch=bench_speed.run(x, data_dir), sweep=bench_sweep.run(x, data_dir), threads=bench_threads.run(x))
    if "--quick" not in sys.argv:
        results["study"] = bench_reproduce.run(data_dir)
        results["scaling"] = bench_scaling.run(x)
        mnist = shared_tensor(load_dataset("mnist", data_dir=data_dir, progress=False).train_images)
        results["families"] = bench_families.run(mnist, data_dir)  # conv AE, conv VAE, dense VAE (issue 14)
        results["dense vae"] = bench_dense_vae.run(mnist)  # compiled dense VAE against the dense AE, batch 32 and 128
    path = os.path.join(os.path.dirname(__file__), "results", f"{facts['date']}.json")
    atomic_write_json(path, results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
