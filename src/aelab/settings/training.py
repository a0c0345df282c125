"""The settings of what trains a model — family, sizes, optimiser, seeds, objective, engine, placement, your
own data's options — declared once for every config that has them (TrainConfig, SweepConfig, AnomalyConfig).
"""

from __future__ import annotations

from aelab.devices import DEVICES
from aelab.settings import COUNT, Setting, count_or_all, number, whole, wholes

NOISE_KINDS = ("gaussian", "masking", "salt-pepper")
# The model families' names, so a config refuses a typo when it is made; models.registry builds them
# (this layer cannot import models: imports run one way) and a test keeps the two lists equal.
MODEL_NAMES = ("shallow", "deep", "denoising", "sparse", "conv", "conv-denoising", "vae", "conv-vae", "beta-vae")
# The families with a Gaussian code (models.registry's `variational`).
VARIATIONAL_NAMES = ("vae", "conv-vae", "beta-vae")
SWEEP_MODELS = ("shallow", "deep")
ENGINES = ("compiled", "autograd")
RENAMED_ENGINES = (("fused", "compiled"),)  # the compiled engine's name before one word meant one idea
SCALES = ("none", "minmax", "standard")
LOSSES = ("bce", "mse")
BETA_LIMIT = 1000.0
L1_LIMIT = 1000.0  # an L1 weight this large only zeroes the code: surely a typo
DEVICE_HELP = (
    "where to train: cpu, cuda (an NVIDIA GPU), mps (an Apple GPU) or auto (cuda if there is one, else mps, "
    "else cpu); the data stays resident there, the weights are saved as CPU tensors; the compiled engine is "
    "the CPU's, on a GPU the autograd step runs (captured as a CUDA graph on cuda; docs/devices.md)"
)
DETERMINISTIC_HELP = (
    "PyTorch's deterministic algorithms (and CUBLAS_WORKSPACE_CONFIG on CUDA): a GPU run repeats bit for "
    "bit on the same card and software; see docs/devices.md for what matches across devices"
)

# --- what is trained: model, sizes, optimiser, seeds ---------------------------------------------------------------
MODEL = Setting(
    "model",
    "shallow",
    "model family: shallow (784→code→784), deep (784→128→code→128→784), denoising (deep, "
    "Gaussian input noise 0.2), sparse (shallow, L1 on the code), conv and conv-denoising (the Keras conv "
    "example, noise 0.4), vae (dense, Gaussian code), conv-vae (the Keras VAE example) or beta-vae",
    choices=MODEL_NAMES,
    suggest=True,
)
DATASET = Setting(
    "dataset",
    "fashion-mnist",
    "data set name: mnist or fashion-mnist, or PATH to your own data (an image "
    "folder, .npy, .npz, .csv/.tsv, or IDX files; see `aelab data inspect PATH`)",
)
CODE_SIZE = Setting("code_size", 32, "width of the code (bottleneck) layer", COUNT, wholes(1))
HIDDEN_SIZES = Setting(
    "hidden_sizes",
    (128,),
    "hidden widths of a deep model, outermost first, e.g. 256,128",
    "one or more whole numbers ≥ 1",
    lambda v: isinstance(v, tuple) and bool(v) and all(whole(h) and h >= 1 for h in v),
)
EPOCHS = Setting("epochs", 5, "passes over the training set", COUNT, wholes(1))
BATCH_SIZE = Setting("batch_size", 32, "samples per optimiser step (the study's 32)", COUNT, wholes(1))
LEARNING_RATE = Setting(
    "learning_rate",
    1e-3,
    "Adam learning rate (Keras' default 1e-3)",
    "a number in (0, 10)",
    lambda v: number(v) and 0 < v < 10,
)
SEED = Setting("seed", 0, "seed of every random choice: weights, batch order, noise", "a whole number ≥ 0", wholes(0))
SEEDS = Setting(
    "seeds",
    1,
    "models per code size, initialised from seeds seed, seed+1, …; their spread measures variance",
    COUNT,
    wholes(1),
)
COUNT_OR_ALL = "a whole number ≥ 1, or all"


def sample_count(name: str, help_text: str) -> Setting:
    """A number of samples to use, None ("all", as a person types it) for every one."""
    return Setting(
        name,
        None,
        help_text,
        COUNT_OR_ALL,
        wholes(1),
        optional=True,
        parse=count_or_all(name, COUNT_OR_ALL),
        none_word="all",
    )


TRAIN_SIZE = sample_count("train_size", "train on a seeded random subset of this many images (default: all)")
TEST_SIZE = sample_count("test_size", "evaluate on the first N test images (default: all)")
ENGINE = Setting(
    "engine",
    "compiled",
    "how a step is computed: compiled (forward, backward and Adam written by hand in one "
    "flat buffer, ~3× faster; dense models) or autograd (PyTorch autograd + torch.optim.Adam, the "
    "reference); same math, results agree to float32 rounding",
    choices=ENGINES,
    renamed=RENAMED_ENGINES,
)
THREADS = Setting(
    "threads",
    0,
    "threads of the compiled step: 1, 2 to split each batch's work over two cores, or 0 "
    "(default) for 2 when PyTorch has two or more threads here (a model trained alone) and 1 otherwise "
    "(inside `aelab run`'s parallel steps); measured: two threads take 0.7-0.9× the time of one "
    "(BENCHMARKS.md); results agree to float32 rounding",
    "0 (automatic), 1 or 2",
    lambda v: whole(v) and v in (0, 1, 2),
    choices=(0, 1, 2),
)
DEVICE = Setting("device", "cpu", DEVICE_HELP, choices=DEVICES, accepts=lambda v: isinstance(v, str) and v in DEVICES)
DETERMINISTIC = Setting("deterministic", False, DETERMINISTIC_HELP, "true or false", lambda v: isinstance(v, bool))

# --- the objective: noise, sparsity, β, the clean start ------------------------------------------------------------
NOISE = Setting(
    "noise",
    None,
    "input corruption for a denoising run: gaussian (clip(x + f·N(0,1), 0, 1)), masking (a "
    "fraction f of pixels zeroed) or salt-pepper (a fraction f set to 0 or 1); the target stays clean "
    "(default: none; gaussian for --model denoising)",
    choices=NOISE_KINDS,
    optional=True,
)
NOISE_FACTOR = Setting(
    "noise_factor",
    None,
    "f: the Gaussian noise's standard deviation, or the fraction of corrupted "
    "pixels (default: 0.2; 0.4 for --model conv-denoising, as the Keras example)",
    "a number in [0, 10]",
    lambda v: number(v) and 0 <= v <= 10,
    optional=True,
)
FIXED_NOISE = Setting(
    "fixed_noise",
    False,
    "draw the training noise once, as the original study did (default: fresh "
    "noise every epoch, which the model cannot memorise)",
    "true or false",
    lambda v: isinstance(v, bool),
)
L1 = Setting(
    "l1",
    None,
    "weight of the L1 penalty on the code activations, in [0, 1000) (default: 1e-5 for --model sparse, else 0)",
    f"a number in [0, {L1_LIMIT:g})",
    lambda v: number(v) and 0 <= v < L1_LIMIT,
    optional=True,
)
L1_REDUCTION = Setting(
    "l1_reduction",
    "mean",
    "how the L1 term is reduced over the batch: mean (per-sample, as tf.keras "
    "and Keras 3) or sum (over the batch, as Keras 2.0; grows with batch size)",
    "mean or sum",
    choices=("mean", "sum"),
)
BETA = Setting(
    "beta",
    None,
    "weight of the KL term of a variational model (vae, conv-vae, beta-vae): the β of β-VAE "
    "(Higgins et al. 2017), in (0, 1000] (default: 1.0; 4.0 for --model beta-vae)",
    f"a number in (0, {BETA_LIMIT:g}]",
    lambda v: number(v) and 0 < v <= BETA_LIMIT,
    optional=True,
)
TRAIN_WITH_TEST = Setting(
    "train_with_test",
    False,
    "train on the training and test images together, as the Keras VAE "
    "example does (MNIST's 70,000); the test metrics are then on images seen in training",
    "true or false",
    lambda v: isinstance(v, bool),
)
CLEAN_EPOCHS = Setting(
    "clean_epochs",
    0,
    "epochs trained on clean inputs before the noise starts, one model and "
    "optimiser throughout: the Keras conv example trains 50 epochs clean, then 100 as a denoiser",
    "a whole number ≥ 0 and below --epochs",
    wholes(0),
)

# --- your own data (`--dataset PATH`, data/custom/); the built-in data sets take none of them ------------------------
IMAGE_SIZE = Setting(
    "image_size",
    None,
    "with --dataset FOLDER of images: resize every image to H,W (default: all must have one size)",
    "H,W: two whole numbers ≥ 1",
    lambda v: isinstance(v, tuple) and len(v) == 2 and all(whole(s) and s >= 1 for s in v),
    optional=True,
)
LABEL_COLUMN = Setting(
    "label_column",
    None,
    "with --dataset TABLE.csv/.tsv: the column holding the labels, by header name "
    "or 0-based index, or none (default: no labels; a column named target, label, class or y must be named "
    "here, or kept as a feature with none)",
    "a column name or 0-based index",
    lambda v: isinstance(v, str) and bool(v),
    optional=True,
)
TEST_FRACTION = Setting(
    "test_fraction",
    None,
    "with --dataset PATH that has no test split of its own: the fraction of "
    "samples held out for testing, drawn with --seed and recorded in the run (default: 0.2)",
    "a number in (0, 1)",
    lambda v: number(v) and 0 < v < 1,
    optional=True,
)
SCALE = Setting(
    "scale",
    None,
    "with --dataset PATH: scaling of each feature, fitted on the training split only and "
    "recorded: minmax (to [0, 1]), standard (zero mean, unit variance) or none (default: none when the values "
    "are uint8 (divided by 255) or in [0, 1], else standard)",
    choices=SCALES,
    optional=True,
)
LOSS = Setting(
    "loss",
    None,
    "with --dataset PATH: reconstruction loss, bce (sigmoid output; values in [0, 1]) or mse "
    "(linear output) (default: bce for values in [0, 1] from images, arrays or IDX; mse for tables and other "
    "values)",
    choices=LOSSES,
    optional=True,
)
DATA_SETTINGS = (IMAGE_SIZE, LABEL_COLUMN, TEST_FRACTION, SCALE, LOSS)
RENAMED_SETTINGS = (ENGINE,)  # the settings with an old spelling that saved runs may hold (`current_json`)
