"""Training: one `Trainer` for every autoencoder, metrics, weights on disk, progress display."""
