"""Your own data (issue 19): each reader on real and generated files, the split, the scaling, the identity,
and every bad-input case as a one-line DataError naming the file (and line, column or index)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from custom_data_files import age_files, digits, rgb_images, signals, write_digits_csv, write_png_folder
from PIL import Image

from aelab.data.custom import decoded_cache, image_folder, open_dataset, read_samples
from aelab.data.custom.identity import file_digest
from aelab.data.idx import write_idx
from aelab.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def digit_arrays():
    return digits()


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_digits_read_the_same_from_png_folder_npz_and_csv(tmp_path, digit_arrays):
    images, labels = digit_arrays
    folder = write_png_folder(tmp_path / "digits", images, labels)
    np.savez(tmp_path / "digits.npz", x_train=images, y_train=labels)
    write_digits_csv(tmp_path / "digits.csv", images.reshape(len(images), -1), labels)
    from_folder = read_samples(folder)
    order = np.argsort(labels, kind="stable")  # the folder reads class by class, each in file-name order
    assert from_folder.train.x.shape == (1797, 1, 8, 8) and from_folder.class_names == tuple("0123456789")
    np.testing.assert_array_equal(from_folder.train.x[:, 0], images[order])
    np.testing.assert_array_equal(from_folder.train.labels, labels[order])
    from_npz = read_samples(tmp_path / "digits.npz")
    np.testing.assert_array_equal(from_npz.train.x, images)
    from_csv = read_samples(tmp_path / "digits.csv", label_column="digit")
    np.testing.assert_array_equal(from_csv.train.x, images.reshape(1797, 64).astype(np.float32))
    np.testing.assert_array_equal(from_csv.train.labels, labels)
    assert read_samples(tmp_path / "digits.csv", label_column="64").train.labels.tolist() == labels.tolist()


def test_the_three_kinds_give_the_same_scaled_samples_and_the_split_is_seeded(tmp_path, digit_arrays):
    images, labels = digit_arrays
    np.savez(tmp_path / "d.npz", x_train=images, y_train=labels)
    a, b = open_dataset(tmp_path / "d.npz", seed=3), open_dataset(tmp_path / "d.npz", seed=3)
    np.testing.assert_array_equal(a.train_images, b.train_images)
    assert a.record["split"] == {"method": "fraction", "test_fraction": 0.2, "seed": 3, "n_train": 1438, "n_test": 359}
    c = open_dataset(tmp_path / "d.npz", seed=4)
    assert not np.array_equal(a.test_labels, c.test_labels)
    assert a.sample_shape == (1, 8, 8) and a.loss == "bce" and a.train_images.max() == 1.0
    # train and test together are every image once, divided by 255
    together = np.sort(np.concatenate([a.train_images, a.test_images]), axis=0)
    np.testing.assert_allclose(together, np.sort(images.reshape(1797, 64) / 255.0, axis=0), rtol=1e-6)


def test_given_split_and_test_fraction_conflict(tmp_path, digit_arrays):
    images, labels = digit_arrays
    np.savez(
        tmp_path / "d.npz", x_train=images[:100], y_train=labels[:100], x_test=images[100:150], y_test=labels[100:150]
    )
    data = open_dataset(tmp_path / "d.npz")
    assert data.record["split"]["method"] == "given" and len(data.test_images) == 50
    with pytest.raises(ConfigError, match="brings its own test split"):
        open_dataset(tmp_path / "d.npz", test_fraction=0.3)


def test_train_and_test_folders_give_the_split(tmp_path, digit_arrays):
    images, labels = digit_arrays
    write_png_folder(tmp_path / "f" / "train", images[:50], labels[:50])
    write_png_folder(tmp_path / "f" / "test", images[50:70], labels[50:70], start=50)
    data = open_dataset(tmp_path / "f")
    assert (len(data.train_images), len(data.test_images)) == (50, 20) and data.record["split"]["method"] == "given"
    assert data.record["identity"]["files"] == 70


def test_scaling_statistics_come_from_the_training_split_only(tmp_path):
    x, y = signals()
    np.save(tmp_path / "s.npy", x)
    data = open_dataset(tmp_path / "s.npy", scale="standard", seed=1)
    record = data.record["scaling"]
    assert data.loss == "mse" and record["method"] == "standard"
    np.testing.assert_allclose(data.train_images.mean(axis=0), 0.0, atol=1e-5)  # (S3) on the training split
    np.testing.assert_allclose(data.train_images.std(axis=0), 1.0, atol=1e-4)
    assert np.abs(data.test_images.mean(axis=0)).max() > 1e-3  # the test split was not used to fit
    mm = open_dataset(tmp_path / "s.npy", scale="minmax", loss="bce", seed=1)
    assert mm.train_images.min() == 0.0 and mm.train_images.max() == 1.0 and mm.record["clipped_to_unit_range"]
    with pytest.raises(ConfigError, match="--loss bce"):
        open_dataset(tmp_path / "s.npy", scale="standard", loss="bce")


def test_a_constant_feature_is_not_divided_by_zero(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    x[:, 2] = 7.0
    np.save(tmp_path / "c.npy", x)
    for scale in ("minmax", "standard"):
        data = open_dataset(tmp_path / "c.npy", scale=scale)
        assert np.isfinite(data.train_images).all()


def test_identity_is_sha256_of_a_file_and_folder_digest_changes_with_a_label(tmp_path, digit_arrays):
    images, labels = digit_arrays
    np.savez(tmp_path / "d.npz", x_train=images, y_train=labels)
    data = open_dataset(tmp_path / "d.npz")
    assert data.record["identity"]["sha256"] == hashlib.sha256((tmp_path / "d.npz").read_bytes()).hexdigest()
    assert data.record["identity"]["shape"] == [1797, 1, 8, 8] and data.record["identity"]["files"] == 1
    folder = write_png_folder(tmp_path / "f", images[:30], labels[:30])
    first = open_dataset(folder).record["identity"]["sha256"]
    assert open_dataset(folder).record["identity"]["sha256"] == first
    moved = next((folder / "0").iterdir())
    moved.rename(folder / "1" / moved.name)  # the same bytes under another class
    assert open_dataset(folder).record["identity"]["sha256"] != first


def test_rgb_folder_and_channels_last_arrays_read_as_c_h_w(tmp_path):
    images, labels = rgb_images()
    folder = write_png_folder(tmp_path / "rgb", images, labels)
    data = open_dataset(folder)
    assert data.sample_shape == (3, 12, 12) and data.train_images.shape[1] == 3 * 144
    np.save(tmp_path / "rgb.npy", images)
    assert open_dataset(tmp_path / "rgb.npy").sample_shape == (3, 12, 12)
    # a grey image among colour ones is read as RGB
    Image.fromarray(images[0, :, :, 0]).save(folder / "0" / "grey.png")
    assert read_samples(folder).train.x.shape[1] == 3


def test_image_size_resizes_mixed_sizes(tmp_path, digit_arrays):
    images, _ = digit_arrays
    folder = tmp_path / "mixed"
    write_png_folder(folder, images[:5], None)
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(folder / "zz.png")
    with pytest.raises(DataError) as exc:
        read_samples(folder)
    assert "zz.png" in one_line(exc) and "00000.png" in str(exc.value) and "--image-size" in str(exc.value)
    assert read_samples(folder, image_size=(6, 7)).train.x.shape == (6, 1, 6, 7)


def test_the_decoded_cache_is_used_and_verified(tmp_path, digit_arrays, monkeypatch):
    images, labels = digit_arrays
    folder = write_png_folder(tmp_path / "f", images[:40], labels[:40])
    first = read_samples(folder)
    entries = list(decoded_cache.folder().glob("*.npy"))
    assert len(entries) == 1
    calls = []
    monkeypatch.setattr("aelab.data.custom.image_folder.decode_images", lambda *a: calls.append(1) or first.train.x)
    read_samples(folder)
    assert not calls  # a hit: nothing decoded
    entries[0].write_bytes(entries[0].read_bytes()[:-1] + b"\x01")  # damage the cached array
    read_samples(folder)
    assert calls == [1]  # the damaged entry was not used


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "corrupt, truncated or not an image"),
        (b"hello", "corrupt, truncated or not an image"),
    ],
)
def test_a_corrupt_image_is_named(tmp_path, digit_arrays, content, expected):
    images, labels = digit_arrays
    folder = write_png_folder(tmp_path / "f", images[:5], labels[:5])
    bad = folder / str(labels[0]) / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(DataError) as exc:
        read_samples(folder)
    assert str(bad) in one_line(exc) and expected in str(exc.value)


def test_a_truncated_png_is_named(tmp_path, digit_arrays):
    images, _ = digit_arrays
    folder = write_png_folder(tmp_path / "f", images[:3], None)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(buffer, "PNG")
    (folder / "cut.png").write_bytes(buffer.getvalue()[:300])
    with pytest.raises(DataError) as exc:
        read_samples(folder, image_size=(8, 8))
    assert "cut.png" in one_line(exc)


def test_bad_folders_and_paths(tmp_path, digit_arrays):
    images, labels = digit_arrays
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        read_samples(tmp_path / "empty")
    folder = write_png_folder(tmp_path / "f", images[:3], None)
    (folder / "notes.txt").write_text("hi")
    with pytest.raises(DataError) as exc:
        read_samples(folder)
    assert "notes.txt" in one_line(exc) and "not an image" in str(exc.value)
    with pytest.raises(DataError) as exc:
        read_samples(tmp_path / "nowhere")
    assert "no such file or folder" in one_line(exc)


def test_nan_and_inf_are_counted_with_the_first_index(tmp_path):
    x = np.zeros((10, 4), np.float32)
    x[3, 2], x[7, 0] = np.nan, np.inf
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError) as exc:
        read_samples(tmp_path / "x.npy")
    assert "2 NaN or infinite values" in one_line(exc) and "(3, 2)" in str(exc.value) and "x.npy" in str(exc.value)


def test_label_count_must_match(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((10, 4), np.float32), y_train=np.zeros(9, np.int64))
    with pytest.raises(DataError) as exc:
        read_samples(tmp_path / "d.npz")
    assert "9 labels" in one_line(exc) and "10 samples" in str(exc.value) and "y_train" in str(exc.value)


def test_csv_errors_name_file_line_and_column(tmp_path):
    (tmp_path / "a.csv").write_text("a,b,c\n1,2,3\n4,x,6\n")
    with pytest.raises(DataError) as exc:
        read_samples(tmp_path / "a.csv")
    assert f"{tmp_path / 'a.csv'}:3:2:" in one_line(exc) and "'x' is not a number" in str(exc.value)
    (tmp_path / "r.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError) as exc:
        read_samples(tmp_path / "r.csv")
    assert f"{tmp_path / 'r.csv'}:2:" in one_line(exc) and "ragged" in str(exc.value)
    (tmp_path / "n.tsv").write_text("1\t2\n3\tnan\n")
    with pytest.raises(DataError, match=r"n\.tsv:2:2: 'nan' is not a finite number"):
        read_samples(tmp_path / "n.tsv")
    with pytest.raises(DataError, match="no column 'label'"):
        read_samples(tmp_path / "a.csv", label_column="label")


def test_an_absurd_npy_header_is_refused_before_mapping(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 3), np.float32))
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "big.npy").write_bytes(
        raw.replace(b"(4, 3)", b"(10000000000000, 3)".ljust(6)[: len(b"(10000000000000, 3)")], 1)
    )
    with pytest.raises(DataError) as exc:
        read_samples(tmp_path / "big.npy")
    assert "big.npy" in one_line(exc) and "declares shape (10000000000000, 3)" in str(exc.value)


def test_npy_is_memory_mapped(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((50, 6), dtype=np.float32))
    samples = read_samples(tmp_path / "x.npy")
    assert isinstance(samples.train.x, np.memmap)
    (tmp_path / "arrays").mkdir()
    np.save(tmp_path / "arrays" / "x_train.npy", np.random.default_rng(1).random((30, 6), dtype=np.float32))
    np.save(tmp_path / "arrays" / "x_test.npy", np.random.default_rng(2).random((10, 6), dtype=np.float32))
    data = open_dataset(tmp_path / "arrays")
    assert data.record["split"]["method"] == "given"
    base = data.train_images  # float32 in [0, 1] needs no scaling: the rows are a view of the memory map, not a copy
    while base is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)


def test_idx_of_any_shape(tmp_path):
    x, labels = signals(n=40)
    one = write_idx(tmp_path / "beats.idx", x)
    assert open_dataset(one).sample_shape == (50,)
    rgb, rgb_labels = rgb_images(n=20)
    folder = tmp_path / "idx"
    write_idx(folder / "train-images-idx4-ubyte.gz", rgb[:15].transpose(0, 3, 1, 2).copy())
    write_idx(folder / "train-labels-idx1-ubyte.gz", rgb_labels[:15].astype(np.uint8))
    write_idx(folder / "t10k-images-idx4-ubyte.gz", rgb[15:].transpose(0, 3, 1, 2).copy())
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rgb_labels[15:].astype(np.uint8))
    data = open_dataset(folder)
    assert (
        data.sample_shape == (3, 12, 12)
        and data.record["split"]["method"] == "given"
        and data.record["identity"]["files"] == 4
    )
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rgb_labels[15:17].astype(np.uint8))
    with pytest.raises(DataError, match="2 labels .* for 5 samples"):
        open_dataset(folder)


def test_file_digest_matches_hashlib(tmp_path):
    (tmp_path / "f.bin").write_bytes(bytes(range(256)) * 10_000)
    assert file_digest(tmp_path / "f.bin") == hashlib.sha256((tmp_path / "f.bin").read_bytes()).hexdigest()


def test_a_given_split_must_match_the_training_split(tmp_path):
    np.savez(tmp_path / "shape.npz", x_train=np.zeros((10, 4), np.float32), x_test=np.zeros((5, 3), np.float32))
    with pytest.raises(DataError) as exc:
        read_samples(tmp_path / "shape.npz")
    assert "shape.npz[x_test]: test samples of shape (3,) but training samples of shape (4,)" in one_line(exc)
    np.savez(
        tmp_path / "labels.npz",
        x_train=np.zeros((10, 4), np.float32),
        y_train=np.zeros(10, np.int64),
        x_test=np.zeros((5, 4), np.float32),
    )
    with pytest.raises(DataError, match="labels for only one split"):
        read_samples(tmp_path / "labels.npz")


def test_a_folder_is_digested_in_blocks_to_the_same_digest_as_its_definition(tmp_path):
    from aelab.data.custom.identity import content_digest, folder_digest

    (tmp_path / "b").mkdir()
    files = {
        tmp_path / "x_train.npy": bytes(range(256)) * 9000,
        tmp_path / "b" / "y.npy": b"labels",
        tmp_path / "a.npy": b"",
    }
    for path, content in files.items():
        path.write_bytes(content)
    by_definition = folder_digest(
        tmp_path, sorted(files.items(), key=lambda item: item[0].relative_to(tmp_path).as_posix())
    )
    assert content_digest(tmp_path, tuple(files)) == by_definition  # streamed (2.3 MB in 1 MiB blocks) = in memory


def test_a_second_load_of_an_unchanged_folder_reads_no_image_and_a_touched_one_is_read_again(
    tmp_path, digit_arrays, monkeypatch
):
    import os

    images, labels = digit_arrays
    folder = age_files(write_png_folder(tmp_path / "f", images[:30], labels[:30]))
    first = read_samples(folder)
    reads = []
    real_read_all = image_folder._read_all
    monkeypatch.setattr(image_folder, "_read_all", lambda files: reads.append(len(files)) or real_read_all(files))
    again = read_samples(folder)
    assert reads == [] and again.digest == first.digest  # the listing is unchanged: digest and pixels from the cache
    assert np.array_equal(again.train.x, first.train.x)
    one = next(folder.rglob("*.png"))
    os.utime(one, ns=(one.stat().st_atime_ns, one.stat().st_mtime_ns + 1_000_000))  # touched: contents may differ
    third = read_samples(folder)
    assert reads == [30] and third.digest == first.digest  # read and hashed again; same bytes, same digest
