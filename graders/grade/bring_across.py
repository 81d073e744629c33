"""The checker's side of bringing objects across: rebuild what the kernel described, safely.

``kernel_bridge`` describes the objects a test cell reads; here they become
objects of the checker's own process: Keras models loaded with
``safe_mode=True``, arrays without pickle (a TensorFlow tensor again as a
tensor, other array-likes as :class:`graders.grade.export.ArrayLike`), plain data
from JSON, ``History`` objects with their curves, modules and library
functions imported by name. Whatever else the student made (functions,
classes, objects) stays in the kernel: a :class:`Remote` stands for it, and
calling it, or reading one of its attributes, runs in the kernel, where only
plain data comes back (the result, or the exception's built-in type and
message). A ``Remote`` cannot be compared, tested for truth, iterated or
added: an object whose ``__eq__`` always answers True stays in the kernel and
cannot answer the checker.
"""

from __future__ import annotations

import base64
import builtins
import importlib
import inspect
import itertools
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graders.grade.export import ArrayLike, create_for_kernel, load_model_safely, open_written, read_small_json
from graders.grade.kernel_bridge import rebuild_plain

MAX_DESCRIPTION_BYTES = 64 << 20


ARGUMENT_FILES = itertools.count(1)


class NotBroughtAcross(Exception):
    """An object the checker cannot have; the message names it and says why."""


class Unavailable:
    """Stands for a name whose object could not be brought across: any use fails with the reason."""

    def __init__(self, name: str, reason: str):
        object.__setattr__(self, "_message", f"`{name}` could not be brought across to the grader: {reason}")

    def _fail(self, *args, **kwargs):
        raise NotBroughtAcross(object.__getattribute__(self, "_message"))

    def __getattr__(self, attr):
        self._fail()

    __call__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = _fail
    __getitem__ = __add__ = __sub__ = __mul__ = __truediv__ = __float__ = __int__ = __index__ = _fail
    __array__ = __format__ = __contains__ = _fail
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<not brought across: {object.__getattribute__(self, '_message')}>"


class Remote:
    """An object that stays in the student's kernel; calls and attribute reads run there."""

    __slots__ = ("_bridge", "_handle", "_type", "_label")

    def __init__(self, bridge: CallBridge, handle: str, type_name: str, label: str):
        object.__setattr__(self, "_bridge", bridge)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args, **kwargs):
        return self._bridge.request(self, "call", args=args, kwargs=kwargs)

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return self._bridge.request(self, "getattr", attr=attr)

    def __setattr__(self, attr, value):
        raise TypeError(f"{self._label} stays in the student's kernel: the grader cannot set its attributes")

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            f"{self._label} is an object of type {self._type} that stays in the student's kernel: "
            "the grader can call it and read its attributes, but not compare, test, convert or "
            "combine it; a check should compare plain values (numbers, strings, lists, arrays)"
        )

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = _refuse
    __getitem__ = __add__ = __radd__ = __sub__ = __mul__ = __truediv__ = __float__ = __int__ = _refuse
    __index__ = __array__ = __contains__ = __neg__ = __abs__ = _refuse
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self._label}: {self._type}, in the student's kernel>"

    def __format__(self, spec: str) -> str:
        if spec:
            self._refuse()
        return repr(self)


class CallBridge:
    """Sends a :class:`Remote`'s calls to the kernel and rebuilds what comes back.

    ``send(request)`` is given to the bridge by the checker process: it writes
    the request into the sandbox, has the kernel run it and returns the name
    of the result file. ``namespace`` and ``originals`` let a call see the
    test cell's changes to the student's names (deleted or replaced ones).
    """

    def __init__(self, folder: Path, send: Callable[[dict], str]):
        self.folder, self.send = folder, send
        self.namespace: dict = {}
        self.originals: dict = {}

    def describe(self, value, depth: int = 0) -> dict:
        """A checker-side value as the kernel rebuilds it (plain data, arrays and Remotes only)."""
        if depth > 100:
            raise NotBroughtAcross("an argument is nested too deeply to send to the student's function")
        kind = type(value)
        if isinstance(value, Remote):
            return {"k": "remote", "handle": object.__getattribute__(value, "_handle")}
        if value is None or kind in (bool, int, str):
            return {"k": "value", "v": value}
        if kind is float:
            return {"k": "float", "v": repr(value)}
        if kind is complex:
            return {"k": "complex", "v": [repr(value.real), repr(value.imag)]}
        if kind is bytes:
            return {"k": "bytes", "v": base64.b64encode(value).decode()}
        if kind in (list, tuple, set, frozenset):
            return {"k": kind.__name__, "v": [self.describe(item, depth + 1) for item in value]}
        if kind is dict:
            return {
                "k": "dict",
                "v": [[self.describe(k, depth + 1), self.describe(v, depth + 1)] for k, v in value.items()],
            }
        if isinstance(value, np.generic) and value.dtype.kind in "biufcUS":
            item = value.item()
            return {
                "k": "npscalar",
                "dtype": value.dtype.str,
                "v": repr(item)
                if isinstance(item, (float, complex))
                else base64.b64encode(item).decode()
                if isinstance(item, bytes)
                else item,
            }
        if isinstance(value, (np.ndarray, ArrayLike)) and np.asarray(value).dtype.kind in "biufcUS":
            file = f"argument-{os.getpid()}-{next(ARGUMENT_FILES)}.npy"  # unique in the sandbox: created, never reused
            with create_for_kernel(self.folder / file) as stream:
                np.save(stream, np.asarray(value), allow_pickle=False)
            return {"k": "ndarray", "file": file}
        raise NotBroughtAcross(
            f"an argument of type {kind.__module__}.{kind.__qualname__} cannot be sent to the "
            "student's function: only plain data, arrays and the student's own objects can"
        )

    def _changes(self) -> tuple[list[str], dict]:
        """Names of the student's that the test cell deleted, and those it bound to another sendable value."""
        unbind, rebind = [], {}
        for name, original in self.originals.items():
            if name not in self.namespace:
                unbind.append(name)
            elif self.namespace[name] is not original:
                try:
                    rebind[name] = self.describe(self.namespace[name])
                except NotBroughtAcross:
                    pass  # the student's function keeps seeing its own
        return unbind, rebind

    def request(self, target: Remote, op: str, attr: str = "", args=(), kwargs=None):
        unbind, rebind = self._changes()
        request = {
            "target": object.__getattribute__(target, "_handle"),
            "op": op,
            "attr": attr,
            "args": [self.describe(item) for item in args],
            "kwargs": {str(key): self.describe(item) for key, item in (kwargs or {}).items()},
            "unbind": unbind,
            "rebind": rebind,
        }
        result_file = self.send(request)
        result = read_small_json(self.folder / result_file, MAX_DESCRIPTION_BYTES)
        for stream, text in ((sys.stdout, result.get("stdout")), (sys.stderr, result.get("stderr"))):
            if isinstance(text, str) and text:
                stream.write(text)  # what the student's function printed: the test cell's output, as in nbgrader
        if "error" in result:
            error = result["error"]
            kind = getattr(builtins, str(error.get("type")), None)
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                kind = RuntimeError
            raise kind(str(error.get("message", "")))
        label = f"`{object.__getattribute__(target, '_label')}{'.' + attr if op == 'getattr' else '(...)'}`"
        return Rebuilder(self.folder, self).rebuild(result["value"], label)


class Rebuilder:
    """Rebuilds descriptions (``kernel_bridge``'s table) as checker objects, with notes on how models were read."""

    def __init__(
        self, folder: Path, bridge: CallBridge, models: dict | None = None, modules: frozenset[str] = frozenset()
    ):
        self.folder, self.bridge = folder, bridge
        self.modules = modules  # top-level modules that may be imported by name (the assignment's own imports)
        self.models = models if models is not None else {}  # file -> loaded model, shared by the cells
        self.notes: list[str] = []

    def _importable(self, module: str) -> bool:
        """Whether a module the kernel names may be imported here: the kernel chooses the name, and importing a
        module runs its code. Modules this process has imported already (importing them runs nothing), and
        those the assignment's source notebook imports, by their full name."""
        return module in sys.modules or module in self.modules

    def _array(self, file: str) -> np.ndarray:
        with open_written(self.folder / Path(file).name) as stream:
            return np.load(stream, allow_pickle=False)

    def rebuild(self, description: dict, label: str):
        kind = description.get("k")
        if kind == "ndarray":
            return self._array(description["file"])
        if kind == "tensor":
            values = self._array(description["file"])
            try:
                import tensorflow as tf

                return tf.constant(values)
            except ImportError:
                return ArrayLike(values, str(description.get("type")))
        if kind == "arraylike":
            return ArrayLike(self._array(description["file"]), str(description.get("type")))
        if kind == "model":
            file = Path(description["file"]).name
            if file not in self.models:
                try:
                    model, notes = load_model_safely(self.folder / file)
                except Exception as error:  # noqa: BLE001 (any failure is the submission's)
                    reason = str(error).splitlines()[0][:400] if str(error) else ""
                    self.models[file] = Unavailable(
                        label, f"it could not be loaded safely: {type(error).__name__}: {reason}"
                    )
                else:
                    self.models[file] = model
                    self.notes.extend(f"{label}: {note}" for note in notes)
            return self.models[file]
        if kind == "history":
            import keras

            history = keras.callbacks.History()
            history.history = self.rebuild(description["history"], label)
            history.params = self.rebuild(description["params"], label)
            history.epoch = self.rebuild(description["epoch"], label)
            history.graders_model_name = description.get("model_name")  # the kernel's name of the model it trained
            return history
        if kind == "module":
            name = str(description["name"])
            if not self._importable(name):
                return Unavailable(label, f"the module {name!r} is not one the assignment's notebook imports")
            try:
                return importlib.import_module(name)
            except Exception as error:  # noqa: BLE001
                return Unavailable(
                    label, f"the module {name!r} cannot be imported by the grader ({type(error).__name__})"
                )
        if kind == "import":
            try:
                module, qualname = str(description["module"]), str(description["qualname"])
                if not self._importable(module):
                    raise ImportError("not one of the assignment's modules")
                value = importlib.import_module(module)
                for part in qualname.split("."):
                    value = getattr(value, part)
                # Only a function or class that is what its name says: an instance found by that path (an
                # always-equal object such as unittest.mock.ANY) is never brought across.
                if (
                    not (isinstance(value, type) or inspect.isroutine(value) or isinstance(value, np.ufunc))
                    or getattr(value, "__qualname__", None) != qualname
                ):
                    raise ImportError("not a function or class of that name")
                return value
            except Exception:  # noqa: BLE001 (not importable here: it stays in the kernel)
                return Remote(self.bridge, description["handle"], str(description["module"]), label)
        if kind == "remote":
            return Remote(self.bridge, str(description["handle"]), str(description.get("type")), label)
        return rebuild_plain(description, lambda item: self.rebuild(item, label))


def read_description(path: Path) -> dict:
    """A ``bring-INDEX.json`` the kernel wrote: ``names`` (descriptions), ``problems`` and ``types``."""
    found = read_small_json(path, MAX_DESCRIPTION_BYTES)
    if not isinstance(found, dict):
        raise ValueError(f"{path.name} is not a description")
    return found


def namespace_for(path: Path, rebuilder: Rebuilder) -> dict:
    """The test cell's namespace: each name the kernel described, rebuilt (``Unavailable`` where it failed)."""
    found = read_description(path)
    namespace = {}
    types, problems, names = (found.get(key) for key in ("types", "problems", "names"))
    types = types if isinstance(types, dict) else {}
    for name, reason in (problems if isinstance(problems, dict) else {}).items():
        namespace[str(name)] = Unavailable(str(name), f"{reason} (an object of type {types.get(name, '?')})")
    for name, description in (names if isinstance(names, dict) else {}).items():
        try:
            namespace[str(name)] = rebuilder.rebuild(description, str(name))
        except (Exception, SystemExit) as error:  # noqa: BLE001 (the kernel wrote it: whatever is wrong with it costs only it)
            namespace[str(name)] = Unavailable(str(name), str(error)[:400] or type(error).__name__)
    return namespace
