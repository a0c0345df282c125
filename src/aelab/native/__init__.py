"""The compiled kernels (kernels.c, typed by aelab_kernels.h), built at install time (ffibuild.py) and
loaded with the BLAS they multiply with (library.py)."""
