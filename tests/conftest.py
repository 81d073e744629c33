"""Shared fixtures: the offline MNIST sample and small Keras models."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from graders.lessons.mnist_cnn.data import ENV_VAR, write_sample_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def sample_npz(tmp_path_factory) -> Path:
    """The 5,000-digit sample written once per session in Keras' npz layout."""
    return write_sample_npz(tmp_path_factory.mktemp("data") / "mnist.npz")


@pytest.fixture
def provisioned(sample_npz, monkeypatch) -> Path:
    """``MNIST_NPZ`` pointing at the sample for one test."""
    monkeypatch.setenv(ENV_VAR, str(sample_npz))
    return sample_npz


def cnn_layers(padding: str = "valid", filters: tuple[int, int, int] = (32, 64, 128), extra=(), drop_pool2=False,
               head_activation: str = "softmax") -> list:
    """The lesson's CNN layers with optional mistakes (no Input)."""
    stack = [
        layers.Conv2D(filters[0], 3, activation="relu", padding=padding),
        layers.MaxPooling2D(2),
        layers.Conv2D(filters[1], 3, activation="relu", padding=padding),
    ]
    if not drop_pool2:
        stack.append(layers.MaxPooling2D(2))
    stack += [layers.Conv2D(filters[2], 3, activation="relu", padding=padding), layers.Flatten(), *extra,
              layers.Dense(10, activation=head_activation)]
    return stack


def sequential(stack: list) -> keras.Model:
    return keras.Sequential([keras.Input(shape=(28, 28, 1)), *stack])


def functional(stack: list) -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for layer in stack:
        x = layer(x)
    return keras.Model(inputs, x)


def dense_layers(widths: tuple[int, ...] = (512, 256, 128)) -> list:
    hidden = [layers.Dense(width, activation="relu") for width in widths]
    return [layers.Flatten(), *hidden, layers.Dense(10, activation="softmax")]


@pytest.fixture(scope="session")
def graded_courses(tmp_path_factory, sample_npz):
    """The samples graded by stock nbgrader and, with broken, hostile and real-world submissions, by
    ``graders autograde`` (see ``graded_courses.py``), into sqlite gradebooks. Tests may add feedback and
    exports to these courses; a test that changes a submission or a grade works on a copy."""
    from graded_courses import grade_both

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GRADERS_DB_URL", raising=False)
        return grade_both(tmp_path_factory.mktemp("graded"), sample_npz)
