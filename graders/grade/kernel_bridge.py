"""The grader's side of the student's kernel: bring named objects across, and make calls for the checker.

This file is never imported by the grader: its source is executed once in the
student's kernel, by the grader's first cell, as ``__graders__`` (a
:class:`Bridge`). Everything here runs with the student's code beside it, so
nothing it writes is trusted: the checker loads models with ``safe_mode``,
arrays without pickle and plain data from JSON, and rebuilds nothing else.

Before each autograded test cell the grader runs ``__graders__.bring(INDEX,
NAMES)``, which describes each name the cell reads in ``bring-INDEX.json``:

=============  ===========================================================
``value``      JSON scalars: None, bool, int, str
``float``      a float, as its ``repr`` (NaN and infinities included)
``list`` ...   list, tuple, set, frozenset, dict: each item described
``npscalar``   a NumPy scalar (``numpy.int64(3)``), with its dtype
``ndarray``    a NumPy array of numbers, booleans or text: an ``.npy`` file
``tensor``     a TensorFlow tensor: an ``.npy`` file and its type
``arraylike``  another object with ``__array__``: an ``.npy`` file and its type
``model``      a Keras model: a ``.keras`` file
``history``    a Keras ``History``: its ``history``, ``params`` and ``epoch``
``module``     a module, by name
``import``     a function or class of an installed module, by module and name
``remote``     anything else (the student's functions, classes and objects):
               a handle the checker calls through :meth:`Bridge.call`
=============  ===========================================================

Unchanged models and arrays are written once: a later cell's description
names the earlier file.
"""

import base64
import builtins
import json
import os
import sys

MAX_NODES = 2_000_000  # items of plain data in one description
MAX_TEXT = 64 << 20  # characters of text in one description
MAX_MESSAGE = 4000  # characters of an exception's message sent back
MAX_PRINTED = 100_000  # characters a call printed, on each stream, sent back


class TooLarge(Exception):
    pass


def rebuild_plain(description, nested):
    """The value of a plain-data description (``value`` to ``npscalar`` in the table above), its items
    rebuilt by ``nested``. The checker (``graders.grade.bring_across``) rebuilds plain data with it too.

    Raises:
        ValueError: the description is of another kind.
    """
    kind = description["k"]
    if kind == "value":
        return description["v"]
    if kind == "float":
        return float(description["v"])
    if kind == "complex":
        return complex(float(description["v"][0]), float(description["v"][1]))
    if kind == "bytes":
        return base64.b64decode(description["v"])
    if kind in ("list", "tuple", "set", "frozenset"):
        return getattr(builtins, kind)(nested(item) for item in description["v"])
    if kind == "dict":
        return {nested(key): nested(item) for key, item in description["v"]}
    if kind == "npscalar":
        import numpy

        dtype = numpy.dtype(description["dtype"])
        value = description["v"]
        if dtype.kind in "fc":
            value = complex(value) if dtype.kind == "c" else float(value)
        elif dtype.kind == "S":
            value = base64.b64decode(value)
        return dtype.type(value)
    raise ValueError(f"unknown description {kind!r}")


class Bridge:
    """Describes objects of the kernel's namespace into ``folder``, and runs the checker's calls."""

    def __init__(self, folder, root, namespace=None):
        self.folder = folder
        self._namespace = namespace  # the kernel's user namespace when None
        self.root = os.path.realpath(root)  # the sandbox: modules from here are the submission's own
        self.files = {}  # name -> (cache key, file name) of the last model or array written for it
        self.handles = {}  # handle -> object kept for the checker's calls
        self.counter = 0

    # -- the namespace -------------------------------------------------------------------------------

    def namespace(self):
        if self._namespace is not None:
            return self._namespace
        try:
            return get_ipython().user_ns  # noqa: F821 (defined in a kernel)
        except NameError:
            return sys.modules["__main__"].__dict__

    def _next(self, prefix):
        self.counter += 1
        return f"{prefix}-{self.counter}"

    # -- describing ----------------------------------------------------------------------------------

    def _type_name(self, value):
        kind = type(value)
        return f"{kind.__module__}.{kind.__qualname__}"[:200]

    def _keras(self):
        return sys.modules.get("keras")

    def _is_model(self, value):
        keras = self._keras()
        return keras is not None and isinstance(value, keras.Model)

    def _is_history(self, value):
        keras = self._keras()
        return keras is not None and isinstance(value, keras.callbacks.History)

    def _own_module(self, module):
        """Whether a module is the submission's own (defined in the notebook or a file of the sandbox)."""
        if module is None or getattr(module, "__name__", None) == "__main__":
            return True
        path = getattr(module, "__file__", None)
        return bool(path) and os.path.realpath(path).startswith(self.root + os.sep)

    def _handle(self, value):
        handle = self._next("h")
        self.handles[handle] = value
        return handle

    def _remote(self, value):
        return {
            "k": "remote",
            "handle": self._handle(value),
            "type": self._type_name(value),
            "callable": callable(value),
            "name": str(getattr(value, "__qualname__", ""))[:200],
        }

    def _write_array(self, name, value, kind):
        import numpy

        key = (
            id(value),
            value.shape,
            str(value.dtype),
            float(value.ravel()[::9973].sum()) if value.dtype.kind in "biuf" and value.size else 0.0,
            value.ravel()[-1].item() if value.size and value.dtype.kind in "biuf" else None,
        )
        cached = self.files.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        file = self._next("array") + ".npy"
        numpy.save(os.path.join(self.folder, file), value, allow_pickle=False)
        self.files[name] = (key, file)
        return file

    def _write_model(self, name, value):
        iterations = getattr(getattr(value, "optimizer", None), "iterations", None)
        try:
            steps = int(iterations.numpy()) if iterations is not None else -1
        except Exception:
            steps = -1
        key = (id(value), steps, len(value.layers))
        cached = self.files.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        file = self._next("model") + ".keras"
        value.save(os.path.join(self.folder, file))
        self.files[name] = (key, file)
        return file

    def describe(self, value, name, budget):
        """The description of ``value`` (see the module's table); ``name`` keys the file cache."""
        import numpy

        budget[0] += 1
        if budget[0] > MAX_NODES:
            raise TooLarge(f"more than {MAX_NODES:,} items")
        kind = type(value)
        if value is None or kind in (bool, int):
            return {"k": "value", "v": value}
        if kind is str:
            budget[1] += len(value)
            if budget[1] > MAX_TEXT:
                raise TooLarge(f"more than {MAX_TEXT:,} characters of text")
            return {"k": "value", "v": value}
        if kind is float:
            return {"k": "float", "v": repr(value)}
        if kind is complex:
            return {"k": "complex", "v": [repr(value.real), repr(value.imag)]}
        if kind is bytes:
            budget[1] += len(value)
            if budget[1] > MAX_TEXT:
                raise TooLarge(f"more than {MAX_TEXT:,} bytes")
            return {"k": "bytes", "v": base64.b64encode(value).decode()}
        if kind in (list, tuple, set, frozenset):
            items = sorted(value, key=repr) if kind in (set, frozenset) else value
            return {
                "k": kind.__name__,
                "v": [self.describe(item, f"{name}[{i}]", budget) for i, item in enumerate(items)],
            }
        if kind is dict:
            return {
                "k": "dict",
                "v": [
                    [self.describe(key, f"{name}.key", budget), self.describe(item, f"{name}[{i}]", budget)]
                    for i, (key, item) in enumerate(value.items())
                ],
            }
        if isinstance(value, numpy.generic) and kind.__module__ == "numpy" and value.dtype.kind in "biufcUS":
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
        if kind is numpy.ndarray and value.dtype.kind in "biufcUS":
            return {"k": "ndarray", "file": self._write_array(name, value, None)}
        if (
            kind.__module__.startswith("tensorflow")
            and callable(getattr(value, "numpy", None))
            and hasattr(value, "dtype")
            and hasattr(value, "shape")
        ):
            array = numpy.asarray(value.numpy())
            if array.dtype.kind in "biufcUS":
                return {"k": "tensor", "file": self._write_array(name, array, "tensor"), "type": self._type_name(value)}
        if self._is_model(value):
            return {"k": "model", "file": self._write_model(name, value), "handle": self._handle(value)}
        if self._is_history(value):
            history = getattr(value, "history", {})
            trained = getattr(value, "model", None)
            model_name = next(
                (
                    key
                    for key, item in list(self.namespace().items())
                    if item is trained and trained is not None and not key.startswith("_")
                ),
                None,
            )
            return {
                "k": "history",
                "model_name": model_name,
                "history": self.describe(history if type(history) is dict else {}, name + ".history", budget),
                "params": self.describe(dict(getattr(value, "params", None) or {}), name + ".params", budget),
                "epoch": self.describe(list(getattr(value, "epoch", []) or []), name + ".epoch", budget),
                "handle": self._handle(value),
            }
        if kind.__name__ == "module" and kind.__module__ == "builtins":
            return {
                "k": "module",
                "name": str(value.__name__),
                "own": self._own_module(value),
                "handle": self._handle(value),
            }
        if (
            (hasattr(value, "__array__") or kind is memoryview)
            and not callable(value)
            and kind.__module__ != "__main__"
        ):
            try:
                array = numpy.asarray(value)
            except Exception:
                array = None
            if array is not None and array.dtype.kind in "biufcUS":
                return {
                    "k": "arraylike",
                    "file": self._write_array(name, array, "arraylike"),
                    "type": self._type_name(value),
                }
        module = sys.modules.get(getattr(value, "__module__", None) or "")
        qualname = getattr(value, "__qualname__", None)
        if callable(value) and isinstance(qualname, str) and module is not None and not self._own_module(module):
            found = module
            try:
                for part in qualname.split("."):
                    found = getattr(found, part)
            except Exception:
                found = None
            if found is value:  # exactly what importing it gives: the grader imports its own copy
                return {"k": "import", "module": module.__name__, "qualname": qualname, "handle": self._handle(value)}
        return self._remote(value)

    def bring(self, index, names):
        """Describe each of ``names`` that the namespace holds into ``bring-INDEX.json``."""
        namespace = self.namespace()
        described, problems = {}, {}
        for name in names:
            if name not in namespace:
                continue
            try:
                described[name] = self.describe(namespace[name], name, [0, 0])
            except RecursionError:
                problems[name] = "it is nested too deeply"
            except TooLarge as error:
                problems[name] = f"it is too large to bring across ({error})"
            except Exception as error:  # the object's own code failed while it was read
                problems[name] = f"it could not be read: {type(error).__name__}: {str(error)[:300]}"
        path = os.path.join(self.folder, f"bring-{index}.json")
        with open(path + ".partial", "w") as file:
            json.dump(
                {
                    "names": described,
                    "problems": problems,
                    "types": {name: self._type_name(namespace[name]) for name in problems},
                },
                file,
            )
        os.replace(path + ".partial", path)

    def bring_all(self, index):
        """Describe every Keras model and ``History`` of the namespace (for the feedback's plots)."""
        namespace = self.namespace()
        names = [
            name
            for name, value in list(namespace.items())
            if not name.startswith("_") and (self._is_model(value) or self._is_history(value))
        ]
        self.bring(index, names)

    # -- calls ---------------------------------------------------------------------------------------

    def _rebuild(self, description):
        import numpy

        kind = description["k"]
        if kind == "ndarray":
            return numpy.load(os.path.join(self.folder, description["file"]), allow_pickle=False)
        if kind == "remote":
            return self.handles[description["handle"]]
        return rebuild_plain(description, self._rebuild)

    def _builtin_type(self, error):
        for kind in type(error).__mro__:
            if kind.__module__ == "builtins" and issubclass(kind, Exception):
                return kind.__name__
        return "RuntimeError"

    def call(self, request_file):
        """Run the checker's request (a call, or an attribute read) and write its result as a description.

        The request may hide or replace names of the namespace while it runs
        (a test that deletes a function to see that another one calls it).
        """
        import contextlib
        import io

        with open(os.path.join(self.folder, request_file)) as file:
            request = json.load(file)
        namespace, missing, saved = self.namespace(), object(), {}
        result_file = os.path.join(self.folder, request["result"])
        stdout, stderr = io.StringIO(), io.StringIO()  # what the call prints is the test cell's output, as in nbgrader
        redirect = contextlib.ExitStack()
        redirect.enter_context(contextlib.redirect_stdout(stdout))
        redirect.enter_context(contextlib.redirect_stderr(stderr))
        try:
            for name in request.get("unbind", []):
                saved.setdefault(name, namespace.get(name, missing))
                namespace.pop(name, None)
            for name, description in request.get("rebind", {}).items():
                saved.setdefault(name, namespace.get(name, missing))
                namespace[name] = self._rebuild(description)
            target = self.handles[request["target"]]
            if request["op"] == "getattr":
                value = getattr(target, request["attr"])
            else:
                args = [self._rebuild(item) for item in request.get("args", [])]
                kwargs = {key: self._rebuild(item) for key, item in request.get("kwargs", {}).items()}
                value = target(*args, **kwargs)
            result = {"value": self.describe(value, self._next("result"), [0, 0])}
        except BaseException as error:  # noqa: B036 (an exit or interrupt of the student's code is its result)
            try:
                message = str(error)[:MAX_MESSAGE]
            except BaseException:  # noqa: B036
                message = f"(the message of a {type(error).__name__} could not be read)"
            if not isinstance(error, Exception):
                message = f"{type(error).__name__}: {message}"
            result = {
                "error": {"type": self._builtin_type(error), "message": message, "student_type": self._type_name(error)}
            }
        finally:
            redirect.close()
            for name, value in saved.items():
                if value is missing:
                    namespace.pop(name, None)
                else:
                    namespace[name] = value
        result["stdout"], result["stderr"] = stdout.getvalue()[:MAX_PRINTED], stderr.getvalue()[:MAX_PRINTED]
        with open(result_file + ".partial", "w") as file:
            json.dump(result, file)
        os.replace(result_file + ".partial", result_file)
