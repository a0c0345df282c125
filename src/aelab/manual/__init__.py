"""The simple autoencoder differentiated by hand, in NumPy.

`numpy_ae` holds the forward pass, loss and backward pass (one function per equation of
docs/gradients.md), `gradcheck` verifies them against finite differences and PyTorch autograd, and
`numpy_train` trains the model with SGD or Adam using those gradients. Kept apart from the torch
models on purpose: this package imports only NumPy, except the checker's lazy autograd reference.
"""
