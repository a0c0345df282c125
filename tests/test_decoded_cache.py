"""The decoded-image cache (issue 19's last gap): a second load of an unchanged folder reads no image, every change to
the folder is noticed, a damaged cache file is rebuilt and never trusted, and the arrays are bit-identical to a fresh
decode either way. Also the listing, the digest by name, the float32 scaling of uint8, and decoding on processes."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from custom_data_files import age_files, digits, write_png_folder
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from aelab.data.custom import decoded_cache, image_folder, open_dataset, read_samples
from aelab.data.custom.folder_listing import list_image_folder
from aelab.data.custom.identity import folder_digest, named_digest
from aelab.data.custom.image_folder import read_image_folder
from aelab.data.custom.scaling import apply


@pytest.fixture(scope="module")
def digit_arrays():
    return digits()


@pytest.fixture
def counted(monkeypatch):
    """How many files each load read (a load that reads none was served by the cache) and how many decodes ran."""
    reads, decodes = [], []  # a test clears them after its first load
    real_read_all, real_decode = image_folder._read_all, image_folder.decode_images
    monkeypatch.setattr(image_folder, "_read_all", lambda files: reads.append(len(files)) or real_read_all(files))
    monkeypatch.setattr(image_folder, "decode_images", lambda *a: decodes.append(1) or real_decode(*a))
    return reads, decodes


def fresh(folder):
    """The folder read without the cache: every file read, hashed and decoded."""
    return read_image_folder(folder, use_cache=False)


def same_samples(a, b) -> bool:
    return (
        np.array_equal(a.train.x, b.train.x)
        and a.train.x.dtype == b.train.x.dtype == np.uint8
        and np.array_equal(a.train.labels, b.train.labels)
        and a.digest == b.digest
    )


def labelled_folder(tmp_path, digit_arrays, n=30):
    images, labels = digit_arrays
    return age_files(write_png_folder(tmp_path / "f", images[:n], labels[:n]))


def test_an_unchanged_folder_is_served_by_the_cache_bit_identical(tmp_path, digit_arrays, counted):
    folder = labelled_folder(tmp_path, digit_arrays)
    first = read_samples(folder)
    reads, decodes = counted
    reads.clear(), decodes.clear()
    again = read_samples(folder)
    assert reads == [] and decodes == []
    assert same_samples(again, first) and same_samples(again, fresh(folder))


def test_a_touched_file_is_noticed(tmp_path, digit_arrays, counted):
    folder = labelled_folder(tmp_path, digit_arrays)
    first = read_samples(folder)
    one = folder / "0" / "00000.png"
    os.utime(one, ns=(one.stat().st_atime_ns, one.stat().st_mtime_ns + 1))  # one nanosecond later, same bytes
    reads, decodes = counted
    reads.clear(), decodes.clear()
    again = read_samples(folder)
    assert reads == [30] and decodes == []  # read and hashed again; the same digest finds the decoded array
    assert same_samples(again, first)


def test_an_edit_that_keeps_size_and_modification_time_is_noticed_by_the_change_time(tmp_path, counted):
    folder = tmp_path / "bmp"
    folder.mkdir()
    for i in range(6):  # BMP: the same size whatever the pixels
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.bmp")
    age_files(folder)
    first = read_samples(folder)
    target = folder / "2.bmp"
    before = target.stat()
    time.sleep(0.05)  # past the coarse clock's tick that stamped the aging's change time
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (target.stat().st_size, target.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    reads, _ = counted
    reads.clear()
    again = read_samples(folder)
    assert reads == [6] and again.digest != first.digest
    assert (again.train.x[2] == 255).all() and same_samples(again, fresh(folder))


def test_an_added_file_is_noticed(tmp_path, digit_arrays, counted):
    images, labels = digit_arrays
    folder = labelled_folder(tmp_path, digit_arrays)
    read_samples(folder)
    Image.fromarray(images[100]).save(folder / "3" / "00100.png")
    reads, decodes = counted
    reads.clear(), decodes.clear()
    again = read_samples(folder)
    assert reads == [31] and decodes == [1] and len(again.train.x) == 31
    assert same_samples(again, fresh(folder))


def test_a_removed_file_is_noticed(tmp_path, digit_arrays, counted):
    folder = labelled_folder(tmp_path, digit_arrays)
    read_samples(folder)
    (folder / "0" / "00000.png").unlink()
    reads, decodes = counted
    reads.clear(), decodes.clear()
    again = read_samples(folder)
    assert reads == [29] and decodes == [1] and same_samples(again, fresh(folder))


def test_a_renamed_file_is_noticed_and_a_move_to_another_class_changes_its_label(tmp_path, digit_arrays, counted):
    folder = labelled_folder(tmp_path, digit_arrays)
    first = read_samples(folder)
    (folder / "0" / "00000.png").rename(folder / "0" / "99999.png")  # same class, another place in the order
    reads, _ = counted
    reads.clear()
    renamed = read_samples(folder)
    assert reads == [30] and renamed.digest != first.digest and same_samples(renamed, fresh(folder))
    np.testing.assert_array_equal(np.sort(renamed.train.x, axis=0), np.sort(first.train.x, axis=0))
    (folder / "0" / "99999.png").rename(folder / "1" / "99999.png")
    reads.clear()
    moved = read_samples(folder)
    assert reads == [30] and same_samples(moved, fresh(folder))
    assert moved.train.labels.sum() == first.train.labels.sum() + 1


@pytest.mark.parametrize("damage", ["flip a pixel byte", "truncate", "empty", "record garbage", "record other digest"])
def test_a_damaged_cached_array_is_rebuilt_never_trusted(tmp_path, digit_arrays, counted, damage):
    folder = labelled_folder(tmp_path, digit_arrays)
    first = read_samples(folder)
    (array,) = decoded_cache.folder().glob("v*.npy")
    record = array.with_suffix(".json")
    content = array.read_bytes()
    if damage == "flip a pixel byte":
        array.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    elif damage == "truncate":
        array.write_bytes(content[:-64])
    elif damage == "empty":
        array.write_bytes(b"")
    elif damage == "record garbage":
        record.write_text("{not json")
    else:
        record.write_text(json.dumps({"sha256": "0" * 64}))
    reads, decodes = counted
    reads.clear(), decodes.clear()
    again = read_samples(folder)
    assert decodes == [1] and same_samples(again, first)  # decoded afresh from the images
    assert array.read_bytes() == content  # and the cache entry rebuilt: the next load is served again
    read_before = list(reads)
    read_samples(folder)
    assert decodes == [1] and reads == read_before


def test_a_damaged_listing_record_is_not_trusted(tmp_path, digit_arrays, counted):
    images, labels = digit_arrays
    folder = labelled_folder(tmp_path, digit_arrays)
    other = age_files(write_png_folder(tmp_path / "other", images[50:80], labels[50:80]))
    first, other_samples = read_samples(folder), read_samples(other)
    listing = list_image_folder(folder)
    record = (
        decoded_cache.folder() / f"listing-v{decoded_cache.LISTING_VERSION}-"
        f"{decoded_cache.listing_fingerprint(listing.names, listing.stats)}.json"
    )
    content = json.loads(record.read_text())
    record.write_text(json.dumps({**content, "digest": other_samples.digest}))  # would serve the other folder's pixels
    reads, _ = counted
    reads.clear()
    again = read_samples(folder)
    assert reads == [30] and same_samples(again, first)


def test_a_folder_written_just_now_is_not_remembered_by_its_listing(tmp_path, digit_arrays, counted):
    images, labels = digit_arrays
    folder = write_png_folder(tmp_path / "new", images[:20], labels[:20])  # modified within RACY_SECONDS
    first = read_samples(folder)
    reads, decodes = counted
    reads.clear(), decodes.clear()
    again = read_samples(folder)
    assert reads == [20] and decodes == [] and same_samples(again, first)  # hashed again; the array by its digest
    assert decoded_cache.is_racy(list_image_folder(folder).stats, time.time_ns())
    assert not decoded_cache.is_racy(list_image_folder(age_files(folder)).stats, time.time_ns())


def test_open_dataset_from_the_cache_equals_a_fresh_read(tmp_path, digit_arrays):
    folder = labelled_folder(tmp_path, digit_arrays, n=50)
    first, second = open_dataset(folder), open_dataset(folder)
    np.testing.assert_array_equal(first.train_images, second.train_images)
    assert first.record == second.record and second.train_images.dtype == np.float32


def test_the_listing_names_labels_and_stats(tmp_path, digit_arrays):
    images, labels = digit_arrays
    folder = write_png_folder(tmp_path / "f", images[:12], labels[:12])
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x.txt").write_text("skipped")
    listing = list_image_folder(folder)
    files = sorted(folder.rglob("*.png"), key=lambda p: p.relative_to(folder).as_posix())
    assert listing.names == [p.relative_to(folder).as_posix() for p in files]
    assert list(listing.files) == files and listing.files.strings() == [str(p) for p in files]
    assert listing.files[1:3] == files[1:3] and len(listing.files) == 12
    assert listing.stats[:, 0].tolist() == [p.stat().st_size for p in files]
    assert listing.stats[:, 3].tolist() == [p.stat().st_ino for p in files]
    ((rows, found_labels),) = listing.parts.values()
    assert found_labels.tolist() == [int(p.parent.name) for p in files] and rows == slice(0, 12)


def test_the_digest_by_name_is_the_folder_digest(tmp_path):
    contents = {
        tmp_path / "b" / "y.png": b"\x89PNG two",
        tmp_path / "a.png": b"",
        tmp_path / "c" / "d" / "e.png": b"x" * 300,
    }
    pairs = sorted(contents.items(), key=lambda item: item[0].relative_to(tmp_path).as_posix())
    assert named_digest((p.relative_to(tmp_path).as_posix(), c) for p, c in pairs) == folder_digest(tmp_path, pairs)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 12))),
    divisor=st.sampled_from([255.0, 1.0, 0.3, 1.7, 9.9]),
    clip=st.booleans(),
)
def test_uint8_scaling_equals_the_float64_definition(x, divisor, clip):
    """(S1) in float32 where it is exact for all 256 values (255, 1), the float64 path where not (0.3, 1.7, 9.9)."""
    expected = x.astype(np.float64) / divisor
    expected = (np.clip(expected, 0.0, 1.0) if clip else expected).astype(np.float32)
    out = apply(x, {"method": "none", "divisor": divisor, "offset": None, "factor": None}, clip)
    assert out.dtype == np.float32 and np.array_equal(out, expected)


@pytest.mark.parametrize("pointer", ["another folder's entry", "garbage", "a path"])
def test_the_array_read_during_the_listing_is_used_only_if_the_listing_recalls_it(
    tmp_path, digit_arrays, monkeypatch, pointer
):
    images, labels = digit_arrays
    folder = labelled_folder(tmp_path, digit_arrays)
    other = age_files(write_png_folder(tmp_path / "other", images[50:80], labels[50:80]))
    first, other_samples = read_samples(folder), read_samples(other)
    loads = []
    real_load = decoded_cache.load
    monkeypatch.setattr(decoded_cache, "load", lambda name: loads.append(name) or real_load(name))
    assert same_samples(read_samples(folder), first) and len(loads) == 1  # the guess was right: one read in all
    latest = decoded_cache._latest_path(folder, None)
    latest.write_text(
        {
            "another folder's entry": json.dumps({"key": decoded_cache.key(other_samples.digest, None)}),
            "garbage": "[1, 2",
            "a path": json.dumps({"key": "../../etc/passwd"}),
        }[pointer]
    )
    loads.clear()
    again = read_samples(folder)
    assert same_samples(again, first) and loads[-1] == decoded_cache.key(first.digest, None)
    assert json.loads(latest.read_text()) == {"key": decoded_cache.key(first.digest, None)}  # set right for next time


@pytest.mark.real_data
def test_mnist_png_folder_decoded_on_processes_then_cached_equals_the_idx_floats(
    tmp_path, real_data_dir, counted, monkeypatch
):
    """2,000 + 400 MNIST images as PNG class folders (above PROCESS_MIN_FILES: decoded on worker processes by default):
    the first load and the cached second load give, bit for bit, the float32 pixels load_dataset gives from IDX."""
    from aelab.data import load_dataset
    from aelab.data.custom import image_decoding

    mnist = load_dataset("mnist", real_data_dir, progress=False)
    expected = {}
    for split, images, labels, n in (
        ("train", mnist.train_images, mnist.train_labels, 2_000),
        ("test", mnist.test_images, mnist.test_labels, 400),
    ):
        write_png_folder(
            tmp_path / "mnist" / split, np.round(images[:n] * 255).astype(np.uint8).reshape(n, 28, 28), labels[:n]
        )
        order = np.argsort(labels[:n], kind="stable")  # the folder's order: class by class, each by file name
        expected[split] = (images[:n][order], labels[:n][order])
    folder = age_files(tmp_path / "mnist")
    pools = []
    real_on_processes = image_decoding._on_processes
    monkeypatch.setattr(image_decoding, "_on_processes", lambda *a: pools.append(len(a[0])) or real_on_processes(*a))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # the default's workers, on any machine
    reads, decodes = counted
    first, second = open_dataset(folder), open_dataset(folder)
    assert pools == [2_400] and reads == [2_400] and decodes == [1]  # the second load read no image
    for dataset in (first, second):
        for split in ("train", "test"):
            np.testing.assert_array_equal(getattr(dataset, f"{split}_images"), expected[split][0])
            np.testing.assert_array_equal(getattr(dataset, f"{split}_labels"), expected[split][1])
