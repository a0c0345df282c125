# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The autoencoder study, step by step
#
# This notebook retells the classic autoencoder study with aelab's API. First the hand-derived
# gradients of a small autoencoder are checked; then four autoencoders are trained on Fashion-MNIST
# (shallow, deep, denoising and sparse) and their reconstructions, weights and losses are drawn;
# last, a sweep over the code size, beside PCA, shows where a larger code stops helping (bias) and
# whether it starts to overfit (variance).
#
# `aelab reproduce` runs the same study from the command line and writes it up as a report; here
# every step is a cell you can change and run again. `QUICK = True` (or the environment variable
# `AELAB_NOTEBOOK_QUICK=1`) runs everything on small subsets, for a smoke test in under a minute;
# the default is the study's settings, which take some minutes on a laptop's CPU.

# %%
import io
import os
import warnings
from pathlib import Path

import torch
from IPython.display import Image, display

QUICK = False  # True: 2,000 training images, 1,000 test images, 1 epoch, two code sizes in the sweep
QUICK = QUICK or os.environ.get("AELAB_NOTEBOOK_QUICK") == "1"
DATASET = "fashion-mnist"
OUT = Path("runs") / ("notebook-quick" if QUICK else "notebook")  # one run folder per model, as `aelab train` writes
SIZES = {"train_size": 2000, "test_size": 1000, "epochs": 1} if QUICK else {}
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's widget hint; the runs below are quiet anyway


def show(fig):
    """Display a matplotlib Figure inline (aelab's plots return figures and never touch pyplot)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    display(Image(buffer.getvalue()))


print(f"QUICK = {QUICK}; run folders go to {OUT}/")

# %% [markdown]
# ## 1. The gradients, by hand
#
# `aelab.manual.numpy_ae` implements the forward and backward pass of a one-hidden-layer ReLU
# autoencoder with squared error in plain NumPy, one function per equation of `docs/gradients.md`.
# `run_checks` compares its gradients with two independent references: central finite differences
# (which need no calculus, so they cannot share a derivation mistake) and PyTorch autograd (which
# pins every entry to rounding), both in float64. Every row should read *pass*.

# %%
from aelab.manual.study_checks import format_table as gradient_table
from aelab.manual.study_checks import run_checks

checks = run_checks(seed=0)
print(gradient_table(checks))
assert all(check.passed for check in checks), "a hand-derived gradient disagrees with its references"

# %% [markdown]
# ## 2. The data
#
# `load_dataset` finds Fashion-MNIST wherever aelab looks (`$AELAB_DATA_DIR`, its cache, Debian's
# package, the Keras cache; else a verified download), checks the SHA-256 digest of every file and
# scales the pixels to [0, 1]. The runs below evaluate on the first `test_size` test images, so we
# keep the same ones here to draw the figures.

# %%
from aelab.data import load_dataset

data = load_dataset(DATASET, progress=False)
test_x = torch.tensor(data.test_images[:SIZES.get("test_size", len(data.test_images))])  # a copy: the loaded arrays are read-only
print(f"train {data.train_images.shape}, test {data.test_images.shape}, from {data.source}")

# %% [markdown]
# ## 3. Four autoencoders
#
# `train_run` trains one model from a `TrainConfig` and writes its run folder: config, metrics,
# weights (safetensors), figures and a summary. `aelab.load` reads that folder back as a fitted
# `aelab.Autoencoder`, whose `config_` has the study's epochs filled in (5 for the shallow and
# sparse models, 10 for the deep and denoising ones) and whose `model_` is the trained network,
# so that `show_run` can draw its figures here with
# `aelab.plots`: test images over their reconstructions, the first layer's weights as images, and
# the loss per epoch against the entropy floor of the test images (the BCE no model can beat).

# %%
import aelab
from aelab.config import TrainConfig
from aelab.tasks.train import train_run
from aelab.plots.curves import loss_figure
from aelab.plots.images import reconstructions_figure
from aelab.plots.weights import weights_figure


def train(model, **options):
    """Train one of the study's models (quietly); return its config, metrics and the trained network."""
    metrics = train_run(TrainConfig(model=model, dataset=DATASET, **SIZES, **options), OUT / model,
                        quiet=True, log=lambda message: None)
    fitted = aelab.load(OUT / model)
    config, network = fitted.config_, fitted.model_
    final = metrics["final"]
    print(f"{model}: {config.epochs} epoch(s) in {metrics['seconds_training']:.1f} s; train loss {final['train_loss']:.4f}, "
          f"test BCE {final['test_bce']:.4f} = floor {final['test_bce_floor']:.4f} + excess {final['test_bce_excess']:.4f}, "
          f"MSE {final['test_mse']:.5f}")
    return config, metrics, network


def show_run(metrics, network, noisy=None, n=10):
    """Reconstructions (with the noisy inputs for a denoiser), first-layer weights, loss curves."""
    clean = test_x[:n]
    seen = clean if noisy is None else noisy[:n]
    rows = {"originals": clean.numpy(), "reconstructions": network.reconstruct(seen).numpy()}
    show(reconstructions_figure(**rows, noisy=None if noisy is None else seen.numpy()))
    show(weights_figure(network.first_layer_weights()[:16].numpy()))
    epochs = metrics["epochs"]
    show(loss_figure([e["train_loss"] for e in epochs], [e["test_loss"] for e in epochs], floor=metrics["final"]["test_bce_floor"]))

# %% [markdown]
# ### The shallow autoencoder
#
# 784 → 32 → 784: one ReLU code layer of 32 units and a sigmoid output, trained on binary
# cross-entropy with Adam, batch 32, as the original study. With 32 numbers per image, expect it to
# keep the outline and overall brightness of each garment and to lose fine texture; each weight
# image shows the pixel pattern one code unit responds to (red positive, blue negative).

# %%
shallow = train("shallow")
show_run(*shallow[1:])

# %% [markdown]
# ### The deep autoencoder
#
# 784 → 128 → 32 → 128 → 784: the same code size with a hidden layer on each side. The extra
# layers let the code be a non-linear function of the image, so at the same 32 numbers it usually
# reaches a lower test BCE than the shallow model (compare the *excess* over the floor).

# %%
deep = train("deep")
show_run(*deep[1:])

# %% [markdown]
# ### The denoising autoencoder
#
# The deep model fed `clip(x + 0.2·N(0, 1), 0, 1)` and trained to output the clean `x`. As in the
# original study, the training noise is drawn once (`fixed_noise=True`). The test inputs are noisy
# too, drawn from the run's own seeded test-noise stream, so the figure below shows exactly the
# inputs the metrics were computed on: original, noisy input, output.

# %%
from aelab.data.noise import corruption
from aelab.tasks.recipe import seeded_generators

denoising = train("denoising", fixed_noise=True)
config = denoising[0]
noisy_test = corruption(config.noise, config.noise_factor)(test_x, seeded_generators(config.seed)["test_noise"])
show_run(*denoising[1:], noisy=noisy_test)

# %% [markdown]
# ### The sparse autoencoder
#
# The shallow model with an L1 penalty (weight 1e-5) on the code activations. The penalty pushes
# code units towards zero, so compare the share of code entries that are exactly 0 and the mean
# activation with the shallow model's: the price is usually a slightly higher reconstruction loss.

# %%
sparse = train("sparse")
show_run(*sparse[1:])
for name, (_, metrics, _) in {"shallow": shallow, "sparse": sparse}.items():
    final = metrics["final"]
    print(f"{name:8s} code entries exactly 0: {final['test_code_zero_fraction']:.1%}, "
          f"mean activation {final['test_code_mean']:.3f}, test BCE {final['test_bce']:.4f}")

# %% [markdown]
# ### The four side by side
#
# The same numbers as the report's comparison table: each model's final training loss and its
# test metrics (the denoiser's on noisy inputs). *Excess* is the part of the BCE above the images'
# own entropy, the part a better model could still remove.

# %%
print(f"{'model':10s} {'train loss':>10s} {'test BCE':>9s} {'excess':>7s} {'MSE':>8s} {'PSNR dB':>8s} {'code zeros':>10s}")
for name, (_, metrics, _) in {"shallow": shallow, "deep": deep, "denoising": denoising, "sparse": sparse}.items():
    f = metrics["final"]
    print(f"{name:10s} {f['train_loss']:10.4f} {f['test_bce']:9.4f} {f['test_bce_excess']:7.4f} {f['test_mse']:8.5f} "
          f"{f['test_psnr_db']:8.2f} {f['test_code_zero_fraction']:10.1%}")

# %% [markdown]
# ## 4. How large should the code be? The sweep, beside PCA
#
# `run_sweep` trains shallow autoencoders of every code size at once (one batched model, the same
# batches for all) and fits PCA on the same training images: PCA is the best *linear*
# reconstruction at each size, a reference the autoencoders should approach or beat. The study's
# sizes are 5, 20, …, 95; the quick setting uses two.

# %%
from aelab.config import SweepConfig
from aelab.tasks.sweep import run_sweep
from aelab.tasks.sweep_summary import format_table
from aelab.plots.sweep import curves_from_result, sweep_figure

sweep_config = SweepConfig(dataset=DATASET, **({**SIZES, "code_sizes": (5, 20)} if QUICK else {}))
result = run_sweep(sweep_config, OUT / "sweep", quiet=True, log=lambda message: None)
show(sweep_figure(*curves_from_result(result), title=f"shallow autoencoders on {DATASET}"))
print(format_table(result))

# %% [markdown]
# ### Reading the curve: bias and variance
#
# *Bias*: a code that is too small cannot hold the image, and the test loss is high however long
# we train. It falls as the code grows, until it flattens; `flattening` finds the smallest size
# within 5% of the best mean test excess. *Variance*: a larger code also has more room to fit the
# training images in particular; that shows as a test − train gap that grows with the code size.
# The numbers below come straight from the sweep's result (the same as its `summary.md`).

# %%
sizes = result["sizes"]
flat = result["flattening"]["test_bce_excess"]
for entry in sizes:
    mean = entry["mean"]
    print(f"code {entry['code_size']:3d}: test excess {mean['test_bce_excess']:.4f}, test − train gap {mean['gap_bce_excess']:+.4f}, "
          f"PCA test excess {entry['pca']['test_bce_excess']:.4f}")
print(f"\nbias: the test excess falls from {sizes[0]['mean']['test_bce_excess']:.4f} (code {sizes[0]['code_size']}) "
      f"to {flat['best_value']:.4f} (code {flat['best_code_size']}); within 5% of the best from code size {flat['code_size']}")
gaps = [entry["mean"]["gap_bce_excess"] for entry in sizes]
print(f"variance: the gap goes from {gaps[0]:+.4f} to {gaps[-1]:+.4f}: "
      + ("it grows with the code size" if gaps[-1] > gaps[0] and gaps[-1] > 0 else "no sign of overfitting in this range"))

# %% [markdown]
# ## What next
#
# Every run folder under `runs/notebook/` holds the config, metrics, weights and figures of its
# model; `aelab reproduce --out runs/study` runs this whole study on both MNIST and Fashion-MNIST
# and writes it up as `report.html` (one self-contained page) and `report.md`.
