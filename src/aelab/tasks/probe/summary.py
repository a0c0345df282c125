"""The probes' words: the terminal's table and the "## Probes" section of each probed folder's summary.md.

summary.md is the page a person opens first; a probe run adds its numbers there so they are not
only in probe.json. The section is replaced, never appended twice: probing a folder again (another
--train-size, say) rewrites it, and the rest of the summary is kept as the run wrote it.
"""

from __future__ import annotations

from pathlib import Path

from aelab.fileio import atomic_write_text
from aelab.runs.summary import PROBES, without_section

SECTION = PROBES


def size_of(row: dict) -> int:
    """A row's width as shown: the code's units, PCA's components (fewer than the code's where the samples or their
    features are fewer), the raw features' count."""
    return row.get("components", row["code_size"])


def format_probes(results: list[dict]) -> str:
    """Every row of every folder as plain text: features, code size, seed (a sweep's models differ by it), test BCE,
    linear and kNN accuracy."""
    lines = [f"{'folder':<28} {'features':<8} {'code':>5} {'seed':>4} {'test BCE':>9} {'linear':>7} {'kNN':>7}"]
    for result in results:
        for row in result["rows"]:
            bce = f"{row['test_bce']:.4f}" if row.get("test_bce") is not None else "–"
            seed = row.get("seed", "–")
            lines.append(
                f"{result['folder'][-28:]:<28} {row['features']:<8} {size_of(row):>5} {seed:>4} {bce:>9} "
                f"{row['linear']:>7.3f} {row['knn']:>7.3f}"
            )
    for result in results:
        if result.get("published_raw"):
            lines.append(f"{result['folder'][-28:]}: {published_words(result)}")
    return "\n".join(lines)


def published_words(result: dict) -> str:
    """The paper's raw-pixel accuracies (the built-in data sets only: they are rows of its benchmark)."""
    published, n_train = result["published_raw"], result["n_train"]
    subset = n_train < train_total(result)
    return (
        f"published raw pixels ({published['source']}, all 60,000 training images): linear "
        f"{published['linear']:.3f}, kNN {published['knn']:.3f}"
        + (
            f"; the rows above fit on {n_train:,} of them and score lower (--train-size all to compare)"
            if subset
            else ""
        )
    )


def train_total(result: dict) -> int:
    """The training samples there were to fit on (a probe.json from before this count was kept: those fitted on)."""
    return result.get("n_train_total", result["n_train"])


def fitted_on(result: dict) -> str:
    """What a probe.json's probes were fitted on, in words (training_words)."""
    return training_words(result["n_train"], train_total(result))


def training_words(n_train: int, total: int) -> str:
    """ "all 60,000 training samples" or "a seeded 10,000 of the 60,000 training samples"."""
    return (
        f"all {total:,} training samples"
        if n_train == total
        else f"a seeded {n_train:,} of the {total:,} training samples"
    )


def probe_section(result: dict) -> list[str]:
    """summary.md's "## Probes": what was fitted on what, the table, the published row where one applies, the figure."""
    raw = result["raw_features"]
    lines = [
        SECTION,
        "",
        f"Test accuracy ({result['n_test']:,} test samples) of a linear probe (logistic regression on standardised "
        f"features) and a {result['config']['neighbours']}-nearest-neighbour probe, fitted on the codes of "
        f"{fitted_on(result)}, beside the same probes on PCA coordinates of the same size and on the raw {raw} "
        "(`aelab probe`; probe.json).",
        "",
        "| features | code size | seed | test BCE | linear | kNN |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        bce = f"{row['test_bce']:.4f}" if row.get("test_bce") is not None else "–"
        seed = row.get("seed", "–")
        lines.append(
            f"| {row['features']} | {size_of(row)} | {seed} | {bce} | {row['linear']:.3f} | {row['knn']:.3f} |"
        )
    if result.get("published_raw"):
        words = published_words(result)
        lines += ["", words[0].upper() + words[1:] + "."]
    if result.get("figure"):
        lines += ["", f"![{result['figure'][:-4]}]({result['figure']})"]
    return [*lines, ""]


def write_probe_section(folder: Path, result: dict) -> Path | None:
    """Put the probes into the folder's summary.md atomically (replacing an earlier section); none without one."""
    path = folder / "summary.md"
    if not path.is_file():
        return None
    text = without_section(path.read_text(), SECTION)
    return atomic_write_text(path, text + "\n\n" + "\n".join(probe_section(result)))
