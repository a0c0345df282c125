"""Hypothesis fuzzing of the CSV and .npy readers: any input is either read correctly or refused with a
one-line DataError naming the file — never another exception, never a huge allocation."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aelab.data.custom.numpy_files import read_npy
from aelab.data.custom.tables import read_table
from aelab.errors import DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


FOLDER = tempfile.TemporaryDirectory(
    prefix="aelab-fuzz-"
)  # one folder for the module, removed at exit; files overwritten


def _write(suffix: str, content: bytes) -> Path:
    path = Path(FOLDER.name) / f"fuzz{suffix}"
    path.write_bytes(content)
    return path


def _refused_in_one_line(read, path: Path) -> None:
    try:
        read(path)
    except DataError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("0123456789.,-e+\"\n\r\t abnfi")), max_size=200))
def test_any_csv_text_is_read_or_refused_in_one_line(text):
    _refused_in_one_line(read_table, _write(".csv", text.encode()))


@FUZZ
@given(st.binary(max_size=200))
def test_any_csv_bytes_are_read_or_refused_in_one_line(content):
    _refused_in_one_line(read_table, _write(".csv", content))


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@FUZZ
@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8), elements=finite),
    st.sampled_from([",", "\t"]),
)
def test_a_written_table_reads_back_exactly(values, delimiter):
    text = "\n".join(delimiter.join(repr(float(v)) for v in row) for row in values) + "\n"
    samples = read_table(_write(".csv" if delimiter == "," else ".tsv", text.encode()))
    np.testing.assert_array_equal(samples.train.x, values)
    assert samples.train.labels is None and samples.test is None


@FUZZ
@given(
    hnp.arrays(
        st.sampled_from([np.uint8, np.int16, np.float32, np.float64]),
        hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5),
        elements=st.integers(0, 100),
    )
)
def test_a_saved_array_maps_back_exactly(values):
    buffer = io.BytesIO()
    np.save(buffer, values)
    samples = read_npy(_write(".npy", buffer.getvalue()))
    np.testing.assert_array_equal(samples.train.x, values)


@FUZZ
@given(st.binary(max_size=300))
def test_any_npy_bytes_are_read_or_refused_in_one_line(content):
    _refused_in_one_line(read_npy, _write(".npy", content))


@FUZZ
@given(shape=st.lists(st.integers(0, 2**62), min_size=1, max_size=5), cut=st.integers(0, 64), data=st.data())
def test_a_damaged_npy_header_or_body_is_refused(shape, cut, data):
    """A valid header with any claimed shape over a short body, or a real file cut anywhere."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 4), np.float32))
    raw = buffer.getvalue()
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.float32))
    header["shape"] = tuple(shape)
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(forged, header)
    body = data.draw(st.binary(max_size=64))
    _refused_in_one_line(read_npy, _write(".npy", forged.getvalue() + body))
    _refused_in_one_line(read_npy, _write(".npy", raw[: len(raw) - 1 - cut]))
