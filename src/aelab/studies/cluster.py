"""A study's `[ray]` table: where its cells run on a Ray cluster and what each cell asks of it.

Kept as data (a frozen dataclass, checked when made) so that the study file, the `--ray` option
and the run's manifest all hold the same thing; studies/on_ray.py does the running. Ray itself
is imported only there, so reading a study never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aelab.errors import ConfigError

RAY_KEYS = ("address", "num_cpus", "num_gpus", "max_retries")


def refused(key: str, value: object, expected: str) -> ConfigError:
    """`ray num_cpus -1: expected …`, carrying the key and the rest of the line, so that a study file names the
    key at its line without reading the text back (settings.refuse's form, for the [ray] table's keys)."""
    problem = f"{value!r}: expected {expected}"
    return ConfigError(f"ray {key} {problem}", setting=key, value=value, expected=expected, problem=problem)


@dataclass(frozen=True)
class RaySettings:
    """How a study's cells run on Ray.

    `address`: the cluster to join ("auto": the one `ray start` made on this machine; "HOST:PORT"
    for another head node; None: a private local Ray started for this run and stopped after it).
    `num_cpus`/`num_gpus`: what one cell asks for (fractions allowed, as Ray allows them);
    one CPU by default because a cell trains on one core, as `aelab run`'s local workers do, so that
    a cell's result is bit-identical wherever it ran. `max_retries`: how often a cell whose worker
    died (killed, out of memory, node lost) is started again; a cell that *fails* is not retried.
    """

    address: str | None = "auto"
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_retries: int = 3

    def __post_init__(self):
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise refused("address", self.address, '"auto", HOST:PORT or ray://HOST:PORT')
        for name in ("num_cpus", "num_gpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
                raise refused(name, value, "a number ≥ 0 (a fraction shares one device)")
        if self.num_cpus <= 0:
            raise refused("num_cpus", self.num_cpus, "a number > 0 (a cell trains on at least part of a core)")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise refused("max_retries", self.max_retries, "a whole number ≥ 0")

    def threads(self) -> int:
        """Torch threads per cell: its whole CPUs (at least one)."""
        return max(1, int(self.num_cpus))

    def record(self) -> dict:
        return {
            "address": self.address,
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "max_retries": self.max_retries,
        }
