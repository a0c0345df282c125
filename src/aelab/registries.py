"""Name lookup for aelab's registries (plain dicts), with a close-match suggestion on a typo."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

from aelab.errors import ConfigError

T = TypeVar("T")


def lookup(name: str, registry: Mapping[str, T], kind: str) -> T:
    """Return `registry[name]`, or raise a one-line ConfigError that suggests the closest name."""
    if name in registry:
        return registry[name]
    close = difflib.get_close_matches(name, list(registry), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown {kind} '{name}'{hint}: expected one of {', '.join(registry)}")
