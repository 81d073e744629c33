"""Export the objects under test from the kernel, and load them safely.

The export code runs inside the student's kernel after each test cell and at
the end, writing only what changed: ``NAME.keras`` for models, ``NAME.npy`` for
arrays, ``answers.json`` for the ``q_`` answers. Whatever the kernel wrote is
untrusted: models load with ``safe_mode=True`` (no Lambda code), arrays
without pickle, answers as plain JSON scalars.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODELS = ("model", "dense_model")
ARRAYS = ("train_images", "test_images")
ANSWER_PREFIX = "q_"

EXPORT_CODE = '''
def __graders_export(folder={folder!r}, models={models!r}, arrays={arrays!r}):
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
try:
    __graders_export()
except Exception as error:
    print("graders: export failed:", type(error).__name__, error)
'''


def export_code(folder: Path) -> str:
    """The code of an export cell writing into ``folder``."""
    return EXPORT_CODE.format(folder=str(folder), models=MODELS, arrays=ARRAYS, prefix=ANSWER_PREFIX).strip()


@dataclass
class Exports:
    """The objects under test, loaded in the grader's process, with why any is missing."""

    models: dict[str, object] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    answers: dict[str, object] = field(default_factory=dict)
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
            answers = json.loads(path.read_text())
        except (ValueError, OSError) as error:
            exports.problems["answers"] = f"the answers could not be read ({error})"
        else:
            if isinstance(answers, dict):
                exports.answers = {
                    str(key): value for key, value in answers.items()
                    if str(key).startswith(ANSWER_PREFIX) and isinstance(value, (bool, int, float, str))
                }
    return exports
