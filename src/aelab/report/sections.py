"""The report's sections, in the study's order, as Markdown lines computed from the collected folders.

Sentences here only restate numbers read from the folders (the runs' own summary.md files carry
the detailed readings); nothing is typed in.
"""

from __future__ import annotations

from urllib.parse import quote

from aelab.report.blocks import MODEL_TITLES, body_of, code, dataset_title, figure, number, table
from aelab.report.collect import EXPLORER_HTML, comparison_rows, finished_runs, in_grid

FIGURE_CAPTIONS = {
    "reconstructions.png": "Test images (top) over their reconstructions (bottom).",
    "worst.png": "The worst-reconstructed test images: highest per-image BCE (index and BCE above each).",
    "weights.png": "The encoder's first-layer weights as 28×28 images, on a colour scale symmetric about 0.",
    "loss.png": "Training and test loss per epoch, with the entropy floor of the test images.",
}
FIGURE_CAPTIONS.update(
    {
        "filters.png": "The first convolution's 3×3 kernels, on a colour scale symmetric about 0.",
        "feature_maps.png": (
            "Test images and the first layer's feature maps of each (each map scaled to its own range)."
        ),
        "codes.png": (
            "The test images' codes (a VAE's posterior means), coloured by class; PCA of them for codes "
            "of more than 2 dimensions."
        ),
        "manifold.png": "Decodings of a 30×30 grid over [−1, 1]² of the code plane (the Keras VAE example's figure).",
        "manifold_codes.png": "Decodings of a 30×30 grid over the region the test codes occupy (1st–99th percentile).",
        "samples.png": "Decodings of codes drawn from the prior N(0, I).",
        "interpolation.png": (
            "Decodings along the straight line between two test images' codes, over the pixel-space blend of the two."
        ),
        "traversals.png": (
            "Latent traversals: each row one code dimension swept from −3 to 3 prior standard deviations, the others "
            "held at a test sample's posterior mean (the ten dimensions of largest KL where there are more)."
        ),
    }
)
NOISY_CAPTION = "Test images, the noisy inputs the model was given, and its outputs."


def is_classic(study: dict) -> bool:
    """The classic study (or folders without a study record): the report keeps its classic wording."""
    return (study["manifest"].get("study") or {}).get("name", "classic") == "classic"


CLASSIC_INTRO = (
    "The classic autoencoder study, reproduced: the hand-derived gradients of a small autoencoder are checked, "
    "four autoencoders (shallow, deep, denoising, sparse) are trained on each data set, and a sweep over the "
    "code size, beside PCA, shows how much a larger code helps."
)


def header(study: dict) -> list[str]:
    """The title and what the report is: the classic study's own words, or a user's study's title and description."""
    manifest, about = study["manifest"], study["manifest"].get("study") or {}
    classic = is_classic(study)
    title = "Autoencoder study: reproduction report" if classic else about["title"]
    intro = [CLASSIC_INTRO, ""] if classic else [about["description"], ""] if about.get("description") else []
    source = "" if classic else f"The study {code(about['source'])}, run by `aelab run`. "
    lines = [
        f"# {title}",
        "",
        *intro,
        f"{source}Written from the run folders under {code(study['out'])}: every number and figure below is read from "
        "those folders, nothing was retrained to write it."
        + (
            f" {'Reproduction started' if classic else 'Started'} {manifest['started']}, finished "
            f"{manifest.get('finished', '–')}."
            if manifest.get("started")
            else ""
        ),
        "",
    ]
    if manifest.get("quick"):
        lines += [
            "> **Quick run.** 2,000 training images, 1,000 test images, 1 epoch per model and a sweep over two code "
            "sizes: a smoke test of the pipeline. Its numbers are not the study's.",
            "",
        ]
    return lines


def gradients(study: dict) -> list[str]:
    if not is_classic(study) and not any(r["kind"] == "gradients" for r in study["runs"]):
        return []  # a study without a gradcheck step
    lines = ["## Gradients of the simple autoencoder", ""]
    run = next(iter(finished_runs(study, "gradients")), None)
    if run is None:
        return lines + ["The gradient checks have not run (no finished `gradients/` folder).", ""]
    if run["derivation"]:
        lines += [
            "*The derivation below is the project's docs/gradients.md, as copied into `gradients/` when the checks "
            "ran; the checks themselves follow it.*",
            "",
            *body_of(run["derivation"], shift=1),
        ]
    else:
        lines += ["(The derivation, docs/gradients.md, was not found beside the package when the checks ran.)", ""]
    c, checks = run["config"].get("config", {}), run["checks"]
    failed = sum(not row["passed"] for row in checks)
    verdict = f"all {len(checks)} checks passed" if not failed else f"**{failed} of {len(checks)} checks FAILED**"
    lines += [
        "### The checks, run for this report",
        "",
        f"Seed {c.get('seed')}, {c.get('n')} inputs of {c.get('n_features')} features, "
        f"{c.get('n_hidden')} hidden units, "
        f"float64: {verdict}.",
        "",
    ]
    rows = [
        [
            r["reference"],
            r["parameter"],
            number(r["max_abs_error"], ".2e"),
            number(r["max_rel_error"], ".2e"),
            number(r["tolerance"], ".0e"),
            "pass" if r["passed"] else "FAIL",
        ]
        for r in checks
    ]
    return (
        lines
        + table(["reference", "parameter", "max abs error", "max rel error", "tolerance", "result"], rows, "llrrrc")
        + GRADE_YOUR_OWN
    )


# How a reader checks their own derivation with the same references (docs/gradients.md, "Check your own gradients").
GRADE_YOUR_OWN = [
    "### Grade your own gradients",
    "",
    "The same references grade anyone's implementation of this exercise, and name the classic mistake it matches "
    "(a dropped ReLU mask, −2 for the residual, a lost 1/n, a transposed product, …) with the equation that fixes it:",
    "",
    "```bash",
    "aelab gradcheck --template > my_backprop.py          # the signature, shapes and TODOs",
    "aelab gradcheck --impl my_backprop.py                # pass/fail per parameter, and the diagnosis",
    "aelab gradcheck --impl submissions/*.py --csv        # a class: one row per file (or --json)",
    "```",
    "",
    f"Variants: {code('--model sigmoid-bce')} (sigmoid output, binary cross-entropy) and {code('--model deep')}; "
    f"from Python, {code('aelab.gradcheck.check(gradients)')} with a function or a file's path.",
    "",
]


KERAS_ARCHITECTURES = {  # the models whose layers a width list cannot describe (models/conv.py, models/variational.py)
    "conv": "conv 32 → pool → conv 32 → pool → 7×7×32 (code) → transposed conv 32 ×2 → conv 1 (the Keras conv example)",
    "conv-denoising": (
        "conv 32 → pool → conv 32 → pool → 7×7×32 (code) → transposed conv 32 ×2 → conv 1 (the Keras conv example)"
    ),
    "conv-vae": (
        "conv 32/2 → conv 64/2 → 16 → Gaussian code → 7×7×64 → transposed conv 64, 32 → 1 (the Keras VAE example)"
    ),
}


def architecture(c: dict) -> str:
    if c.get("model") in KERAS_ARCHITECTURES:
        return KERAS_ARCHITECTURES[c["model"]]
    hidden = (
        [str(h) for h in c.get("hidden_sizes", [])]
        if c.get("model") in ("deep", "denoising", "vae", "beta-vae")
        else []
    )
    widths = ["input", *hidden, f"{c.get('code_size')} (code)", *hidden[::-1], "input"]
    return " → ".join(widths)


def model(run: dict) -> list[str]:
    step = run['name'].split('/')[-1]
    title = f"### {MODEL_TITLES.get(step, step)} on {dataset_title(run['dataset'])}"
    if not run["finished"]:
        return [title, "", f"Not finished (folder {code(run['name'])}): run the reproduction again to complete it.", ""]
    c = run["config"].get("config", {})
    lines = [title, "", f"Folder {code(run['name'])} · layers {architecture(c)}", "", *body_of(run["summary"], shift=2)]
    for name in run["figures"]:
        noisy = name == "reconstructions.png" and c.get("noise")
        lines += figure(f"{run['name']}/{name}", name[:-4], NOISY_CAPTION if noisy else FIGURE_CAPTIONS[name])
    return lines + explorer_link(run)


def explorer_link(run: dict) -> list[str]:
    """A link to the run's explorer.html (`aelab explore`), when there is one."""
    if not run.get("explorer"):
        return []
    return [
        f"[Open this model in the explorer]({quote(run['name'])}/{EXPLORER_HTML}): draw, and watch it reconstruct; "
        "walk its code space (one offline page, written by `aelab explore`).",
        "",
    ]


def models(study: dict) -> list[str]:
    lines = []
    for dataset in study["datasets"]:
        runs = [r for r in study["runs"] if r["kind"] == "train" and r["dataset"] == dataset and not in_grid(r)]
        if dataset in study["missing"] or not runs:
            continue
        lines += [f"## Models on {dataset_title(dataset)}", ""]
        for run in runs:
            lines += model(run)
    return lines


COMPARISON = [
    ("train_loss", "train loss", ".4f"),
    ("test_bce", "test BCE", ".4f"),
    ("test_bce_floor", "floor", ".4f"),
    ("test_bce_excess", "excess", ".4f"),
    ("test_mse", "MSE", ".5f"),
    ("test_psnr_db", "PSNR (dB)", ".2f"),
    ("test_code_zero_fraction", "code zeros", ".1%"),
    ("seconds_training", "seconds", ".1f"),
]


def comparison(study: dict) -> list[str]:
    rows = comparison_rows(study)
    lines = ["## Comparison of all models", ""]
    if not rows and not is_classic(study):
        return []
    if not rows:
        return lines + ["No model has finished yet.", ""]
    lines += [
        "Final training loss (mean over the last epoch's steps) and test-set metrics of every model. BCE in nats per "
        "pixel; *floor* is the test images' own entropy, *excess* the part above it a model can remove; *code zeros* "
        "the share of code entries exactly 0; *seconds* of training. The denoiser is scored on noisy test inputs "
        "against clean targets (its clean-input numbers are in its section).",
        "",
    ]
    body = [
        [dataset_title(r["dataset"]), r["model"], *(number(r[key], fmt) for key, _, fmt in COMPARISON)] for r in rows
    ]
    return lines + table(
        ["data set", "model", *(label for _, label, _ in COMPARISON)], body, "ll" + "r" * len(COMPARISON)
    )


def sweeps(study: dict) -> list[str]:
    runs = [
        r for r in study["runs"] if r["kind"] == "sweep" and r["dataset"] not in study["missing"] and not in_grid(r)
    ]
    if not runs:
        return []
    lines = [
        "## Code-size sweep",
        "",
        "Shallow autoencoders of every code size trained together on the same batches, "
        "beside PCA (the best linear reconstruction) fitted to the same training images.",
        "",
    ]
    for run in runs:
        named = "" if is_classic(study) else f" {code(run['name'].split('/', 1)[-1])}"  # a study may hold several
        lines += [f"### Sweep{named} on {dataset_title(run['dataset'])}", ""]
        if not run["finished"]:
            lines += [f"Not finished (folder {code(run['name'])}): run the reproduction again to complete it.", ""]
            continue
        lines += [f"Folder {code(run['name'])}", ""]
        lines += [
            line
            for name in run["figures"]
            for line in figure(
                f"{run['name']}/{name}",
                "sweep",
                "Loss against code size: autoencoders (blue; train dashed, test solid) and PCA (green).",
            )
        ]
        lines += (
            body_of(run["summary"], shift=2)
            + ["#### Bias and variance, read from the numbers", ""]
            + reading(run["sweep"])
        )
    return lines


def reading(sweep: dict) -> list[str]:
    """Where the sweep shows bias (small codes) and variance (large codes), from sweep.json's means."""
    sizes = sweep.get("sizes") or []
    if not sizes:
        return ["The sweep holds no sizes.", ""]
    ks = [e["code_size"] for e in sizes]
    excess, gaps = [e["mean"]["test_bce_excess"] for e in sizes], [e["mean"]["gap_bce_excess"] for e in sizes]
    flat, tol = sweep["flattening"]["test_bce_excess"], sweep["flattening"]["tolerance"]
    grows = gaps[-1] > gaps[0] and gaps[-1] > 0
    return [
        f"**Bias.** A code too small to hold the image leaves error no amount of data removes: the mean test BCE "
        f"excess is {excess[0]:.4f} at code size {ks[0]} against {flat['best_value']:.4f} at {flat['best_code_size']} "
        f"(the best), and comes within {tol:.0%} of the best at code size {flat['code_size']}.",
        "",
        "**Variance.** A larger code gives more room to fit the training images in particular: "
        "the test − train gap in "
        f"excess BCE is {gaps[0]:+.4f} at code size {ks[0]} and {gaps[-1]:+.4f} at {ks[-1]}"
        + (
            "; it grows with the code size."
            if grows
            else "; it does not grow with the code size, so within this range "
            "and these epochs the larger codes show no overfitting."
        ),
        "",
    ]


def skipped(study: dict) -> list[str]:
    if not study["missing"]:
        return []
    lines = ["## Skipped data sets", "", "These data sets were not found, so their models and sweep were not run:", ""]
    lines += [f"- **{dataset_title(name)}**: {code(reason)}" for name, reason in study["missing"].items()]
    return lines + [
        "",
        "Put the four IDX files in `DIR/<name>/` and run the same command again with `--data-dir DIR`: "
        "the finished steps are kept and only the missing ones run.",
        "",
    ]
