"""`aelab probe`: how linearly separable (and kNN-separable) the classes are in a trained model's codes."""
