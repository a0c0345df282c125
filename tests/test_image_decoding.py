"""Decoding on worker processes (image_decoding.py): the same arrays as on threads, bit for bit, and the same one-line
errors (a corrupt image, two sizes); the default chooses processes only for a large folder."""

from __future__ import annotations

import os

import numpy as np
import pytest
from custom_data_files import digits, rgb_images, write_png_folder
from PIL import Image

from aelab.data.custom import image_decoding
from aelab.data.custom.image_decoding import decode_images
from aelab.data.custom.image_folder import read_image_folder
from aelab.errors import DataError


def folder_bytes(folder):
    files = sorted(folder.rglob("*.png"), key=lambda p: p.relative_to(folder).as_posix())
    return [str(p) for p in files], [p.read_bytes() for p in files]


def both_ways(paths, contents, size=None):
    """(on threads, on 2 processes); each one line if it fails."""
    results = []
    for processes in (False, True):
        try:
            results.append(decode_images(paths, contents, size, 2, processes))
        except DataError as exc:
            assert "\n" not in str(exc)
            results.append(str(exc))
    return results


def test_processes_decode_grey_and_rgb_bit_identical_to_threads(tmp_path):
    images, labels = digits()
    grey = folder_bytes(write_png_folder(tmp_path / "grey", images[:300], labels[:300]))
    colour_images, colour_labels = rgb_images(40)
    colour = folder_bytes(write_png_folder(tmp_path / "rgb", colour_images, colour_labels))
    for paths, contents, size in (*[(*grey, s) for s in (None, (5, 6))], (*colour, None)):
        threads, processes = both_ways(paths, contents, size)
        assert threads.dtype == processes.dtype == np.uint8 and np.array_equal(threads, processes)
    mixed = both_ways(grey[0][:5] + colour[0][:5], grey[1][:5] + colour[1][:5], (8, 8))  # grey joins colour as RGB
    assert mixed[0].shape == (10, 3, 8, 8) and np.array_equal(*mixed)


def test_processes_give_the_same_one_line_errors(tmp_path):
    images, labels = digits()
    paths, contents = folder_bytes(write_png_folder(tmp_path / "f", images[:200], labels[:200]))
    broken = list(contents)
    broken[150] = contents[150][:40]  # truncated
    threads, processes = both_ways(paths, broken)
    assert threads == processes and threads.startswith(f"{paths[150]}: corrupt, truncated or not an image")
    other = tmp_path / "big.png"
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(other)
    threads, processes = both_ways(paths[:120] + [str(other)], contents[:120] + [other.read_bytes()])
    assert (
        threads
        == processes
        == (f"{other}: 8×9 pixels but {paths[0]} has 8×8: expected one size (or pass --image-size H,W to resize)")
    )


def test_the_default_uses_processes_for_a_large_folder_only(tmp_path, monkeypatch):
    images, labels = digits()
    folder = write_png_folder(tmp_path / "f", images[:60], labels[:60])
    chosen = []
    real = image_decoding._on_processes
    monkeypatch.setattr(image_decoding, "_on_processes", lambda *a: chosen.append(len(a[0])) or real(*a))
    small = read_image_folder(folder, use_cache=False, workers=2)
    assert chosen == []
    monkeypatch.setattr(image_decoding, "PROCESS_MIN_FILES", 50)
    large = read_image_folder(folder, use_cache=False, workers=2)
    assert chosen == [60] and np.array_equal(small.train.x, large.train.x)
    read_image_folder(folder, use_cache=False, workers=1)  # one worker: no process to start
    assert chosen == [60]


def test_a_file_that_is_no_image_names_no_memory_address(tmp_path):
    images, labels = digits()
    paths, contents = folder_bytes(write_png_folder(tmp_path / "f", images[:130], labels[:130]))
    contents[7] = b"plain text, not an image"
    threads, processes = both_ways(paths, contents)
    assert (
        threads
        == processes
        == (
            f"{paths[7]}: corrupt, truncated or not an image (no image format Pillow knows): "
            "expected a readable PNG file"
        )
    )


def die(*args):
    os._exit(1)  # as a worker killed by the kernel's out-of-memory killer would end


def test_a_worker_that_dies_is_one_line(tmp_path, monkeypatch):
    images, labels = digits()
    paths, contents = folder_bytes(write_png_folder(tmp_path / "f", images[:50], labels[:50]))
    monkeypatch.setattr(image_decoding, "decode_chunk", die)
    with pytest.raises(DataError) as caught:
        decode_images(paths, contents, None, 2, True)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(
        f"{tmp_path / 'f'}: a worker process decoding these 50 images died"
    )


def test_workers_start_from_a_forkserver_never_by_fork(tmp_path, monkeypatch):
    """A fork from a process running training threads, the kernels' spinning helper and a reader pool can inherit a
    lock held forever; forkserver children come from a server that runs none of them (image_decoding's docstring)."""
    images, labels = digits()
    paths, contents = folder_bytes(write_png_folder(tmp_path / "f", images[:40], labels[:40]))
    methods = []
    real = image_decoding.ProcessPoolExecutor

    def recording(*args, mp_context=None, **kwargs):
        methods.append(mp_context.get_start_method())
        return real(*args, mp_context=mp_context, **kwargs)

    monkeypatch.setattr(image_decoding, "ProcessPoolExecutor", recording)
    decoded = decode_images(paths, contents, None, 2, True)
    assert methods == ["forkserver"] and np.array_equal(decoded, decode_images(paths, contents, None, 2, False))
