"""Export the objects under test from the kernel, and load them safely.

The export code runs inside the student's kernel after each test cell and at
the end, writing only what changed: ``NAME.keras`` for models, ``NAME.npy`` for
arrays (array-likes too: a TensorFlow tensor or a list is written as its
values, and ``arrays.json`` names its type, so the checks can say "a
TensorFlow tensor, not a NumPy array" without losing its values),
``answers.json`` for the ``q_`` answers and ``histories.json`` for the
training curves ``model.fit`` returned (for the feedback's plots). Whatever
the kernel wrote is untrusted: models load with ``safe_mode=True`` (no Lambda
code; a TensorFlow activation that Keras saved as a plain function, like
``tf.nn.softmax``, is read as the built-in activation it equals, by name,
from an allow-list), arrays without pickle, answers as plain JSON scalars.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graders.selfcheck import TF_ACTIVATIONS, type_in_words

MODELS = ("model", "dense_model")
ARRAYS = ("train_images", "test_images")
ANSWER_PREFIX = "q_"
HISTORIES = {"history": "model", "dense_history": "dense_model"}  # fit's History -> the model it trained
MAX_EPOCHS = 1000
MAX_JSON_BYTES = 1 << 20
MAX_TYPE_NAME = 200
MAX_CONFIG_BYTES = 8 << 20  # a .keras file's config.json; the lesson's models need a few kilobytes

EXPORT_CODE = '''
def __graders_export(folder={folder!r}, models={models!r}, arrays={arrays!r}, histories={histories!r}):
    import json, os
    import numpy
    state = globals().setdefault("__graders_exported", {{}})
    answers = {{}}
    for name, value in list(globals().items()):
        if name.startswith({prefix!r}) and isinstance(value, (bool, int, float, str, numpy.generic)):
            answers[name] = value.item() if isinstance(value, numpy.generic) else value
    with open(os.path.join(folder, "answers.json"), "w") as file:
        json.dump(answers, file)
    for name in models:
        value = globals().get(name)
        if hasattr(value, "save") and hasattr(value, "layers"):
            iterations = getattr(getattr(value, "optimizer", None), "iterations", None)
            steps = int(iterations.numpy()) if iterations is not None else -1
            key = (id(value), steps, len(value.layers))
            if state.get(name) != key:
                value.save(os.path.join(folder, name + ".keras"))
                state[name] = key
    kinds = {{}}
    for name in arrays:  # each on its own: an array that cannot be converted costs only itself
        try:
            value = globals().get(name)
            if not isinstance(value, numpy.ndarray):
                if not (isinstance(value, (list, tuple, memoryview)) or hasattr(value, "__array__")):
                    continue
                kinds[name] = type(value).__module__ + "." + type(value).__qualname__
                value = value.numpy() if callable(getattr(value, "numpy", None)) else numpy.asarray(value)
            if not isinstance(value, numpy.ndarray) or value.dtype.kind not in "biuf":
                continue
            key = (kinds.get(name), value.shape, str(value.dtype), float(value.ravel()[::9973].sum()),
                   float(value.ravel()[-1]) if value.size else 0.0)
            if state.get(name) != key:
                numpy.save(os.path.join(folder, name + ".npy"), value, allow_pickle=False)
                state[name] = key
        except Exception as error:
            print("graders: export of", name, "failed:", type(error).__name__, error)
            state[name] = None
            if os.path.exists(os.path.join(folder, name + ".npy")):
                os.remove(os.path.join(folder, name + ".npy"))
    with open(os.path.join(folder, "arrays.json"), "w") as file:
        json.dump(kinds, file)
    try:  # last, and on its own: the feedback's curves must never cost an export that is scored
        curves, numbers = {{}}, (int, float, numpy.floating)
        for name in histories:
            logs = getattr(globals().get(name), "history", None)
            if isinstance(logs, dict):
                curves[name] = {{str(key): [float(v) for v in values[:{max_epochs}]] for key, values in logs.items()
                                if isinstance(values, list) and all(isinstance(v, numbers) for v in values)}}
        with open(os.path.join(folder, "histories.json"), "w") as file:
            json.dump(curves, file)
    except Exception:
        pass
try:
    __graders_export()
except Exception as error:
    print("graders: export failed:", type(error).__name__, error)
'''


def export_code(folder: Path) -> str:
    """The code of an export cell writing into ``folder``."""
    return EXPORT_CODE.format(folder=str(folder), models=MODELS, arrays=ARRAYS, prefix=ANSWER_PREFIX,
                              histories=tuple(HISTORIES), max_epochs=MAX_EPOCHS).strip()


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


@dataclass
class Exports:
    """The objects under test, loaded in the grader's process, with why any is missing."""

    models: dict[str, object] = field(default_factory=dict)
    arrays: dict[str, np.ndarray | ArrayLike] = field(default_factory=dict)
    answers: dict[str, object] = field(default_factory=dict)
    histories: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)  # model -> metric -> epochs
    problems: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # how something was read, for the results' output

    def get(self, name: str):
        """The exported object, or an AssertionError saying why there is none."""
        for store in (self.models, self.arrays, self.answers):
            if name in store:
                return store[name]
        raise AssertionError(self.problems.get(name, f"`{name}` was not defined when the notebook finished"))


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
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                    raise ValueError("config.json is too large")
                config = json.loads(archive.read("config.json"))
                rewritten = _with_builtin_activations(config, found)
                if found:  # a copy with the new config.json; the weights are streamed, never held whole
                    path = Path(folder) / path.name
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


def load_exports(folder: Path) -> Exports:
    """Load everything the kernel exported, recording each failure."""
    exports = Exports()
    for name in MODELS:
        path = folder / f"{name}.keras"
        if path.is_file():
            try:
                exports.models[name], notes = load_model_safely(path)
                exports.notes.extend(f"`{name}`: {note}" for note in notes)
            except Exception as error:  # noqa: BLE001 (any failure is the submission's)
                exports.problems[name] = (f"`{name}` could not be loaded safely: {type(error).__name__}: "
                                          f"{str(error).splitlines()[0][:400] if str(error) else ''}")
    kinds = _read_array_kinds(folder / "arrays.json")
    for name in ARRAYS:
        path = folder / f"{name}.npy"
        if name in kinds and not path.is_file():
            exports.problems[name] = (f"`{name}` is {type_in_words(kinds[name])} whose values could not be read as "
                                      "one array of numbers (one image per label, all of one shape)")
        if path.is_file():
            try:
                values = np.load(path, allow_pickle=False)
            except (ValueError, OSError) as error:
                exports.problems[name] = f"`{name}` could not be read as a numeric array ({error})"
            else:
                exports.arrays[name] = ArrayLike(values, kinds[name]) if name in kinds else values
    path = folder / "answers.json"
    if path.is_file():
        try:
            answers = read_small_json(path)
        except (ValueError, OSError, RecursionError) as error:
            exports.problems["answers"] = f"the answers could not be read ({error})"
        else:
            if isinstance(answers, dict):
                exports.answers = {
                    str(key): value for key, value in answers.items()
                    if str(key).startswith(ANSWER_PREFIX) and isinstance(value, (bool, int, float, str))
                }
    exports.histories = _read_histories(folder / "histories.json")
    return exports


def _read_array_kinds(path: Path) -> dict[str, str]:
    """The kernel's type name of each array that was not a NumPy array (``arrays.json``)."""
    try:
        found = read_small_json(path) if path.is_file() else {}
    except (ValueError, OSError, RecursionError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(name): value[:MAX_TYPE_NAME] for name, value in found.items()
            if name in ARRAYS and isinstance(value, str)}


def read_small_json(path: Path, limit: int = MAX_JSON_BYTES):
    """A JSON file the kernel wrote: refused when over ``limit`` bytes (ValueError)."""
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"{path.name} is {size:,} bytes, more than {limit:,}")
    return json.loads(path.read_text())


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None  # NaN and infinity are not JSON: a gap in the curve


def _read_histories(path: Path) -> dict[str, dict[str, list[float | None]]]:
    """Training curves by model name, numbers only (NaN as None); anything else in the file is dropped."""
    try:
        found = read_small_json(path) if path.is_file() else {}
    except (ValueError, OSError, RecursionError):
        return {}
    curves = {}
    for name, model in HISTORIES.items():
        logs = found.get(name) if isinstance(found, dict) else None
        if isinstance(logs, dict):
            curves[model] = {str(metric)[:40]: [_finite(v) for v in values[:MAX_EPOCHS]]
                             for metric, values in list(logs.items())[:10]
                             if isinstance(values, list)
                             and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)}
    return curves
