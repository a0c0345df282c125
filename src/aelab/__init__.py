"""aelab — an autoencoder laboratory.

Importing the package has no side effects: no argv parsing, no downloads, no threads.
"""

__version__ = "0.1.0"
