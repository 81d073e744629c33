"""The offline MNIST sample and the npz layout."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from graders.lessons.mnist_cnn.data import (
    IDX_FILES,
    load_npz,
    read_idx,
    sample_digits,
    split_sample,
    write_npz,
    write_npz_from_idx,
)


def test_sample_is_real_mnist_digits_split_by_class(sample_npz):
    (train, train_labels), (test, test_labels) = load_npz(sample_npz)
    assert train.shape == (4000, 28, 28) and test.shape == (1000, 28, 28)
    assert train.dtype == test.dtype == train_labels.dtype == np.uint8
    assert 0 == train.min() and train.max() == 255
    assert np.bincount(test_labels).tolist() == [100] * 10
    assert np.bincount(train_labels).tolist() == [400] * 10
    # No image is in both sets: the test images are held out.
    train_rows = {image.tobytes() for image in train}
    assert not any(image.tobytes() in train_rows for image in test)


def test_split_is_deterministic_and_shuffled():
    images, labels = sample_digits()
    (a, _), (b, _) = split_sample(images, labels)
    (c, c_labels), (d, _) = split_sample(images, labels)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)
    assert len(set(c_labels[:20].tolist())) > 3, "training digits should not be sorted by class"


def test_npz_without_the_keras_keys_is_rejected(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28)))
    with pytest.raises(KeyError, match="lacks the array.* y_train, x_test, y_test"):
        load_npz(path)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    arrays = (np.array([{"a": 1}], dtype=object), np.zeros(1))
    path = write_npz(tmp_path / "pickled.npz", arrays, arrays)
    with pytest.raises(ValueError, match="allow_pickle"):
        load_npz(path)


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_become_a_keras_npz(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (6, 28, 28)), "y_train": rng.integers(0, 10, 6),
              "x_test": rng.integers(0, 256, (3, 28, 28)), "y_test": rng.integers(0, 10, 3)}
    for key, stem in IDX_FILES.items():
        write_idx(tmp_path / f"{stem}.gz", arrays[key])
    (x_train, y_train), (x_test, y_test) = load_npz(write_npz_from_idx(tmp_path, tmp_path / "out.npz"))
    for key, array in zip(IDX_FILES, (x_train, y_train, x_test, y_test), strict=True):
        assert array.dtype == np.uint8 and np.array_equal(array, arrays[key])
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / f"{IDX_FILES['y_test']}.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels"):
        write_npz_from_idx(tmp_path, tmp_path / "out2.npz")
