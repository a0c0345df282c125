r"""The JAX peer: the study's models trained with JAX/XLA, for timing and loss comparison (runs in .venv-peers).

    .venv-peers/bin/python benchmarks/peers/jax_study.py --model shallow --variant scan --epochs 5 --test \
        --data-dir ../shared/data
    .venv-peers/bin/python benchmarks/peers/jax_study.py --model sweep --sweep joint --variant loop --threads one \
        --data-dir …
    .venv-peers/bin/python benchmarks/peers/jax_study.py --check-sweep --data-dir ../shared/data

Variants (benchmarks/peers/jax_models.py): `loop` calls a jitted step once per batch from Python;
`scan` runs the whole epoch as one `lax.scan`; `products` runs only the epoch's matrix products
(shallow and deep), the floor under either. Models: shallow, deep, and the 7-size sweep of shallow
models, held `joint` (unpadded, one encoder GEMM for all) or `padded` (vmapped over stacked arrays).

--threads: `default` leaves XLA its thread pool; `one` pins the process to one core before JAX
starts. What pins it is the CPU affinity (as `taskset -c 0` would): with the XLA flags
`--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1` alone, two threads still each
worked ~0.9 CPU-s through a deep `scan` epoch on the 2-core Xeon, as with no setting at all; under
the affinity one thread did all of it. `flags` and `affinity` apply each half alone, so this can be
checked again: every run reports its CPU seconds and how many threads worked in each epoch.

Compilation happens before the clock starts and is reported apart. Prints one JSON line: per-epoch
wall and CPU seconds, per-epoch training loss (mean over the epoch's steps, as Keras and aelab
report it; one per model for the sweep) and, with --test, the test loss after the last epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from idx_images import split

SWEEP_SIZES = tuple(range(5, 100, 15))  # aelab's SweepConfig.code_sizes, 5:100:15 = 5, 20, …, 95
PIN_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
PINNING = {"default": (False, ""), "flags": (False, PIN_FLAGS), "affinity": (True, ""), "one": (True, PIN_FLAGS)}


def pin(threads: str) -> None:
    """Restrict the process before JAX loads (threads inherit the affinity; XLA reads its flags once)."""
    affinity, flags = PINNING[threads]
    if affinity:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if flags:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) each thread of this process has used so far, by thread id (Linux /proc)."""
    seconds = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        except OSError:  # the thread ended meanwhile
            continue
        seconds[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK"
        )  # utime, stime: stat(5) fields 14, 15
    return seconds


class EpochClock:
    """Wall seconds, process CPU seconds and the number of threads that worked (≥ 10% of the wall time) per epoch."""

    def __init__(self):
        self.record = {"epoch_seconds": [], "epoch_cpu_seconds": [], "threads_working": []}

    def __enter__(self):
        self.wall, self.cpu, self.threads = time.perf_counter(), time.process_time(), thread_cpu_seconds()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        self.record["epoch_seconds"].append(wall)
        self.record["epoch_cpu_seconds"].append(time.process_time() - self.cpu)
        self.record["threads_working"].append(
            sum(seconds - self.threads.get(tid, 0.0) >= 0.1 * wall for tid, seconds in thread_cpu_seconds().items())
        )


def compiled_epoch(variant: str, update, params, opt_state, x, steps: int, batch_size: int, n_models: int):
    """Compile the epoch ahead of time; returns (params, opt_state, order) → (params, opt_state, losses (M,))."""
    import jax
    import jax.numpy as jnp
    import jax_models as jm

    order_shape = jax.ShapeDtypeStruct((steps, batch_size), np.int32)
    if variant == "scan":
        run = jm.scan_epoch(update).lower(params, opt_state, x, order_shape).compile()
        return lambda p, s, order: run(p, s, x, order)
    step = (
        jm.loop_step(update)
        .lower(params, opt_state, jnp.zeros(n_models), x, order_shape, jax.ShapeDtypeStruct((), np.int32))
        .compile()
    )

    def epoch(p, s, order):
        loss_sum = jnp.zeros(n_models)
        for i in range(steps):
            p, s, loss_sum = step(p, s, loss_sum, x, order, np.int32(i))
        return p, s, loss_sum / steps

    return epoch


def train(args, x: np.ndarray, x_test: np.ndarray) -> dict:
    """Train `args.model` for `args.epochs` epochs; the JSON record of times and losses."""
    import jax
    import jax_models as jm

    name = args.sweep if args.model == "sweep" else args.model
    sizes = SWEEP_SIZES if args.model == "sweep" else (args.code_size,)
    params, losses = jm.family(name, sizes, args.seed)
    optimizer = jm.adam()
    opt_state = optimizer.init(params)
    n, steps = len(x), len(x) // args.batch_size
    if steps * args.batch_size != n:
        raise SystemExit(
            f"--batch-size {args.batch_size}: expected a divisor of the {n} training images (full batches only)"
        )
    x_dev, rng = jax.device_put(x), np.random.default_rng(args.seed)
    start = time.perf_counter()
    epoch = compiled_epoch(
        args.variant, jm.make_update(losses, optimizer), params, opt_state, x_dev, steps, args.batch_size, len(sizes)
    )
    compile_seconds, clock, train_loss = time.perf_counter() - start, EpochClock(), []
    for _ in range(args.epochs):
        with clock:
            order = jax.device_put(rng.permutation(n).astype(np.int32).reshape(steps, args.batch_size))  # a fresh order
            params, opt_state, loss = epoch(params, opt_state, order)
            loss = np.asarray(loss)  # waits for the epoch to finish
        train_loss.append(loss.tolist() if args.model == "sweep" else float(loss[0]))
    record = {"compile_seconds": compile_seconds, **clock.record, "train_loss": train_loss}
    if args.test:
        test = np.asarray(jax.jit(losses)(params, jax.device_put(x_test)))
        record["test_loss"] = test.tolist() if args.model == "sweep" else float(test[0])
    return record


def products(args, x: np.ndarray) -> dict:
    """Time `args.epochs` epochs of only the matrix products (contiguous batches: no gather either)."""
    import jax
    import jax_models as jm

    sizes = jm.widths(args.model, args.code_size)
    keys = jax.random.split(jax.random.PRNGKey(args.seed), len(sizes) - 1)
    weights = [jm.glorot_uniform(k, n_in, n_out) for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])]
    steps = len(x) // args.batch_size
    batches = jax.device_put(x[: steps * args.batch_size].reshape(steps, args.batch_size, -1))
    start = time.perf_counter()
    run = jm.products_epoch(len(weights)).lower(weights, batches).compile()
    compile_seconds, clock = time.perf_counter() - start, EpochClock()
    for _ in range(args.epochs):
        with clock:
            jax.block_until_ready(run(weights, batches))
    return {"compile_seconds": compile_seconds, **clock.record, "products_per_step": run.as_text().count(" dot(")}


def check_sweep(x: np.ndarray, seed: int, steps: int = 3, batch_size: int = 32) -> dict:
    """Largest difference, after `steps` Adam steps on the same batches, between each sweep form's
    per-model losses and every model trained alone: the two sweep forms must be the seven models."""
    import jax
    import jax.numpy as jnp
    import jax_models as jm

    batches = [jnp.asarray(x[i * batch_size : (i + 1) * batch_size]) for i in range(steps)]

    def run(name: str, sizes: tuple[int, ...]) -> np.ndarray:
        params, losses = jm.family(name, sizes, seed)
        optimizer = jm.adam()
        opt_state, update = optimizer.init(params), jax.jit(jm.make_update(losses, optimizer))
        for batch in batches:
            params, opt_state, loss = update(params, opt_state, batch)
        return np.asarray(jax.jit(losses)(params, batches[0]))  # after the steps, so training is compared too

    alone = np.concatenate([run("shallow", (k,)) for k in SWEEP_SIZES])
    return {
        "alone": alone.tolist(),
        **{
            f"max_difference_{name}": float(np.abs(run(name, SWEEP_SIZES) - alone).max())
            for name in ("joint", "padded")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("shallow", "deep", "sweep"), default="shallow")
    parser.add_argument("--sweep", choices=("joint", "padded"), default="joint", help="how the sweep's models are held")
    parser.add_argument("--variant", choices=("loop", "scan", "products"), default="scan")
    parser.add_argument("--threads", choices=tuple(PINNING), default="default")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--code-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test", action="store_true", help="report the test loss after the last epoch")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument(
        "--check-sweep", action="store_true", help="check both sweep forms against seven models trained alone"
    )
    args = parser.parse_args()
    if args.variant == "products" and args.model == "sweep":
        parser.error("--variant products: expected --model shallow or deep")
    pin(args.threads)
    import jax

    x, x_test = split(args.data_dir, args.dataset)
    if args.check_sweep:
        record = check_sweep(x, args.seed)
    else:
        record = products(args, x) if args.variant == "products" else train(args, x, x_test)
        record = {"model": args.model, "variant": args.variant, "threads": args.threads, **record}
        if args.model == "sweep":
            record.update(sweep=args.sweep, code_sizes=list(SWEEP_SIZES))
    print(
        json.dumps(
            {
                **record,
                "cpus": sorted(os.sched_getaffinity(0)),
                "xla_flags": os.environ.get("XLA_FLAGS", ""),
                "jax": jax.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
