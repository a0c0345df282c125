"""docs/RELIABILITY.md is generated from the fault catalogue, and every row names a real test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from faults_catalogue import FAULTS

ROOT = Path(__file__).resolve().parent.parent


def test_every_catalogued_fault_names_an_existing_test():
    for _, _, _, test in FAULTS:
        module_name, function = test.split("::")
        spec = importlib.util.spec_from_file_location(module_name[:-3], ROOT / "tests" / module_name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert callable(getattr(module, function, None)), f"{test} does not exist"


def test_reliability_page_is_up_to_date():
    sys.path.insert(0, str(ROOT / "scripts"))
    from reliability import render

    page = (ROOT / "docs" / "RELIABILITY.md").read_text()
    assert page == render(), "docs/RELIABILITY.md is stale: run python scripts/reliability.py"
