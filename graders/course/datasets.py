"""Data files in Keras' npz layout: read from an npz or from IDX files, sampled class by class, written.

A data file holds the four arrays ``keras.datasets.*.load_data()`` returns,
``x_train``, ``y_train``, ``x_test`` and ``y_test`` (images first, one label
per image), and may hold ``class_names``: a 1-D unicode array whose entry
``k`` names label ``k``. It is read without pickle. ``graders data write``
(``graders/cli.py``) writes one from any of three sources (``read_source``):

- an ``.npz`` file in that layout;
- a folder of the four IDX files, gzipped or not (``IDX_FILES``), the format
  in which the classic handwritten-digit and clothing image sets are
  published (unsigned bytes: images ``(N, rows, columns)``, labels ``(N,)``);
- ``debian:PACKAGE``: the IDX folder an installed Debian data-set package
  holds, found from the package's own file list (``dpkg -L PACKAGE``), so no
  install path is written in the kit.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

KEYS = ("x_train", "y_train", "x_test", "y_test")
CLASS_NAMES = "class_names"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DEBIAN = "debian:"
PYTHON = "python:"
DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")  # Debian policy 5.6.1
GZIP_MAGIC = b"\x1f\x8b"

Split = tuple[np.ndarray, np.ndarray]  # (images, labels), as many of each


@dataclass(frozen=True)
class DataSet:
    """A data file's contents: ``train`` and ``test`` are ``(images, labels)`` with one label per image (labels
    ``(N,)``, integers for sampling and naming), ``class_names`` names label ``k`` as ``class_names[k]`` (empty
    when the source names no class)."""

    train: Split
    test: Split
    class_names: tuple[str, ...] = ()


def check_class_names(names, labels: tuple[np.ndarray, ...] = (), where: str = "class_names") -> tuple[str, ...]:
    """``names`` as a tuple of strings, after checking they can name the classes of ``labels``.

    Raises:
        ValueError: ``names`` is not a 1-D sequence of distinct, non-empty
            strings, or some label has no name (labels must be integers from 0
            to ``len(names) - 1``); ``where`` starts the message.
    """
    array = np.asarray(names)
    if (
        array.ndim != 1
        or array.dtype.kind != "U"
        or not array.size
        or not all(array)
        or len(set(array.tolist())) != array.size
    ):
        raise ValueError(f"{where} should be distinct, non-empty names, one per label; found {array.tolist()!r}"[:300])
    for values in labels:
        if not values.size:
            continue
        if values.dtype.kind not in "iu" or values.min() < 0 or values.max() >= array.size:
            raise ValueError(
                f"{where} names {array.size} classes (labels 0 to {array.size - 1}), but the labels "
                f"go from {values.min()} to {values.max()}"
            )
    return tuple(array.tolist())


def with_class_names(data: DataSet, names) -> DataSet:
    """``data`` with ``names`` as its class names (checked against its labels, as ``check_class_names``)."""
    return replace(data, class_names=check_class_names(names, (data.train[1], data.test[1])))


def _checked(train: Split, test: Split, where: str) -> None:
    for what, (images, labels) in (("x_train/y_train", train), ("x_test/y_test", test)):
        if len(images) != len(labels):
            raise ValueError(f"{where}: {what} hold {len(images):,} images but {len(labels):,} labels")


def read_npz(path: str | os.PathLike) -> DataSet:
    """A Keras-layout npz file, read without pickle; arrays keep the file's dtypes and shapes.

    Raises:
        FileNotFoundError: there is no such file.
        KeyError: one of ``KEYS`` is missing (the message names them).
        ValueError: the file is not an npz (a single ``.npy`` array, or no
            zip archive), holds pickled objects (numpy's "allow_pickle"
            message), has more images than labels in a split or the other
            way round, or its ``class_names`` do not name its labels.
    """
    try:
        loaded = np.load(path, allow_pickle=False)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is not an npz file: {error}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single array, not an npz of {', '.join(KEYS)}")
    with loaded as data:
        missing = [key for key in KEYS if key not in data.files]
        if missing:
            raise KeyError(f"{path} lacks the array(s) {', '.join(missing)} of Keras' npz layout")
        arrays = {key: data[key] for key in KEYS}
        names = data[CLASS_NAMES] if CLASS_NAMES in data.files else None
    train, test = (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    _checked(train, test, str(path))
    if names is None:
        return DataSet(train, test)
    return DataSet(train, test, check_class_names(names, (train[1], test[1]), f"{path}: {CLASS_NAMES}"))


def load_npz(path: str | os.PathLike) -> tuple[Split, Split]:
    """``(x_train, y_train), (x_test, y_test)`` of a Keras-layout npz, as ``keras.datasets.*.load_data()``
    returns them (``read_npz``, whose errors it raises, without the class names)."""
    data = read_npz(path)
    return data.train, data.test


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """One IDX file of unsigned bytes, gzipped or not (told by its first bytes), as a read-only ``uint8``
    array of the shape its header gives (images ``(N, rows, columns)``, labels ``(N,)``).

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is not an IDX file of unsigned bytes, or holds
            fewer or more bytes than its header says.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    dimensions = raw[3]
    header = 4 + 4 * dimensions
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions))
    if len(raw) < header or len(raw) - header != int(np.prod(shape)):
        raise ValueError(
            f"{path}: its header gives the shape {shape}, but it holds {max(len(raw) - header, 0):,} "
            "bytes of data (a truncated or damaged file)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_folder(folder: str | os.PathLike) -> DataSet:
    """The four IDX files of ``folder`` (``IDX_FILES``, each ``NAME.gz`` or ``NAME``) as a data set of
    ``uint8`` arrays, without class names (IDX files have none).

    Raises:
        FileNotFoundError: ``folder`` is not a folder, or lacks one of the
            files (named).
        ValueError: a file is not an IDX file of unsigned bytes (``read_idx``),
            or a split has more images than labels or the other way round.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    arrays = {}
    for key, stem in IDX_FILES.items():
        found = [folder / f"{stem}{suffix}" for suffix in (".gz", "") if (folder / f"{stem}{suffix}").is_file()]
        if not found:
            raise FileNotFoundError(f"{folder} has no {stem}[.gz]")
        arrays[key] = read_idx(found[0])
    train, test = (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    _checked(train, test, str(folder))
    return DataSet(train, test)


def debian_folder(package: str) -> Path:
    """The folder of IDX files the installed Debian package ``package`` holds, wherever the package puts it:
    read from the package's own file list (``dpkg -L``).

    Raises:
        ValueError: ``package`` is not a Debian package name.
        FileNotFoundError: this machine has no ``dpkg``; the package is not
            installed (the message says ``apt install PACKAGE``); it installs
            no IDX file, or IDX files in more than one folder (named: pass
            one as the source).
    """
    if not DEBIAN_PACKAGE.match(package):
        raise ValueError(f"{package!r} is not a Debian package name (lower-case letters, digits, + - .)")
    try:
        listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{DEBIAN}{package} needs dpkg (a Debian or Ubuntu machine): give the package's "
            "folder of IDX files, or an npz, instead"
        ) from None
    if listed.returncode != 0:
        raise FileNotFoundError(f"the Debian package {package} is not installed: apt install {package}")
    images = IDX_FILES["x_train"]
    folders = sorted(
        {Path(line).parent for line in listed.stdout.splitlines() if Path(line).name in (images, f"{images}.gz")}
    )
    if not folders:
        raise FileNotFoundError(f"the Debian package {package} installs no IDX files ({images}[.gz])")
    if len(folders) > 1:
        raise FileNotFoundError(
            f"the Debian package {package} installs IDX files in {len(folders)} folders "
            f"({', '.join(map(str, folders))}): give one of them as the source"
        )
    return folders[0]


def read_source(source: str) -> DataSet:
    """The data set ``source`` names: ``debian:PACKAGE`` (``debian_folder``), ``python:MODULE:FUNCTION`` (what
    that function returns, a ``DataSet``: a course's own data, e.g. a lesson's offline sample), a folder of IDX
    files (``read_idx_folder``) or an npz file (``read_npz``); each one's errors are raised as they are.

    Raises:
        FileNotFoundError: ``source`` is none of those.
        ValueError: a ``python:`` source that is not MODULE:FUNCTION, or does not return a ``DataSet``.
    """
    if source.startswith(DEBIAN):
        return read_idx_folder(debian_folder(source[len(DEBIAN) :]))
    if source.startswith(PYTHON):
        module, _, function = source[len(PYTHON) :].partition(":")
        if not module or not function:
            raise ValueError(f"{source}: expected {PYTHON}MODULE:FUNCTION")
        import importlib

        data = getattr(importlib.import_module(module), function)()
        if not isinstance(data, DataSet):
            raise ValueError(f"{source} returned {type(data).__name__}, not a graders.course.datasets.DataSet")
        return data
    path = Path(source)
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path)
    raise FileNotFoundError(f"{source} is neither an npz file, a folder of IDX files nor {DEBIAN}PACKAGE")


def _labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:  # (N, 1), as some Keras data sets have them
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"labels of shape {labels.shape} cannot be sampled by class: expected one label per example")
    return labels


def _quotas(sizes: np.ndarray, count: int) -> np.ndarray:
    """How many of each class a sample of ``count`` takes: its share of ``count``, rounded down, and one more
    for the classes with the largest remainders (the first classes on a tie) until they add up to ``count``."""
    sizes = sizes.astype(np.int64)
    quotas, remainders = np.divmod(sizes * count, sizes.sum())
    quotas[np.argsort(-remainders, kind="stable")[: count - quotas.sum()]] += 1
    return quotas


def _stratified(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``count`` examples, each class's share at random (``_quotas``), grouped by class."""
    labels = _labels(labels)
    classes, sizes = np.unique(labels, return_counts=True)
    return np.concatenate(
        [
            rng.permutation(np.flatnonzero(labels == value))[:quota]
            for value, quota in zip(classes, _quotas(sizes, count), strict=True)
        ]
    )


def _check_count(count: int, available: int, what: str, most: int | None = None) -> None:
    most = available if most is None else most
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= most:
        raise ValueError(
            f"{count!r} {what} examples asked for, but the source has {available:,}: ask for 1 to {most:,}"
        )


def _sample(split: Split, count: int | None, rng: np.random.Generator, what: str) -> Split:
    images, labels = split
    if count is None:
        return split
    _check_count(count, len(labels), what)
    chosen = rng.permutation(_stratified(labels, count, rng))
    return images[chosen], labels[chosen]


def stratified_sample(data: DataSet, train: int | None = None, test: int | None = None, seed: int = 0) -> DataSet:
    """``train`` training and ``test`` test examples of ``data``, each class in the proportion of its labels
    (rounded as ``_quotas`` does), drawn at random and shuffled; the same for the same ``seed``. ``None`` keeps
    a split whole, as it is. Arrays keep their dtypes and the class names are kept.

    Raises:
        ValueError: a count is not a whole number from 1 to the split's size,
            or labels are not one per example.
    """
    rng = np.random.default_rng(seed)
    return replace(data, train=_sample(data.train, train, rng, "training"), test=_sample(data.test, test, rng, "test"))


def stratified_split(images: np.ndarray, labels: np.ndarray, test: int, seed: int = 0) -> tuple[Split, Split]:
    """One pool of examples split in two: ``test`` of them, each class in proportion (as
    ``stratified_sample``), as the test split and the rest as the training split, both shuffled; the same for
    the same ``seed``.

    Raises:
        ValueError: ``test`` is not a whole number from 1 to the pool's size
            less one, or labels are not one per example.
    """
    rng = np.random.default_rng(seed)
    _check_count(test, len(labels), "test", len(labels) - 1)
    test_index = _stratified(labels, test, rng)
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_index] = True
    train_index = rng.permutation(np.flatnonzero(~is_test))
    test_index = rng.permutation(test_index)
    return (images[train_index], labels[train_index]), (images[test_index], labels[test_index])


def write_npz(path: str | os.PathLike, train: Split, test: Split, class_names=()) -> Path:
    """Write a compressed Keras-layout npz at ``path`` (exactly there: no ``.npz`` is added), with
    ``class_names`` as a 1-D unicode array when given; the arrays keep their dtypes. Returns ``path``.

    Raises:
        ValueError: a split has more images than labels or the other way
            round, or ``class_names`` do not name the labels
            (``check_class_names``).
        OSError: the file cannot be written.
    """
    path = Path(path)
    _checked(train, test, str(path))
    names = {}
    if len(class_names):
        names[CLASS_NAMES] = np.array(check_class_names(class_names, (train[1], test[1])), dtype=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        np.savez_compressed(stream, x_train=train[0], y_train=train[1], x_test=test[0], y_test=test[1], **names)
    return path


def describe(data: DataSet) -> list[str]:
    """What ``data`` holds, in lines: each split's shape, dtype and examples per class, and the classes."""
    lines = []
    for what, (images, labels) in (("train", data.train), ("test", data.test)):
        values, counts = np.unique(_labels(labels), return_counts=True)
        per_class = ", ".join(f"{value}: {count:,}" for value, count in zip(values.tolist(), counts, strict=True))
        lines.append(
            f"{what}: {len(labels):,} examples, images {images.shape[1:]} {images.dtype}; per class {per_class}"
        )
    if data.class_names:
        lines.append("classes: " + ", ".join(f"{k} {name}" for k, name in enumerate(data.class_names)))
    else:
        lines.append("classes: not named")
    return lines
