"""The simple autoencoder differentiated by hand, in NumPy, and the grader of anyone else's derivation.

`numpy_ae` holds the forward pass, loss and backward pass (one function per equation of
docs/gradients.md), `gradcheck` verifies them against finite differences and PyTorch autograd, and
`numpy_train` trains the model with SGD or Adam using those gradients. Kept apart from the torch
models on purpose: this package imports only NumPy, except the lazy autograd references.

The grader (public face: `aelab.gradcheck`) reuses those steps: `layered` writes the exercises
(shallow, sigmoid-bce, deep) as one layer stack whose backward pass is a sequence of swappable steps,
`mistakes` rebuilds each classic mistake by swapping steps, `exercises`/`problems` choose the problems
and references, `grading` compares and diagnoses (`factors`: gradients right but for one constant
factor), and `usercode`/`sandbox`/`sandbox_child` run the user's file in a child process with a time
limit, `children` making sure nothing it starts outlives it, nor a Ctrl-C of the grader.
"""
