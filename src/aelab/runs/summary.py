"""`summary.md` of a run folder: its numbers and figures, stated plainly from metrics.json.

Every sentence here is computed from the run's own numbers; nothing is an opinion typed in.
"""

from __future__ import annotations

from pathlib import Path

from aelab.data.description import described
from aelab.data.registry import get_spec
from aelab.errors import AelabError
from aelab.fileio import atomic_write_text
from aelab.models.registry import get_family

PROBES = "## Probes"  # the section `aelab probe` adds to a folder's summary.md (tasks/probe/summary.py)
ROWS = [  # (metrics key suffix, label, format)
    ("bce", "BCE", "{:.4f}"),
    ("bce_floor", "BCE floor (pixel entropy)", "{:.4f}"),
    ("bce_excess", "BCE excess over the floor", "{:.4f}"),
    ("mse", "MSE", "{:.5f}"),
    ("psnr_db", "PSNR (dB)", "{:.2f}"),
    ("code_mean", "mean code activation", "{:.3f}"),
    ("code_zero_fraction", "code entries exactly 0", "{:.1%}"),
]


def metrics_table(final: dict) -> list[str]:
    """A Markdown table with a column per evaluated input (noisy test inputs and clean ones for a denoiser)."""
    columns = [("test", "test")] + ([("clean_test", "test, clean inputs")] if "clean_test_bce" in final else [])
    lines = ["| metric | " + " | ".join(label for _, label in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for key, label, fmt in ROWS:
        if f"test_{key}" not in final:  # an MSE run (your own data) has no BCE, floor or PSNR
            continue
        if key.startswith("code_") and "test_elbo" in final:  # a VAE's code is no ReLU's: code_lines
            continue
        cells = [fmt.format(final[f"{prefix}_{key}"]) for prefix, _ in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def code_size(c: dict) -> str:
    """The code's size as the reader should see it: a conv family's is fixed by its architecture, not by --code-size."""
    if get_family(c["model"]).uses_code_size:
        return f"code size {c['code_size']}"
    return "code of 32 channels at a quarter of the image's height and width, fixed by the architecture"


def describe(config: dict, final: dict, seconds: float, n_epochs: int) -> list[str]:
    """Plain statements computed from the numbers."""
    c = config["config"]
    noise = (
        f", inputs corrupted by {c['noise']} noise (factor {c['noise_factor']}, "
        f"{'fixed' if c['fixed_noise'] else 'fresh each epoch'})"
        if c["noise"]
        else ""
    )
    l1 = f", L1 {c['l1']:g} on the code ({c['l1_reduction']} over the batch)" if c["l1"] else ""
    if "test_bce" not in final:
        return mse_description(c, final, seconds, n_epochs, noise + l1, subset_words(config), batch_words(config))
    removable = final["test_bce_excess"] / final["test_bce"]
    lines = [
        f"Model `{c['model']}` ({code_size(c)}) on `{c['dataset']}`{subset_words(config)}, {epoch_count(n_epochs)}, "
        f"{batch_words(config)}, seed {c['seed']}{noise}{l1}; trained in {seconds:.1f} s.",
        "",
        f"Final training loss {final['train_loss']:.4f}; test BCE {final['test_bce']:.4f}, of which "
        f"{final['test_bce_floor']:.4f} is the {described(config).value_word}' own entropy (no model can go below "
        "it) and "
        f"{final['test_bce_excess']:.4f} ({removable:.0%}) is reconstruction error above that floor.",
    ]
    if "clean_test_bce" in final:
        lines.append(
            f"On clean test inputs the same model scores BCE {final['clean_test_bce']:.4f} "
            f"(MSE {final['clean_test_mse']:.5f}) against {final['test_bce']:.4f} (MSE "
            f"{final['test_mse']:.5f}) on noisy ones."
        )
    return lines + code_lines(final) + variational_lines(c, final)


def code_lines(final: dict) -> list[str]:
    """How sparse a ReLU code is; nothing for a VAE, whose code (the posterior mean) is not a ReLU's output and is
    exactly zero only by accident."""
    if "test_elbo" in final:
        return []
    return [
        f"{final['test_code_zero_fraction']:.1%} of the code entries on the test set are exactly zero "
        f"(mean activation {final['test_code_mean']:.3f})."
    ]


def epoch_count(n: int) -> str:
    return f"{n} epoch" + ("s" if n != 1 else "")


def data_totals(config: dict) -> tuple[int, int] | None:
    """(training, test) samples of the whole data set the run was on; None where that is not known (arrays)."""
    if "data" in config:
        return config["data"]["split"]["n_train"], config["data"]["split"]["n_test"]
    try:
        spec = get_spec(config["config"]["dataset"])
    except AelabError:
        return None
    return spec.n_train, spec.n_test


def batch_words(config: dict) -> str:
    """ "batch 32"; a batch above the training samples says that every step took all of them (one step an epoch)."""
    c, totals = config["config"], data_totals(config)
    trained_on = min(c.get("train_size") or totals[0], totals[0]) if totals else None
    if trained_on is None or c["batch_size"] <= trained_on:
        return f"batch {c['batch_size']}"
    word = described(config).sample_word + "s"
    return f"batch {c['batch_size']} (more than the {trained_on:,} training {word}: all of them in one step an epoch)"


def subset_words(config: dict) -> str:
    """What part of the data set the run saw, when not all of it (--quick, --train-size, --test-size): a quick run's
    numbers are not the data set's."""
    c = config["config"]
    totals = data_totals(config)
    if totals is None:
        return ""
    total_train, total_test = totals
    word = described(config).sample_word + "s"
    parts = []
    if c.get("train_size") and c["train_size"] < total_train:
        parts.append(f"a seeded subset of {c['train_size']:,} of its {total_train:,} training {word}")
    if c.get("test_size") and c["test_size"] < total_test:
        parts.append(f"the first {c['test_size']:,} of its {total_test:,} test {word}")
    return f" ({' and '.join(parts)}: not the whole data set)" if parts else ""


def variational_lines(c: dict, final: dict) -> list[str]:
    """A VAE's ELBO and its parts (a no-op for other models): the training loss's parts and the test ELBO."""
    if "test_elbo" not in final:
        return []
    weight = f" + β {c['beta']:g} ×" if c.get("beta", 1.0) != 1.0 else " +"
    used = ", ".join(f"{v:.2f}" for v in final["test_kl_per_dim"])
    return [
        f"Training loss {final['train_loss']:.2f} nats per image = reconstruction {final['train_reconstruction']:.2f}"
        f"{weight} KL {final['train_kl']:.2f} (mean over the last epoch). Test ELBO {final['test_elbo']:.2f} nats per "
        f"image (reconstruction {final['test_reconstruction']:.2f}, KL {final['test_kl']:.2f}; "
        "one seeded sample of the "
        f"code per image); KL per code dimension {used}; {final['test_active_dims']} of "
        f"{len(final['test_kl_per_dim'])} "
        "dimensions active (variance of the posterior mean over the test set above 0.01, Burda et al. 2016)."
    ]


def mse_description(
    c: dict, final: dict, seconds: float, n_epochs: int, options: str, subset: str, batch: str
) -> list[str]:
    """The statements of a run trained with MSE on its linear output (your own data outside [0, 1])."""
    return [
        f"Model `{c['model']}` (code size {c['code_size']}) on `{c['dataset']}`{subset}, "
        f"{epoch_count(n_epochs)}, {batch}, "
        f"seed {c['seed']}{options}, MSE on the linear output (scaling {c.get('scale')}); "
        f"trained in {seconds:.1f} s.",
        "",
        f"Final training loss {final['train_loss']:.4f}; test MSE {final['test_mse']:.5f}.",
        *code_lines(final),
    ]


def data_identity(config: dict) -> list[str]:
    """Your own data: exactly what was trained on (config.json's data: path, files, shape, SHA-256, split)."""
    if "data" not in config:
        return []
    data = config["data"]
    identity, split = data["identity"], data["split"]
    how = (
        "given by the data"
        if split["method"] == "given"
        else f"test fraction {split['test_fraction']}, seed {split['seed']}"
    )
    return [
        "",
        f"Data: {identity['kind']} at `{identity['path']}`, {identity['files']} file(s), shape "
        f"{tuple(identity['shape'])}, SHA-256 `{identity['sha256']}`; {split['n_train']} training and "
        f"{split['n_test']} test samples ({how}); scaling {data['scaling']['method']}, loss {data['loss']}.",
    ]


def write_summary(path: Path, config: dict, metrics: dict, pictures: list[str], omitted: dict | None = None) -> Path:
    """summary.md: the statements, the data, the metrics, the epochs, the figures and each figure left out with why."""
    final = metrics["final"]
    lines = [
        "# Run summary",
        "",
        *describe(config, final, metrics["seconds_training"], len(metrics["epochs"])),
        *data_identity(config),
        "",
        *metrics_table(final),
        "",
        "| epoch | train loss | test loss | seconds |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {e['epoch']} | {e['train_loss']:.4f} | {e['test_loss']:.4f} | {e['seconds']:.1f} |"
        for e in metrics["epochs"]
    ]
    lines += ["", *[f"![{p[:-4]}]({p})" for p in pictures], ""]
    lines += [f"Not drawn: {name}: {why}." for name, why in (omitted or {}).items()] + ([""] if omitted else [])
    return atomic_write_text(path, "\n".join(lines))


def without_section(text: str, heading: str) -> str:
    """Markdown `text` with its section `heading` (up to the next heading of its level or above) taken out: a probed
    folder's summary rewritten without its earlier probes, or read into a report that has its own."""
    level = heading.split(" ", 1)[0]
    stops = tuple("#" * n + " " for n in range(1, len(level) + 1))
    kept, inside = [], False
    for line in text.splitlines():
        if line.strip() == heading:
            inside = True
            continue
        if inside and line.startswith(stops):
            inside = False
        if not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)
