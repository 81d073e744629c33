"""Data files in Keras' npz layout: the offline MNIST sample, IDX files, stratified samples, class names."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import numpy as np
import pytest

from graders.cli import main
from graders.course.datasets import (
    IDX_FILES,
    DataSet,
    debian_folder,
    describe,
    load_npz,
    read_idx,
    read_idx_folder,
    read_npz,
    read_source,
    stratified_sample,
    stratified_split,
    with_class_names,
    write_npz,
)
from graders.lessons.mnist_cnn.data import sample_digits

FASHION = "dataset-fashion-mnist"  # Debian's package of Fashion-MNIST's IDX files (60,000/10,000)
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
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
    assert read_npz(sample_npz).class_names == ()  # the digits are their own names


def test_split_is_deterministic_and_shuffled():
    images, labels = sample_digits()
    (a, _), (b, _) = stratified_split(images, labels, test=1000)
    (c, c_labels), (d, _) = stratified_split(images, labels, test=1000)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)
    assert len(set(c_labels[:20].tolist())) > 3, "training digits should not be sorted by class"
    with pytest.raises(ValueError, match="5000 test examples asked for, but the source has 5,000: ask for 1 to 4,999"):
        stratified_split(images, labels, test=5000)


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


def test_files_that_are_not_a_keras_npz_are_named(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match="holds a single array, not an npz of x_train"):
        read_npz(tmp_path / "one.npy")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="is not an npz file"):
        read_npz(tmp_path / "broken.npz")
    np.savez(
        tmp_path / "uneven.npz",
        x_train=np.zeros((3, 2)),
        y_train=np.zeros(2),
        x_test=np.zeros((1, 2)),
        y_test=np.zeros(1),
    )
    with pytest.raises(ValueError, match="x_train/y_train hold 3 images but 2 labels"):
        read_npz(tmp_path / "uneven.npz")


def write_idx(path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes as the format defines it (magic 0 0 8 ndim, big-endian sizes, data),
    gzipped when ``path`` ends in ``.gz``: written here, independently of the reader under test."""
    content = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    content += array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)


def small_real_split(sample_npz) -> DataSet:
    """300 training and 100 test images of the real MNIST sample."""
    (x_train, y_train), (x_test, y_test) = load_npz(sample_npz)
    return DataSet((x_train[:300], y_train[:300]), (x_test[:100], y_test[:100]))


def write_idx_folder(folder, data: DataSet) -> None:
    arrays = {"x_train": data.train[0], "y_train": data.train[1], "x_test": data.test[0], "y_test": data.test[1]}
    folder.mkdir(exist_ok=True)
    for key, stem in IDX_FILES.items():
        write_idx(folder / (f"{stem}.gz" if key.endswith("_train") else stem), arrays[key])  # gzipped and plain


def test_idx_files_of_real_digits_round_trip_through_a_keras_npz(tmp_path, sample_npz):
    data = small_real_split(sample_npz)
    write_idx_folder(tmp_path / "idx", data)
    assert read_idx(tmp_path / "idx" / "t10k-images-idx3-ubyte").shape == (100, 28, 28)
    read = read_idx_folder(tmp_path / "idx")
    for expected, found in zip((*data.train, *data.test), (*read.train, *read.test), strict=True):
        assert found.dtype == np.uint8 and np.array_equal(found, expected)
    assert read.class_names == ()
    digits = tuple(f"digit {k}" for k in range(10))
    path = write_npz(tmp_path / "digits", read.train, read.test, digits)  # exactly the name given: no .npz added
    assert path.name == "digits" and path.is_file()
    again = read_npz(path)
    assert again.class_names == digits and np.array_equal(again.train[0], data.train[0])
    with np.load(path, allow_pickle=False) as stored:
        assert stored["class_names"].dtype.kind == "U" and stored["class_names"].shape == (10,)


def test_broken_idx_files_are_named(tmp_path, sample_npz):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / "tiny").write_bytes(b"\0\0")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "tiny")
    data = small_real_split(sample_npz)
    write_idx_folder(tmp_path / "idx", data)
    labels = tmp_path / "idx" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"header gives the shape \(100,\), but it holds 90 bytes"):
        read_idx_folder(tmp_path / "idx")
    labels.unlink()
    with pytest.raises(FileNotFoundError, match="has no t10k-labels-idx1-ubyte"):
        read_idx_folder(tmp_path / "idx")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        read_idx_folder(tmp_path / "missing")


def uneven_digits(sample_npz) -> DataSet:
    """Real digits in uneven classes: class k has 20 + 30 k training and 5 + 5 k test images."""
    (x_train, y_train), (x_test, y_test) = load_npz(sample_npz)
    train = np.concatenate([np.flatnonzero(y_train == k)[: 20 + 30 * k] for k in range(10)])
    test = np.concatenate([np.flatnonzero(y_test == k)[: 5 + 5 * k] for k in range(10)])
    return DataSet((x_train[train], y_train[train]), (x_test[test], y_test[test]))


def test_a_stratified_sample_keeps_each_class_in_proportion_and_is_seeded(sample_npz):
    data = uneven_digits(sample_npz)
    sample = stratified_sample(data, train=400, test=77, seed=3)
    for (images, labels), (_, all_labels), count in ((sample.train, data.train, 400), (sample.test, data.test, 77)):
        assert len(images) == len(labels) == count and images.dtype == labels.dtype == np.uint8
        share = np.bincount(all_labels) * count / len(all_labels)
        assert np.all(np.abs(np.bincount(labels, minlength=10) - share) < 1), "each class its share, rounded"
        assert len(set(labels[:10].tolist())) > 3, "shuffled, not sorted by class"
        # Distinct images of the source's, each with its own label.
        source = dict(
            zip(
                map(np.ndarray.tobytes, np.concatenate([data.train[0], data.test[0]])),
                np.concatenate([data.train[1], data.test[1]]),
                strict=True,
            )
        )
        assert len({image.tobytes() for image in images}) == count
        assert all(source[image.tobytes()] == label for image, label in zip(images, labels, strict=True))
    again = stratified_sample(data, train=400, test=77, seed=3)
    assert all(
        np.array_equal(a, b) for a, b in zip((*sample.train, *sample.test), (*again.train, *again.test), strict=True)
    )
    other = stratified_sample(data, train=400, test=77, seed=4)
    assert not np.array_equal(other.train[0], sample.train[0])
    whole = stratified_sample(data, test=10)  # no count: the split as it is
    assert whole.train[0] is data.train[0] and len(whole.test[1]) == 10


@pytest.mark.parametrize(
    ("train", "test", "message"),
    [
        (1651, None, "1651 training examples asked for, but the source has 1,550: ask for 1 to 1,550"),
        (None, 276, "276 test examples asked for, but the source has 275: ask for 1 to 275"),
        (0, None, "0 training examples asked for"),
        (-5, None, "-5 training examples asked for"),
    ],
)
def test_a_sample_larger_than_the_source_is_refused(sample_npz, train, test, message):
    with pytest.raises(ValueError, match=message):
        stratified_sample(uneven_digits(sample_npz), train, test)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["0", "1", "2"], r"names 3 classes \(labels 0 to 2\), but the labels go from 0 to 9"),
        ([f"c{k}" for k in range(9)] + ["c0"], "should be distinct, non-empty names"),
        ([f"c{k}" for k in range(9)] + [""], "should be distinct, non-empty names"),
        ([], "should be distinct, non-empty names"),
        ([[f"c{k}"] for k in range(10)], "should be distinct, non-empty names"),
    ],
)
def test_class_names_must_name_every_label(sample_npz, names, message):
    data = small_real_split(sample_npz)
    with pytest.raises(ValueError, match=message):
        with_class_names(data, names)
    assert with_class_names(data, FASHION_CLASSES[::-1]).class_names[0] == "Ankle boot"


def test_describe_counts_each_split_by_class(sample_npz):
    lines = describe(with_class_names(small_real_split(sample_npz), FASHION_CLASSES))
    assert lines[0].startswith("train: 300 examples, images (28, 28) uint8; per class 0: ")
    assert lines[1].startswith("test: 100 examples")
    assert lines[2].startswith("classes: 0 T-shirt/top, 1 Trouser,")


def dpkg_lists(package: str) -> bool:
    if shutil.which("dpkg") is None:
        return False
    return subprocess.run(["dpkg", "-L", package], capture_output=True).returncode == 0


@pytest.mark.skipif(not dpkg_lists(FASHION), reason=f"Debian's {FASHION} is not installed (apt install {FASHION})")
def test_a_debian_package_is_found_by_its_file_list():
    folder = debian_folder(FASHION)
    assert sorted(path.name for path in folder.iterdir() if "idx" in path.name) == sorted(
        f"{stem}.gz" for stem in IDX_FILES.values()
    )
    data = read_source(f"debian:{FASHION}")
    assert data.train[0].shape == (60000, 28, 28) and data.test[0].shape == (10000, 28, 28)
    assert np.bincount(data.test[1]).tolist() == [1000] * 10 and data.train[0].dtype == np.uint8


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian machine: no dpkg")
def test_a_debian_package_that_is_not_installed_says_how_to_install_it():
    with pytest.raises(FileNotFoundError, match="graders-no-such-data is not installed: apt install graders-no-such"):
        debian_folder("graders-no-such-data")
    with pytest.raises(FileNotFoundError, match="installs no IDX files"):
        debian_folder("dpkg")
    with pytest.raises(ValueError, match="is not a Debian package name"):
        debian_folder("Fashion MNIST")


def test_a_source_that_is_none_of_the_three_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither an npz file, a folder of IDX files nor debian:PACKAGE"):
        read_source(str(tmp_path / "nothing"))


DIGITS = ",".join(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))


def test_graders_data_write_samples_an_npz_by_class(tmp_path, sample_npz):
    output = tmp_path / "course" / "data" / "digits.npz"
    command = [sys.executable, "-m", "graders", "data", "write", str(output), "--from", str(sample_npz)]
    arguments = ["--train", "1000", "--test", "200", "--seed", "1", "--classes", DIGITS]
    process = subprocess.run([*command, *arguments], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines() == [
        f"wrote {output} (Keras' npz layout) from {sample_npz}, a stratified sample (seed 1)",
        "  train: 1,000 examples, images (28, 28) uint8; per class " + ", ".join(f"{k}: 100" for k in range(10)),
        "  test: 200 examples, images (28, 28) uint8; per class " + ", ".join(f"{k}: 20" for k in range(10)),
        "  classes: " + ", ".join(f"{k} {name}" for k, name in enumerate(DIGITS.split(","))),
    ]
    data = read_npz(output)
    assert data.class_names == tuple(DIGITS.split(",")) and data.train[0].dtype == np.uint8
    assert np.bincount(data.test[1]).tolist() == [20] * 10
    again = subprocess.run([*command, *arguments], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and np.array_equal(read_npz(output).train[0], data.train[0]), "same seed, same file"


def test_graders_data_write_converts_an_idx_folder_whole(tmp_path, sample_npz, capsys):
    data = small_real_split(sample_npz)
    write_idx_folder(tmp_path / "idx", data)
    assert main(["data", "write", str(tmp_path / "out.npz"), "--from", str(tmp_path / "idx")]) == 0
    written = read_npz(tmp_path / "out.npz")
    assert all(
        np.array_equal(a, b) for a, b in zip((*written.train, *written.test), (*data.train, *data.test), strict=True)
    )
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tmp_path / 'out.npz'} (Keras' npz layout) from {tmp_path / 'idx'}\n")
    assert "train: 300 examples" in out and "classes: not named" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "{tmp}/nothing"], "nothing is neither an npz file, a folder of IDX files nor debian:PACKAGE"),
        (["--from", "{sample}", "--train", "4001"], "4001 training examples asked for, but the source has 4,000"),
        (["--from", "{sample}", "--test", "0"], "0 test examples asked for"),
        (["--from", "{sample}", "--classes", "a,b"], "class_names names 2 classes (labels 0 to 1), but the labels"),
        (["--from", "{sample}", "--classes", DIGITS + ",zero"], "class_names should be distinct, non-empty names"),
        (["--from", "{tmp}"], "has no train-images-idx3-ubyte[.gz]"),
        (["--from", "{tmp}/bad.npz"], "bad.npz lacks the array(s) y_train, x_test, y_test of Keras' npz layout"),
        (["--from", "debian:Not A Package"], "'Not A Package' is not a Debian package name"),
    ],
)
def test_graders_data_write_refuses_bad_input_in_one_line(tmp_path, sample_npz, capsys, arguments, message):
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((1, 28, 28)))
    arguments = [argument.format(tmp=tmp_path, sample=sample_npz) for argument in arguments]
    assert main(["data", "write", str(tmp_path / "out.npz"), *arguments]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("graders data write: ") and message in captured.err
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian machine: no dpkg")
def test_graders_data_write_names_the_debian_package_to_install(tmp_path, capsys):
    assert main(["data", "write", str(tmp_path / "out.npz"), "--from", "debian:graders-no-such-data"]) == 2
    assert capsys.readouterr().err == (
        "graders data write: the Debian package graders-no-such-data is not installed: "
        "apt install graders-no-such-data\n"
    )


@pytest.mark.skipif(not dpkg_lists(FASHION), reason=f"Debian's {FASHION} is not installed (apt install {FASHION})")
def test_graders_data_write_samples_a_debian_package(tmp_path, capsys):
    output = tmp_path / "fashion.npz"
    classes = ",".join(FASHION_CLASSES)
    arguments = ["--from", f"debian:{FASHION}", "--train", "600", "--test", "100", "--classes", classes]
    assert main(["data", "write", str(output), *arguments]) == 0
    assert "classes: 0 T-shirt/top, 1 Trouser," in capsys.readouterr().out
    data = read_npz(output)
    assert np.bincount(data.train[1]).tolist() == [60] * 10 and np.bincount(data.test[1]).tolist() == [10] * 10
    assert data.class_names == FASHION_CLASSES and data.train[0].shape == (600, 28, 28)
