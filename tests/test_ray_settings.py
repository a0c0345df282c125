"""The [ray] table of a study file and the --ray option: checked before anything runs, one line per mistake."""

from __future__ import annotations

import sys

import pytest

from aelab.cli import main, ray_settings
from aelab.errors import ConfigError
from aelab.studies import parse_study
from aelab.studies.cluster import RaySettings

BASE = """datasets = ["fashion-mnist"]

[[steps]]
name = "one"
kind = "train"
model = "shallow"
"""


def test_a_ray_table_sets_where_and_what_each_cell_asks_for():
    study = parse_study(
        BASE + '\n[ray]\naddress = "10.0.0.1:6379"\nnum_cpus = 2\nnum_gpus = 0.5\nmax_retries = 1\n', "s.toml"
    )
    assert study.ray == RaySettings(address="10.0.0.1:6379", num_cpus=2, num_gpus=0.5, max_retries=1)
    assert study.ray.threads() == 2
    assert parse_study(BASE, "s.toml").ray is None


@pytest.mark.parametrize(
    "table, line, expected",
    [
        ('[ray]\nnum_cpu = 1\n', 9, "ray.num_cpu: unknown [ray] key (did you mean 'num_cpus'?)"),
        ('[ray]\nnum_cpus = 0\n', 9, "ray.num_cpus: 0: expected a number > 0"),
        ('[ray]\nnum_gpus = -1\n', 9, "ray.num_gpus: -1: expected a number ≥ 0"),
        ('[ray]\nmax_retries = 1.5\n', 9, "ray.max_retries: 1.5: expected a whole number ≥ 0"),
        ('[ray]\naddress = ""\n', 9, "ray.address: '': expected \"auto\", HOST:PORT"),
        ('ray = 3\n', 1, "ray: 3: expected a table"),
    ],
)
def test_a_bad_ray_table_names_its_line_and_what_was_expected(table, line, expected):
    text = (table + BASE) if table.startswith("ray =") else (BASE + "\n" + table)
    with pytest.raises(ConfigError) as info:
        parse_study(text, "s.toml")
    assert str(info.value).startswith(f"s.toml:{line}: {expected}"), str(info.value)


def test_the_option_overrides_the_files_address_and_keeps_its_resources():
    with_table = parse_study(BASE + '\n[ray]\naddress = "10.0.0.1:6379"\nnum_cpus = 2\n', "s.toml")
    assert ray_settings(with_table, None) == with_table.ray  # the table alone runs on Ray
    assert ray_settings(with_table, "auto") == RaySettings(address="auto", num_cpus=2)
    plain = parse_study(BASE, "s.toml")
    assert ray_settings(plain, None) is None  # neither: the local workers
    assert ray_settings(plain, "127.0.0.1:1234") == RaySettings(address="127.0.0.1:1234")


def test_without_ray_installed_the_option_says_how_to_get_it(tiny_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError, as where it is not installed
    study = tmp_path / "s.toml"
    study.write_text(BASE.replace("fashion-mnist", "tiny"))
    root, _, _ = tiny_dataset
    code = main(["run", str(study), "--out", str(tmp_path / "out"), "--quick", "--ray", "--data-dir", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == "aelab: error: --ray: Ray is not installed: expected it from `pip install 'aelab[ray]'`"
