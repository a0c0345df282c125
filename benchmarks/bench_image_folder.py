"""Loading a 70,000-image PNG folder (issue 19): the first load with each decoder, the second load from the verified
decoded cache, and the same images from IDX files — side by side, alternated, medians [min–max].

MNIST (60,000 training and 10,000 test images from $AELAB_DATA_DIR, or --data-dir) is exported once
to FOLDER/train/<digit>/NNNNN.png and FOLDER/test/<digit>/NNNNN.png (kept for later runs). Contenders,
interleaved over --repeats rounds (A B C … A B C …) so that machine noise hits all alike:

    idx             load_dataset("mnist") with its in-process memo cleared: read, SHA-256, decode, float32
    png_cached      open_dataset(FOLDER) with the decoded cache filled: list and stat the files, recall the
                    digest, read and verify the cached array, float32 — what a second load costs
    png_threads_1   the first load's work (cache off): read, hash and decode every file, on one thread
    png_threads     … decoded on a pool of threads (one per core)
    png_processes   … decoded on forked worker processes (one per core; the default for 2,000 files or more)

The first-load contenders stop at the uint8 array (no float32 step); the decoders' arrays are checked
bit-identical. The stages of a cached load are timed too (median of the rounds). Run it on an idle
machine (timings on a busy one mean little) and read the ratios:

    .venv/bin/python benchmarks/bench_image_folder.py [--folder /tmp/aelab-mnist-png] [--repeats 3] [--no-decoders]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from common import alternate, machine, print_rows, summaries  # noqa: E402

from aelab.data import load_dataset  # noqa: E402
from aelab.data.custom import decoded_cache, open_dataset  # noqa: E402
from aelab.data.custom.folder_listing import list_image_folder  # noqa: E402
from aelab.data.custom.image_folder import read_image_folder  # noqa: E402
from aelab.data.custom.scaling import apply  # noqa: E402
from aelab.data.load import clear_loaded  # noqa: E402


def export(folder: Path, data_dir: str | None) -> Path:
    """MNIST as 70,000 PNGs in class folders (skipped when FOLDER.done exists: a marker beside the folder, since
    a file among the class folders is refused by the reader)."""
    marker = folder.with_name(folder.name + ".done")
    if marker.is_file():
        return folder
    mnist = load_dataset("mnist", data_dir, flatten=False, progress=False)
    for split, images, labels in (
        ("train", mnist.train_images, mnist.train_labels),
        ("test", mnist.test_images, mnist.test_labels),
    ):
        pixels = np.round(np.asarray(images) * 255).astype(np.uint8)
        for i, (image, label) in enumerate(zip(pixels, labels)):
            target = folder / split / str(int(label))
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target / f"{i:05d}.png")
    marker.write_text("70000 images\n")
    return folder


def idx_load(data_dir: str | None):
    clear_loaded()  # the memo would return the arrays of the previous round
    return load_dataset("mnist", data_dir, progress=False)


def cached_stages(folder: Path) -> dict[str, float]:
    """Seconds of each stage of a cached load, as read_image_folder and open_dataset run them."""
    times, start = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal start
        now = time.perf_counter()
        times[name], start = now - start, now

    listing = list_image_folder(folder)
    lap("list and stat")
    digest = decoded_cache.recall(decoded_cache.listing_fingerprint(listing.names, listing.stats))
    lap("fingerprint and recall")
    x = decoded_cache.load(decoded_cache.key(digest, None))
    lap("read and verify the array")
    apply(x, {"method": "none", "divisor": 255.0, "offset": None, "factor": None}, False)
    lap("float32")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "aelab-mnist-png"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-decoders", action="store_true", help="leave out the first loads (~15 s each on 2 cores)")
    args = parser.parse_args()
    folder = export(Path(args.folder), args.data_dir)
    with tempfile.TemporaryDirectory(prefix="aelab-bench-cache-") as cache:
        os.environ["XDG_CACHE_HOME"] = cache  # the run's own decoded cache, removed at the end
        measure(folder, args)


def measure(folder: Path, args: argparse.Namespace) -> None:
    first = open_dataset(folder)  # fills the decoded cache
    contenders = {"idx": lambda: idx_load(args.data_dir), "png_cached": lambda: open_dataset(folder)}
    if not args.no_decoders:
        for name, workers, processes in (
            ("png_threads_1", 1, False),
            ("png_threads", None, False),
            ("png_processes", None, True),
        ):
            contenders[name] = partial(read_image_folder, folder, use_cache=False, workers=workers, processes=processes)
        arrays = [contenders[name]().train.x for name in ("png_threads_1", "png_threads", "png_processes")]
        assert all(np.array_equal(arrays[0], a) for a in arrays[1:]), "the decoders' arrays differ"
    assert np.array_equal(contenders["png_cached"]().train_images, first.train_images)
    cpu: dict[str, list[float]] = {}
    table = summaries(alternate(contenders, args.repeats, cpu), cpu)
    stages = [cached_stages(folder) for _ in range(args.repeats)]
    facts = machine()
    print(
        f"machine: {facts['cpu']}, {facts['cores']} cores; {facts['date']}; 70,000 images, "
        f"{args.repeats} alternated rounds"
    )
    print("  contender                median s [min–max]      × idx")
    print_rows(table, "idx")
    print(
        "  a cached load's stages (median s): "
        + ", ".join(f"{name} {statistics.median(s[name] for s in stages):.3f}" for name in stages[0])
    )
    print(json.dumps({"machine": facts, "seconds": table, "cached_stages": stages}))


if __name__ == "__main__":
    main()
