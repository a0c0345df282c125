"""Read and write IDX files (the format of MNIST and Fashion-MNIST), raw or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of dimensions),
one big-endian uint32 per dimension, then the payload in C order. The reader checks every part of
that before it allocates anything, so a corrupt header that claims 10^12 items is refused, not
attempted; every refusal is a one-line `DataError` naming the file.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from aelab.errors import DataError
from aelab.fileio import atomic_write_bytes

# dtype code → big-endian NumPy dtype (the IDX spec by LeCun & Cortes).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_DIMS = 8  # MNIST uses 1 and 3; anything above 8 is a corrupt header, not real data.
MAX_PAYLOAD_BYTES = 1 << 32  # 4 GiB: far above any data set this reads, far below a bogus claim.


def parse_header(header: bytes, source: str = "<bytes>") -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse and check an IDX header; return (dtype, shape, header length in bytes).

    `header` needs at least the first 4 bytes; if the dimensions are cut off, that is an error.
    """
    if len(header) < 4:
        raise DataError(f"{source}: truncated IDX header: expected at least 4 bytes, got {len(header)}")
    zero0, zero1, code, ndim = header[0], header[1], header[2], header[3]
    if zero0 != 0 or zero1 != 0:
        raise DataError(f"{source}: bad IDX magic number {header[:4].hex()}: expected 0000 then a dtype code and ndim")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{source}: unknown IDX dtype code 0x{code:02X}: expected one of {known}")
    if not 1 <= ndim <= MAX_DIMS:
        raise DataError(f"{source}: IDX header claims {ndim} dimensions: expected 1 to {MAX_DIMS}")
    header_len = 4 + 4 * ndim
    if len(header) < header_len:
        raise DataError(
            f"{source}: truncated IDX header: expected {header_len} bytes for {ndim} dimensions, got {len(header)}"
        )
    shape = struct.unpack(f">{ndim}I", header[4:header_len])
    dtype = IDX_DTYPES[code]
    n_bytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize  # float64: no overflow on a bogus claim
    if n_bytes > MAX_PAYLOAD_BYTES:
        raise DataError(
            f"{source}: IDX header claims {n_bytes:.3g} bytes of data: expected at most {MAX_PAYLOAD_BYTES:.3g}"
        )
    return dtype, tuple(int(s) for s in shape), header_len


def decode_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode a whole decompressed IDX payload into an array of native byte order."""
    dtype, shape, header_len = parse_header(data[: 4 + 4 * MAX_DIMS], source)
    expected = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(f"{source}: IDX file {what}: expected {expected} bytes for shape {shape}, got {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """Return the decompressed bytes of an IDX file (gzip detected by its magic, not its name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found: expected an IDX file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip stream: {exc}") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or .gz) and return its array in native byte order."""
    return decode_idx(read_idx_bytes(path), source=str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """Encode an array as IDX bytes (the inverse of `decode_idx`)."""
    array = np.asarray(array)
    code = next(
        (c for c, d in IDX_DTYPES.items() if d.kind == array.dtype.kind and d.itemsize == array.dtype.itemsize), None
    )
    if code is None:
        raise DataError(
            f"cannot write dtype {array.dtype} as IDX: expected uint8, int8, int16, int32, float32 or float64"
        )
    if not 1 <= array.ndim <= MAX_DIMS:
        raise DataError(f"cannot write a {array.ndim}-dimensional array as IDX: expected 1 to {MAX_DIMS} dimensions")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write `array` as IDX, gzip-compressed when `compress` (default: when the name ends in .gz).

    Written to a temporary file and renamed, so a reader never sees half a file.
    """
    path = Path(path)
    payload = encode_idx(array)
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    atomic_write_bytes(path, payload)
    return path
