"""The published rows beside every MNIST anomaly summary are those of Ruff et al. 2018's Table 1, as read from the
paper into the team's references (../shared/references/ruff2018-table1.md, beside the shared data): checked here
cell by cell, mean and standard deviation, so that no number is retyped wrong or from memory."""

from __future__ import annotations

import re

import pytest

from aelab.tasks.anomaly.summary import PUBLISHED, published_lines

COLUMNS = {
    "DCAE (convolutional autoencoder, reconstruction error)": "DCAE",
    "Soft-boundary Deep SVDD": "Soft-bound Deep SVDD",
    "One-Class Deep SVDD": "One-class Deep SVDD",
}


def mnist_table(text: str) -> dict[str, list[tuple[float, float]]]:
    """The MNIST table of the references file: column → [(mean, sd) for classes 0–9]."""
    section = text.split("## MNIST", 1)[1].split("##", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0]]
    body = [[cell.strip() for cell in row] for row in rows[2:]]
    assert [row[0] for row in body] == [str(c) for c in range(10)]
    pairs = {name: [] for name in header[1:]}
    for row in body:
        for name, cell in zip(header[1:], row[1:]):
            mean, sd = re.fullmatch(r"([\d.]+)±([\d.]+)", cell).groups()
            pairs[name].append((float(mean), float(sd)))
    return pairs


@pytest.mark.real_data
def test_every_published_row_is_the_papers_table_1(real_data_dir):
    references = real_data_dir.parent / "references" / "ruff2018-table1.md"
    table = mnist_table(references.read_text(encoding="utf-8"))
    assert {ref.method for ref in PUBLISHED["mnist"]} == set(COLUMNS)
    for ref in PUBLISHED["mnist"]:
        assert list(zip(ref.auroc_percent, ref.std_percent)) == table[COLUMNS[ref.method]], ref.method


def test_the_summary_gives_each_row_with_its_standard_deviation_and_no_unconfirmed_words():
    result = {
        "dataset": "mnist",
        "model": "shallow",
        "classes": [{"class": c, "mean": {"ae_sse": {"auroc": 0.9}}} for c in range(10)],
    }
    text = "\n".join(published_lines(result))
    assert "| DCAE (convolutional autoencoder, reconstruction error) | 97.6 ± 0.7 | 98.3 ± 0.6 |" in text
    assert "| Soft-boundary Deep SVDD | 97.8 ± 0.7 |" in text
    assert "confirmed" not in text and "issue" not in text and "secondary" not in text


def test_a_quick_run_says_it_is_a_smoke_test_before_the_published_rows():
    result = {
        "dataset": "mnist",
        "model": "shallow",
        "epochs": 1,
        "config": {"train_size": 1000, "test_size": 2000},
        "classes": [{"class": c, "mean": {"ae_sse": {"auroc": 0.9}}} for c in range(10)],
    }
    text = "\n".join(published_lines(result))
    assert text.startswith("**This run used 1,000 training and 2,000 test samples and 1 epoch: a smoke test")
    assert "smoke test" not in "\n".join(published_lines({**result, "config": {}}))
