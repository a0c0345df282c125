"""The Keras examples' conv autoencoder and conv VAE, for timing one epoch (runs in .venv-peers, not aelab's venv).

    .venv-peers/bin/python benchmarks/peers/keras_examples.py --model conv --data-dir ../shared/data
    .venv-peers/bin/python benchmarks/peers/keras_examples.py --model conv-vae --data-dir ../shared/data

The models are written as the two examples build them ("Convolutional autoencoder for image denoising",
"Variational AutoEncoder"): the same layers, Adam with Keras' defaults, batch 128, MNIST; the VAE with its
custom train_step (reconstruction BCE summed over pixels + KL summed over the code, mean over the batch).
Prints one JSON line: the epoch's seconds measured inside fit (TensorFlow's start-up and the first,
compiling epoch excluded) and the epoch's loss.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from idx_images import split


def conv_autoencoder():
    from tensorflow import keras
    from tensorflow.keras import layers

    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    outputs = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def conv_vae(code_size: int = 2):
    import tensorflow as tf
    from tensorflow import keras
    from tensorflow.keras import layers

    class Sampling(layers.Layer):
        def call(self, inputs):
            mean, log_var = inputs
            return mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))

    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    mean, log_var = layers.Dense(code_size)(x), layers.Dense(code_size)(x)
    encoder = keras.Model(inputs, [mean, log_var, Sampling()([mean, log_var])])
    codes = keras.Input(shape=(code_size,))
    x = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, activation="relu")(codes))
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder = keras.Model(codes, layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x))

    class VAE(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder
            self.total = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.total]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                mean, log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                bce = keras.losses.binary_crossentropy(data, reconstruction)  # (b, 28, 28): mean over the channel
                reconstruction_loss = tf.reduce_mean(tf.reduce_sum(bce, axis=(1, 2)))
                kl = -0.5 * (1 + log_var - tf.square(mean) - tf.exp(log_var))
                total = reconstruction_loss + tf.reduce_mean(tf.reduce_sum(kl, axis=1))
            grads = tape.gradient(total, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total.update_state(total)
            return {"loss": self.total.result()}

    model = VAE()
    model.compile(optimizer=keras.optimizers.Adam())
    return model


class EpochTimer:
    """Seconds of each epoch, measured inside fit."""

    def __init__(self):
        from tensorflow import keras

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                cb.start = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                self.seconds.append(time.perf_counter() - cb.start)
                self.losses.append(float(logs["loss"]))

        self.seconds, self.losses, self.callback = [], [], Callback()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("conv", "conv-vae"), default="conv")
    parser.add_argument(
        "--epochs", type=int, default=2, help="epochs to run; the first (graph tracing) is not reported"
    )
    parser.add_argument("--train-size", type=int, default=60_000)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    x, _ = split(args.data_dir, "mnist")
    x = x[: args.train_size].reshape(-1, 28, 28, 1)
    model = conv_autoencoder() if args.model == "conv" else conv_vae()
    timer = EpochTimer()
    target = (x,) if args.model == "conv" else ()
    model.fit(x, *target, epochs=args.epochs, batch_size=128, shuffle=True, verbose=0, callbacks=[timer.callback])
    print(
        json.dumps(
            {
                "model": args.model,
                "epoch_seconds": timer.seconds[1:] or timer.seconds,
                "losses": timer.losses,
                "train_size": len(x),
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
