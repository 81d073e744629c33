"""Export the objects under test from the kernel, and load them safely.

The export code runs inside the student's kernel after each test cell and at
the end, writing only what changed: ``NAME.keras`` for models, ``NAME.npy`` for
arrays, ``answers.json`` for the ``q_`` answers and ``histories.json`` for the
training curves ``model.fit`` returned (for the feedback's plots). Whatever the kernel wrote is
untrusted: models load with ``safe_mode=True`` (no Lambda code), arrays
without pickle, answers as plain JSON scalars.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODELS = ("model", "dense_model")
ARRAYS = ("train_images", "test_images")
ANSWER_PREFIX = "q_"
HISTORIES = {"history": "model", "dense_history": "dense_model"}  # fit's History -> the model it trained
MAX_EPOCHS = 1000
MAX_JSON_BYTES = 1 << 20

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
    for name in arrays:
        value = globals().get(name)
        if isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf":
            key = (id(value), value.shape, str(value.dtype), float(value.ravel()[::9973].sum()))
            if state.get(name) != key:
                numpy.save(os.path.join(folder, name + ".npy"), value, allow_pickle=False)
                state[name] = key
    for name in models:
        value = globals().get(name)
        if hasattr(value, "save") and hasattr(value, "layers"):
            iterations = getattr(getattr(value, "optimizer", None), "iterations", None)
            steps = int(iterations.numpy()) if iterations is not None else -1
            key = (id(value), steps, len(value.layers))
            if state.get(name) != key:
                value.save(os.path.join(folder, name + ".keras"))
                state[name] = key
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


@dataclass
class Exports:
    """The objects under test, loaded in the grader's process, with why any is missing."""

    models: dict[str, object] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    answers: dict[str, object] = field(default_factory=dict)
    histories: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)  # model -> metric -> epochs
    problems: dict[str, str] = field(default_factory=dict)

    def get(self, name: str):
        """The exported object, or an AssertionError saying why there is none."""
        for store in (self.models, self.arrays, self.answers):
            if name in store:
                return store[name]
        raise AssertionError(self.problems.get(name, f"`{name}` was not defined when the notebook finished"))


def load_model_safely(path: Path):
    """A ``.keras`` file loaded without running any code it carries."""
    import keras

    return keras.saving.load_model(path, compile=False, safe_mode=True)


def load_exports(folder: Path) -> Exports:
    """Load everything the kernel exported, recording each failure."""
    exports = Exports()
    for name in MODELS:
        path = folder / f"{name}.keras"
        if path.is_file():
            try:
                exports.models[name] = load_model_safely(path)
            except Exception as error:  # noqa: BLE001 (any failure is the submission's)
                exports.problems[name] = (f"`{name}` could not be loaded safely ({type(error).__name__}: "
                                          f"{str(error).splitlines()[0][:300] if str(error) else ''}); "
                                          "Lambda layers and custom classes are not allowed")
    for name in ARRAYS:
        path = folder / f"{name}.npy"
        if path.is_file():
            try:
                exports.arrays[name] = np.load(path, allow_pickle=False)
            except (ValueError, OSError) as error:
                exports.problems[name] = f"`{name}` could not be read as a numeric array ({error})"
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
