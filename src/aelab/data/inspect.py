"""What `aelab data list/verify` report: where each data set is and whether its digests verify."""

from __future__ import annotations

import os
from dataclasses import dataclass

from aelab.data.load import verified_payloads
from aelab.data.locate import locate
from aelab.data.registry import REGISTRY, get_spec
from aelab.errors import DataError


@dataclass(frozen=True)
class DatasetStatus:
    name: str
    found: bool
    location: str  # where it was found, or the places searched
    verified: bool
    problem: str = ""


def dataset_status(name: str, data_dir: str | os.PathLike | None = None) -> DatasetStatus:
    """Locate `name` and check all four digests (reads and hashes about 55 MB; under a second)."""
    spec = get_spec(name)
    found, places = locate(spec, data_dir)
    if found is None:
        return DatasetStatus(name, False, "missing (looked in: " + ", ".join(str(p.path) for p in places) + ")", False)
    where = f"{found.place.label}: {found.place.path}"
    try:
        verified_payloads(spec, found)
    except DataError as exc:
        return DatasetStatus(name, True, where, False, str(exc))
    return DatasetStatus(name, True, where, True)


def all_statuses(data_dir: str | os.PathLike | None = None) -> list[DatasetStatus]:
    return [dataset_status(name, data_dir) for name in REGISTRY]


def format_statuses(statuses: list[DatasetStatus]) -> str:
    width = max(len(s.name) for s in statuses)
    lines = []
    for s in statuses:
        state = "verified" if s.verified else ("DIGEST/FORMAT ERROR" if s.found else "missing")
        lines.append(f"{s.name:<{width}}  {state:<19}  {s.location}")
        if s.problem:
            lines.append(f"{'':<{width}}  {s.problem}")
    return "\n".join(lines)
