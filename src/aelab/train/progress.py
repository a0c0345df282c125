"""Progress display for long work: a tqdm bar, off with `quiet` or when stderr is not a terminal."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(total: int, desc: str, quiet: bool = False, **kwargs) -> tqdm:
    """A bar over `total` steps; `disable=None` is tqdm's "off unless stderr is a TTY"."""
    return tqdm(total=total, desc=desc, disable=True if quiet else None, leave=False, dynamic_ncols=True, **kwargs)
