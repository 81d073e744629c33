"""Read what the student's kernel wrote, safely: Keras models and arrays that were not NumPy's.

A ``.keras`` file loads with ``safe_mode=True`` (no Lambda code; a TensorFlow
activation that Keras saved as a plain function, like ``tf.nn.softmax``, is
read as the built-in activation it equals, by name, from an allow-list); an
array-like that is neither NumPy's nor TensorFlow's comes back as an
:class:`ArrayLike`, its values with the name of the type it had; JSON files
are size-limited.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graders.architecture import TF_ACTIVATIONS, type_in_words

MAX_JSON_BYTES = 1 << 20
MAX_CONFIG_BYTES = 8 << 20  # a .keras file's config.json; the lesson's models need a few kilobytes


@dataclass(frozen=True, eq=False)
class ArrayLike:
    """An array the kernel held as another type (a TensorFlow tensor, a list): its values and that type's name.

    Like the kernel's object, it is not a NumPy array, so a check that asks
    for one fails; ``numpy.asarray`` gives the values, for the checks that
    judge them.
    """

    values: np.ndarray
    type_name: str  # module and qualified name in the kernel, e.g. "tensorflow.python.framework.ops.EagerTensor"

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype


def kind_of(value) -> str:
    """A value's type in words, as it was in the student's kernel (an ``ArrayLike`` says what it was there)."""
    if value is None:
        return "None"
    if isinstance(value, ArrayLike):
        return type_in_words(value.type_name)
    return type_in_words(f"{type(value).__module__}.{type(value).__qualname__}")


def _with_builtin_activations(config, found: set[str]):
    """``config`` with each allow-listed TensorFlow function Keras saved by name replaced by its Keras name.

    Keras 3 saves ``tf.nn.softmax`` as ``{"class_name": "function", "config":
    "softmax_v2", "module": "builtins"}``, which ``safe_mode`` refuses to
    load; ``TF_ACTIVATIONS`` maps such names to the built-in activation with
    the same definition. Nothing is imported or run: it is a rewrite of JSON.
    """
    if isinstance(config, dict):
        if config.get("class_name") == "function" and config.get("module") == "builtins" \
                and config.get("config") in TF_ACTIVATIONS:
            found.add(config["config"])
            return TF_ACTIVATIONS[config["config"]]
        return {key: _with_builtin_activations(value, found) for key, value in config.items()}
    if isinstance(config, list):
        return [_with_builtin_activations(value, found) for value in config]
    return config


def _unsafe_parts(config, where: str = "") -> list[str]:
    """What in a model's saved configuration ``safe_mode`` refuses, in words (Lambda layers, functions, classes)."""
    found = []
    if isinstance(config, dict):
        layer = config.get("config", {}).get("name") if isinstance(config.get("config"), dict) else None
        here = f"layer `{layer}`" if layer and config.get("class_name") else where
        class_name, module = config.get("class_name"), config.get("module")
        if class_name == "Lambda":
            found.append(f"{here} is a Lambda layer (it carries Python code)")
        elif class_name == "function" or isinstance(config.get("value"), list):  # a named function, or a lambda
            function = f"the Python function `{config['config']}`" if isinstance(config.get("config"), str) \
                else "a lambda function"
            found.append(f"{here} uses {function} where Keras expects a built-in name, e.g. activation=\"relu\"")
        elif isinstance(class_name, str) and config.get("registered_name") and not str(module).startswith("keras"):
            origin = f" (from `{module}`)" if module else ""
            found.append(f"{here} is of the custom class `{class_name}`{origin}, not a Keras layer")
        for value in config.values():
            found.extend(_unsafe_parts(value, here))
    elif isinstance(config, list):
        for value in config:
            found.extend(_unsafe_parts(value, where))
    return found


def load_model_safely(path: Path) -> tuple[object, list[str]]:
    """A ``.keras`` file loaded without running any code it carries, and notes on how it was read.

    Returns the model and one note per TensorFlow activation read as its
    Keras built-in (see ``_with_builtin_activations``).

    Raises:
        ValueError: the file cannot be loaded safely; the message names the
            cause (a Lambda layer, a Python function, a custom class) when
            the saved configuration shows it.
        Any error of ``keras.saving.load_model`` for a damaged file.
    """
    import keras

    found: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="graders-model-") as folder:
        private = Path(folder) / "submitted.keras"  # a private copy: the kernel's file may change or be a link
        with open_written(path) as source, open(private, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        path = private
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                    raise ValueError("config.json is too large")
                config = json.loads(archive.read("config.json"))
                rewritten = _with_builtin_activations(config, found)
                if found:  # a copy with the new config.json; the weights are streamed, never held whole
                    path = Path(folder) / "rewritten.keras"
                    with zipfile.ZipFile(path, "w") as copy:
                        for item in archive.infolist():
                            if item.filename == "config.json":
                                copy.writestr(item, json.dumps(rewritten))
                                continue
                            with archive.open(item) as source, copy.open(item, "w") as target:
                                shutil.copyfileobj(source, target, 1 << 20)
        except (zipfile.BadZipFile, KeyError, ValueError, RecursionError):
            config = None  # not a .keras archive as Keras writes it: Keras' own error says why
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:
            causes = _unsafe_parts(config) if config is not None else []
            if causes:
                raise ValueError("; ".join(dict.fromkeys(causes))) from error
            raise
    notes = [f"the function `{name}` (TensorFlow's name for Keras' \"{TF_ACTIVATIONS[name]}\") was read as "
             f"activation=\"{TF_ACTIVATIONS[name]}\"" for name in sorted(found)]
    return model, notes


def open_written(path: Path):
    """A file the kernel wrote, opened for reading only if it is a regular file and no link (``O_NOFOLLOW``):
    as root, a link planted in the sandbox must not lead the grader to another submission's files.

    Raises:
        OSError: it is a link, missing, or not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return os.fdopen(fd, "rb")


def read_small_json(path: Path, limit: int = MAX_JSON_BYTES):
    """A JSON file the kernel wrote: refused when over ``limit`` bytes (ValueError) or not a regular file (OSError)."""
    with open_written(path) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path.name} is more than {limit:,} bytes")
    return json.loads(data)


def create_for_kernel(path: Path):
    """A new file for the kernel to read, never through a link the kernel planted there (``O_EXCL | O_NOFOLLOW``).

    Raises:
        FileExistsError: something already has that name.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    return os.fdopen(fd, "wb")
