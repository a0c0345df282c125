"""IDX reader/writer: round trips (property-based) and every kind of bad file refused with DataError."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aelab.data.idx import IDX_DTYPES, decode_idx, encode_idx, parse_header, read_idx, write_idx
from aelab.errors import DataError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(DTYPES), data=st.data())
def test_encode_decode_round_trip(dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    array = data.draw(hnp.arrays(dtype, shape, elements={"allow_nan": False} if np.dtype(dtype).kind == "f" else None))
    decoded = decode_idx(encode_idx(array))
    assert decoded.dtype == np.dtype(dtype) and decoded.shape == shape
    np.testing.assert_array_equal(decoded, array)


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8), code=st.sampled_from(list(IDX_DTYPES)))
def test_header_parse_matches_what_was_packed(shape, code):
    header = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    n_bytes = float(np.prod(shape, dtype=np.float64)) * IDX_DTYPES[code].itemsize
    if n_bytes > 2**32:
        with pytest.raises(DataError, match="claims"):
            parse_header(header)
    else:
        dtype, parsed, length = parse_header(header)
        assert parsed == tuple(shape) and dtype == IDX_DTYPES[code] and length == len(header)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_never_crash(blob):
    try:
        decode_idx(blob)
    except DataError:
        pass


def test_file_round_trip_raw_and_gz(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        write_idx(tmp_path / name, images)
        np.testing.assert_array_equal(read_idx(tmp_path / name), images)
    assert (tmp_path / "x-idx3-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x00\x00", "truncated IDX header"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad IDX magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX dtype code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x09" + b"\x00" * 36, "9 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">II", 2, 28), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + b"\x00" * 9, "truncated: expected 18 bytes"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x00\x00", "trailing bytes"),
        (b"\x00\x00\x08\x03" + struct.pack(">III", 10**6, 10**6, 10**6), "claims"),
    ],
)
def test_bad_payloads_are_refused_with_one_line(tmp_path, payload, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_truncated_gzip_and_missing_file(tmp_path):
    blob = gzip.compress(encode_idx(np.zeros((5, 28, 28), np.uint8)))
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(DataError, match="file not found"):
        read_idx(tmp_path / "nope")


def test_huge_claim_is_refused_before_allocation(tmp_path):
    path = tmp_path / "huge"
    path.write_bytes(b"\x00\x00\x0e\x02" + struct.pack(">II", 10**6, 10**6))  # 8e12 bytes of float64
    with pytest.raises(DataError, match="claims 8e\\+12 bytes"):
        read_idx(path)


def test_write_refuses_unsupported_dtype(tmp_path):
    with pytest.raises(DataError, match="cannot write dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.complex64))
    assert list(tmp_path.iterdir()) == []
