"""Where aelab looks for a data set, in order, and what it finds there.

Order: `--data-dir`, `$AELAB_DATA_DIR`, aelab's own cache (`$XDG_CACHE_HOME/aelab` or
`~/.cache/aelab`), Debian's `/usr/share/datasets/<name>/`, then the Keras cache
(`~/.keras/datasets/`: IDX .gz files in `<name>/`, or MNIST as one `mnist.npz`).
A place counts only when it holds all four files; the first such place wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aelab.data.registry import SPLIT_FILES, DatasetSpec

DEBIAN_ROOT = Path("/usr/share/datasets")


@dataclass(frozen=True)
class Place:
    """One place a data set may live: a label for humans and the folder (or .npz) to look in."""

    label: str
    path: Path


@dataclass(frozen=True)
class Found:
    """A complete copy: either four IDX files (`files`: canonical name → path) or a Keras .npz."""

    place: Place
    files: dict[str, Path] | None = None
    npz: Path | None = None


def cache_root() -> Path:
    """aelab's own cache folder (not created here: importing or locating writes nothing)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aelab"


def search_places(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> list[Place]:
    """The places to look for `spec`, in the documented order."""
    places = []
    if data_dir is not None:
        places.append(Place("--data-dir", Path(data_dir) / spec.name))
    if os.environ.get("AELAB_DATA_DIR"):
        places.append(Place("$AELAB_DATA_DIR", Path(os.environ["AELAB_DATA_DIR"]) / spec.name))
    places.append(Place("aelab cache", cache_root() / spec.name))
    places.append(Place("Debian package", DEBIAN_ROOT / spec.name))
    keras = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
    places.append(Place("Keras cache", keras / spec.name))
    if spec.keras_npz:
        places.append(Place("Keras cache", keras / spec.keras_npz))
    return places


def missing_files(place: Place) -> list[str]:
    """The canonical files an existing but incomplete IDX folder lacks ([] when absent, complete, or an .npz)."""
    if place.path.suffix == ".npz" or not place.path.is_dir():
        return []
    return [
        name
        for name in SPLIT_FILES.values()
        if not (place.path / name).is_file() and not (place.path / f"{name}.gz").is_file()
    ]


def _idx_files(folder: Path) -> dict[str, Path] | None:
    """Map each canonical file to its path in `folder` (raw preferred over .gz), or None if any is missing."""
    found = {}
    for name in SPLIT_FILES.values():
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            return None
    return found


def find_at(place: Place) -> Found | None:
    """What `place` holds of the data set, or None if it is incomplete or absent."""
    if place.path.suffix == ".npz":
        return Found(place, npz=place.path) if place.path.is_file() else None
    files = _idx_files(place.path) if place.path.is_dir() else None
    return Found(place, files=files) if files else None


def locate(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> tuple[Found | None, list[Place]]:
    """The first complete copy of `spec` and the list of places that were searched."""
    places = search_places(spec, data_dir)
    for place in places:
        found = find_at(place)
        if found is not None:
            return found, places
    return None, places
