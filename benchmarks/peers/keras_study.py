"""The original Keras study's models, for timing and loss comparison (runs in .venv-peers, not aelab's venv).

    .venv-peers/bin/python benchmarks/peers/keras_study.py --model shallow --epochs 1 --data-dir ../shared/data
    .venv-peers/bin/python benchmarks/peers/keras_study.py --study --data-dir ../shared/data

`--study` runs the whole original study, as its code did: shallow (5 epochs), deep (10), denoising
(10), then the sweep, a shallow model per code size 5, 20, …, 95 (5 epochs each); every fit with
the test set as validation data (the test loss per epoch), then `predict` on the test set (the
images of its figures). It prints one JSON line with the total seconds and each model's.

Prints one JSON line: per-epoch seconds (measured inside fit, so TensorFlow's start-up is not
counted) and per-epoch training loss. Models, optimiser, loss and batch size as in the study:
Dense layers (Glorot-uniform, zero bias), Adam (Keras defaults), binary cross-entropy, batch 32,
shuffled every epoch; the denoiser's noise is drawn once (clip(x + 0.2·N(0,1), 0, 1)).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from idx_images import read_images, split


def build(model: str, code_size: int):
    from tensorflow import keras

    inputs = keras.Input(shape=(784,))
    if model == "shallow":
        code = keras.layers.Dense(code_size, activation="relu")(inputs)
        outputs = keras.layers.Dense(784, activation="sigmoid")(code)
    else:
        h = keras.layers.Dense(128, activation="relu")(inputs)
        code = keras.layers.Dense(code_size, activation="relu")(h)
        h = keras.layers.Dense(128, activation="relu")(code)
        outputs = keras.layers.Dense(784, activation="sigmoid")(h)
    autoencoder = keras.Model(inputs, outputs)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    return autoencoder


STUDY = [("shallow", 32, 5), ("deep", 32, 10), ("denoising", 32, 10)] + [("shallow", k, 5) for k in range(5, 100, 15)]


def study(data_dir: str, dataset: str) -> dict:
    """The whole original study; seconds from the first fit to the last prediction (TensorFlow's import excluded)."""
    from tensorflow import keras

    x, x_test = split(data_dir, dataset)
    runs, start = [], time.perf_counter()
    for model, code_size, epochs in STUDY:
        begin = time.perf_counter()
        inputs, test_inputs = x, x_test
        if model == "denoising":
            inputs = np.clip(x + 0.2 * np.random.normal(size=x.shape), 0.0, 1.0).astype("float32")
            test_inputs = np.clip(x_test + 0.2 * np.random.normal(size=x_test.shape), 0.0, 1.0).astype("float32")
        autoencoder = build("shallow" if model == "shallow" else "deep", code_size)
        history = autoencoder.fit(
            inputs, x, epochs=epochs, batch_size=32, shuffle=True, verbose=0, validation_data=(test_inputs, x_test)
        )
        autoencoder.predict(test_inputs, verbose=0)
        runs.append(
            {
                "model": model,
                "code_size": code_size,
                "epochs": epochs,
                "seconds": time.perf_counter() - begin,
                "train_loss": history.history["loss"][-1],
                "test_loss": history.history["val_loss"][-1],
            }
        )
    return {"study_seconds": time.perf_counter() - start, "runs": runs, "keras": keras.__version__}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("shallow", "deep", "denoising"), default="shallow")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--code-size", type=int, default=32)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra/inter-op threads (0: its default)")
    parser.add_argument("--study", action="store_true", help="run the whole original study (ignores --model/--epochs)")
    args = parser.parse_args()
    import tensorflow as tf
    from tensorflow import keras

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if args.study:
        print(json.dumps({**study(args.data_dir, args.dataset), "tensorflow": tf.__version__}))
        return
    x = read_images(f"{args.data_dir}/{args.dataset}/train-images-idx3-ubyte.gz")
    inputs = x
    if args.model == "denoising":
        inputs = np.clip(x + 0.2 * np.random.normal(size=x.shape), 0.0, 1.0).astype("float32")
    autoencoder = build("shallow" if args.model == "shallow" else "deep", args.code_size)
    seconds: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    history = autoencoder.fit(
        inputs, x, epochs=args.epochs, batch_size=32, shuffle=True, verbose=0, callbacks=[Timer()]
    )
    print(
        json.dumps(
            {
                "model": args.model,
                "code_size": args.code_size,
                "epoch_seconds": seconds,
                "train_loss": history.history["loss"],
                "keras": keras.__version__,
                "tensorflow": tf.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
