"""Issue 27's seventh bad case: memory without bounds. A 4 MB .npz whose header claimed 4 GiB took 12 GB; a megabyte
of PNGs took 2.2 GB before being refused (every image decoded before any size check); a CSV took 24× its array.
Now sizes are checked from headers before anything is decoded or allocated, against a stated limit
(memory_limit.py, AELAB_MAX_DATA_BYTES), and tables stream into float32. Peaks here are NumPy's allocations as
tracemalloc sees them; benchmarks/bench_memory.py measures the whole process's."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from aelab.cli import main
from aelab.data.custom import read_samples, tables
from aelab.data.custom.memory_limit import ENVIRONMENT, human, limit
from aelab.errors import ConfigError, DataError


def peak_of(call):
    """(result, peak bytes allocated by NumPy and Python while `call` ran)."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_npz_bomb_is_refused_from_its_header_before_anything_is_decompressed(tmp_path, monkeypatch, capsys):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x_train=np.zeros((4096, 4096), np.float32))  # 64 MiB of zeros in about 65 KB
    assert path.stat().st_size < 200_000
    monkeypatch.setenv(ENVIRONMENT, "16M")
    with pytest.raises(DataError, match=r"bomb.npz\[x_train\]: shape \(4096, 4096\) make 64 MiB .*at most 16 MiB"):
        peak_of(lambda: read_samples(path))
    _, peak = peak_of(lambda: pytest.raises(DataError, read_samples, path))
    assert peak < 4 << 20  # nothing near the array was allocated
    assert main(["data", "inspect", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{ENVIRONMENT}=16M" in err


def test_an_npz_header_that_claims_more_than_its_entry_holds_is_refused(tmp_path):
    """A lying header (4 GiB claimed, 40 bytes stored) is refused before np.load allocates what it claims."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1 << 30,)})
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", header.getvalue() + bytes(40))
    result, peak = peak_of(lambda: pytest.raises(DataError, read_samples, path))
    assert "declares shape (1073741824,) of float32" in str(result.value) and "entry holds 40 bytes" in str(
        result.value
    )
    assert peak < 1 << 20


def png(width: int, height: int, value: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), value).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def decoded(monkeypatch):
    """The sizes of the images Pillow decoded (load called)."""
    sizes = []
    real = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: sizes.append(self.size) or real(self))
    return sizes


def test_large_images_are_refused_from_their_headers_before_one_is_decoded(tmp_path, monkeypatch, decoded):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(8):
        (folder / f"{i}.png").write_bytes(png(4000, 4000))  # 16 Mpixel each, a few kB on disk
    monkeypatch.setenv(ENVIRONMENT, "64M")
    decoded.clear()  # saving them loaded each
    with pytest.raises(DataError, match=r"8 images of 4000×4000×1 make 488 MiB as float32 rows: expected at most 64"):
        read_samples(folder)
    assert decoded == []


def test_an_image_of_another_size_is_refused_from_its_header(tmp_path, decoded):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(3):
        (folder / f"a{i}.png").write_bytes(png(8, 8))
    (folder / "z.png").write_bytes(png(6000, 6000))  # would decode to 36 MB
    decoded.clear()
    with pytest.raises(DataError, match=r"z.png: 6000×6000 pixels but .*a0.png has 8×8: expected one size"):
        read_samples(folder)
    assert (6000, 6000) not in decoded


def write_table(path, rows: np.ndarray, header: bool = True, labels=None) -> None:
    with open(path, "w") as f:
        if header:
            f.write(",".join(["label"] * (labels is not None) + [f"f{j}" for j in range(rows.shape[1])]) + "\n")
        for i, row in enumerate(rows):
            f.write(",".join(([str(labels[i])] if labels is not None else []) + [repr(float(v)) for v in row]) + "\n")


def test_a_table_is_read_within_three_times_its_array(tmp_path):
    rows = np.random.default_rng(0).normal(size=(20_000, 40))
    path = tmp_path / "t.csv"
    write_table(path, rows, labels=np.arange(20_000) % 3)
    samples, peak = peak_of(lambda: read_samples(path, label_column="label"))
    array = samples.train.x.nbytes
    assert samples.train.x.dtype == np.float32 and np.array_equal(samples.train.x, rows.astype(np.float32))
    assert peak < 3 * array, f"peak {human(peak)} for a {human(array)} array"


def test_the_careful_reader_also_stays_within_three_times_its_array(tmp_path):
    rows = np.random.default_rng(1).normal(size=(20_000, 40))
    path = tmp_path / "t.csv"
    write_table(path, rows)
    (values, _), peak = peak_of(lambda: tables._parsed(path, True, 40, None))
    assert np.array_equal(values, rows.astype(np.float32)) and peak < 3 * values.nbytes


def test_a_table_above_the_limit_is_refused_from_its_row_count(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    write_table(path, np.ones((3000, 100)))
    monkeypatch.setenv(ENVIRONMENT, "1M")
    with pytest.raises(DataError, match=r"t.csv: 3000 rows of 100 columns make 1.14 MiB as float32 rows"):
        read_samples(path)


@pytest.mark.parametrize("text", ["lots", "-1G", "1.5X"])
def test_a_bad_limit_is_one_line_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv(ENVIRONMENT, text)
    with pytest.raises(ConfigError, match=f"{ENVIRONMENT}='{text}': expected a size in bytes"):
        limit()


def test_the_default_limit_is_a_quarter_of_the_memory_and_says_so(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    allowed, where = limit()
    assert allowed > 0 and "a quarter of this machine's" in where and ENVIRONMENT in where
    monkeypatch.setenv(ENVIRONMENT, "2G")
    assert limit() == (2 << 30, f"{ENVIRONMENT}=2G")


cells = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["1e-45", "3.4028235e38", "-0.0", " 2.5 ", "1_000", ".5", "5.", "+7", "1E3", '"3.25"']),
)


@settings(max_examples=60, deadline=None)
@given(
    table=st.integers(1, 6).flatmap(
        lambda w: st.lists(st.lists(cells, min_size=w, max_size=w), min_size=1, max_size=8)
    ),
    blank_lines=st.booleans(),
    labelled=st.booleans(),
)
def test_the_fast_and_the_careful_reader_give_the_same_bits(tmp_path_factory, table, blank_lines, labelled):
    """loadtxt and the csv module read every clean table alike: each cell a float64 rounded to float32 — and where
    loadtxt refuses a cell Python's float() takes (1_000, a blank line), the careful reader answers."""
    path = tmp_path_factory.mktemp("t") / "t.csv"
    width = len(table[0])
    lines = [",".join(["k"] * labelled + [f"c{j}" for j in range(width)])]
    lines += [",".join([str(i % 2)] * labelled + row) for i, row in enumerate(table)]
    text = ("\n\n" if blank_lines else "\n").join(lines) + "\n"
    path.write_text(text)
    label_at = 0 if labelled else None
    try:
        careful = tables._parsed(path, True, width + labelled, label_at)
    except DataError:  # a value beyond float32: refused by both, whichever reads it
        with pytest.raises(DataError):
            read_samples(path, label_column="k" if labelled else None)
        return
    samples = read_samples(path, label_column="k" if labelled else None)
    assert samples.train.x.tobytes() == careful[0].tobytes()
    fast = tables._loaded(path, 1, width + labelled, label_at)
    if fast is not None:
        assert fast[0].tobytes() == careful[0].tobytes() and fast[1] == careful[1]


def test_float_tiffs_keep_their_values(tmp_path):
    """A TIFF of mode F (float32 pixels in [0, 1]) was converted to 8 bits: rounded and clamped to zeros and ones."""
    folder = tmp_path / "masks"
    folder.mkdir()
    values = np.random.default_rng(0).random((5, 6, 7), dtype=np.float32)
    for i, image in enumerate(values):
        Image.fromarray(image, mode="F").save(folder / f"{i}.tif")
    samples = read_samples(folder)
    assert samples.train.x.dtype == np.float32 and np.array_equal(samples.train.x[:, 0], values)
    bad = values[0].copy()
    bad[2, 3] = np.nan
    Image.fromarray(bad, mode="F").save(folder / "9.tif")
    with pytest.raises(DataError, match=r"9.tif: a NaN or infinite pixel at \(row, column\) \(2, 3\)"):
        read_samples(folder)
