"""Loading a 70,000-image PNG folder (issue 19): decoding on one thread against a pool, and the second load
from the verified decoded cache, each against loading the same images from IDX files.

MNIST (60,000 training and 10,000 test images from $AELAB_DATA_DIR, or --data-dir) is exported once
to FOLDER/train/<digit>/NNNNN.png and FOLDER/test/<digit>/NNNNN.png (kept for later runs). Then,
alternated over --repeats rounds, each in a fresh cache folder where a cold load is timed:

    idx          aelab.load_dataset("mnist") in a fresh process state: read, SHA-256, decode, scale
    png_1        the folder decoded on one thread (cache off): read, hash, decode, stack
    png_pool     the same on a pool of one thread per core (the default)
    png_cached   open_dataset(FOLDER) a second time: read and hash the files, then the verified cached array

Run it on an idle machine (timings on a busy one mean little) and read the ratios:

    .venv/bin/python benchmarks/bench_image_folder.py [--folder /tmp/mnist-png] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from common import machine  # noqa: E402

from aelab.data import load_dataset  # noqa: E402
from aelab.data.custom import open_dataset  # noqa: E402
from aelab.data.custom.image_folder import read_image_folder  # noqa: E402
from aelab.data.load import clear_loaded  # noqa: E402


def export(folder: Path, data_dir: str | None) -> Path:
    """MNIST as 70,000 PNGs in class folders (skipped when FOLDER.done exists: a marker beside the folder, since
    a file among the class folders is refused by the reader)."""
    marker = folder.with_name(folder.name + ".done")
    if marker.is_file():
        return folder
    mnist = load_dataset("mnist", data_dir, flatten=False, progress=False)
    for split, images, labels in (("train", mnist.train_images, mnist.train_labels), ("test", mnist.test_images, mnist.test_labels)):
        pixels = np.round(np.asarray(images) * 255).astype(np.uint8)
        for i, (image, label) in enumerate(zip(pixels, labels)):
            target = folder / split / str(int(label))
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target / f"{i:05d}.png")
    marker.write_text("70000 images\n")
    return folder


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def one_round(folder: Path, data_dir: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache  # a cold cache for this round (aelab's IDX cache and the decoded one)
        clear_loaded()
        times = {"idx": timed(lambda: load_dataset("mnist", data_dir, progress=False))}
        times["png_1"] = timed(lambda: read_image_folder(folder, use_cache=False, workers=1))
        times["png_pool"] = timed(lambda: read_image_folder(folder, use_cache=False))
        open_dataset(folder)  # fills the decoded cache
        times["png_cached"] = timed(lambda: open_dataset(folder))
        clear_loaded()
        times["idx_again"] = timed(lambda: load_dataset("mnist", data_dir, progress=False))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "aelab-mnist-png"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = export(Path(args.folder), args.data_dir)
    rounds = [one_round(folder, args.data_dir) for _ in range(args.repeats)]
    median = {key: float(np.median([r[key] for r in rounds])) for key in rounds[0]}
    print(json.dumps({"machine": machine(), "images": 70_000, "workers": min(32, os.cpu_count() or 1), "seconds": median,
                      "ratios": {"png_1 / png_pool (parallel decoding's speed-up)": median["png_1"] / median["png_pool"],
                                 "png_cached / idx_again (second load against IDX)": median["png_cached"] / median["idx_again"],
                                 "png_pool / png_cached (what the cache saves)": median["png_pool"] / median["png_cached"]},
                      "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
