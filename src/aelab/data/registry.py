"""The data sets aelab knows: file names, digests of the decompressed payloads, and mirrors.

Digests are of the *decompressed* IDX bytes, because the .gz files differ between mirrors (different
compressors, timestamps) while the payload is the same everywhere. The MNIST digests equal those of
LeCun's original uncompressed files.
"""

from __future__ import annotations

from dataclasses import dataclass

from aelab.registries import lookup

SPLIT_FILES = {  # role → canonical file name (without .gz); the same for both data sets
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DatasetSpec:
    """What defines a data set: its files, their SHA-256 digests, sizes, labels and mirrors."""

    name: str
    title: str
    sha256: dict[str, str]  # canonical file name → digest of decompressed bytes
    mirrors: tuple[str, ...]  # base URLs (HTTPS) that serve `<file>.gz`
    class_names: tuple[str, ...]
    keras_npz: str | None = None  # Keras' cache keeps MNIST as one .npz, not IDX files
    image_shape: tuple[int, int] = (28, 28)
    n_train: int = 60_000
    n_test: int = 10_000

    @property
    def n_features(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


REGISTRY: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST handwritten digits",
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        class_names=tuple(str(d) for d in range(10)),
        keras_npz="mnist.npz",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST (Zalando article images)",
        sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=(
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """The spec of data set `name`; an unknown name gets a close-match suggestion."""
    return lookup(name, REGISTRY, "data set")  # type: ignore[return-value]
