"""How much data aelab agrees to hold: checked from headers and image sizes, before anything is decoded or allocated.

A 4 MB .npz can declare 4 GiB (deflate packs zeros a thousand to one), and a megabyte of PNGs can decode to
gigabytes: a reader that decodes first and checks afterwards has already taken the memory — or the machine —
when it refuses. Every reader asks here first, with the size the samples will take as the float32 rows that
training holds (what a run costs whatever the file's own dtype), against one stated limit: a quarter of this
machine's memory, so that the few copies a load makes on the way (the file's array, the float32 rows, the
split) still fit; `AELAB_MAX_DATA_BYTES` (bytes, or with a K/M/G/T suffix, powers of 1024) sets another.
"""

from __future__ import annotations

import os
import re

from aelab.errors import ConfigError, DataError

ENVIRONMENT = "AELAB_MAX_DATA_BYTES"
SHARE_OF_MEMORY = 4  # the default limit is physical memory / 4 (see the module docstring)
FALLBACK_BYTES = 4 << 30  # where the physical memory cannot be read
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def human(n: float) -> str:
    """Bytes in the largest binary unit that keeps the number at or above 1 (3.2 GiB, 512 MiB)."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        size = 1 << (10 * ("KMGT".index(unit[0]) + 1))
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def limit() -> tuple[int, str]:
    """(bytes, where the number comes from) — the environment variable's value, else a quarter of the memory."""
    text = os.environ.get(ENVIRONMENT)
    if text:
        match = _SIZE.fullmatch(text)
        if match is None:
            raise ConfigError(f"{ENVIRONMENT}={text!r}: expected a size in bytes, such as 8G or 500M")
        return int(float(match[1]) * UNITS[match[2].upper()]), f"{ENVIRONMENT}={text}"
    memory = physical_memory()
    if memory is None:
        return FALLBACK_BYTES, f"this system does not say its memory; set {ENVIRONMENT} to allow more"
    where = f"a quarter of this machine's {human(memory)} of memory; set {ENVIRONMENT} to allow more"
    return memory // SHARE_OF_MEMORY, where


def check_values(source: str, values: int, what: str) -> None:
    """Refuse `values` numbers (as float32 rows: 4 bytes each) above the limit, in one line naming `source` and
    `what` (the shape or count that made them)."""
    needed = 4 * int(values)
    allowed, where = limit()
    if needed > allowed:
        raise DataError(
            f"{source}: {what} make {human(needed)} as float32 rows: expected at most {human(allowed)} ({where})"
        )
