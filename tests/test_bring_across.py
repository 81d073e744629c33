"""Bringing a test cell's objects across, without a kernel: the kernel's bridge runs in this process.

The kernel side (``kernel_bridge``) describes a namespace into a folder; the
checker side (``bring_across``) rebuilds it. Calls go back through the same
bridge, as the checker's calls reach the kernel in a real run.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from conftest import cnn_layers, functional, sequential
from keras import layers

from graders.course.cells import instructor_imports, modules_imported, names_read
from graders.grade.bring_across import CallBridge, NotBroughtAcross, Rebuilder, Remote, namespace_for
from graders.grade.checker import Checker, run_cell
from graders.grade.export import ArrayLike

STUDENT_CODE = """
def squares(n):
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i ** 2 for i in range(1, n + 1)]

def sum_of_squares(n):
    return sum(squares(n))

class AlwaysEqual:
    def __eq__(self, other):
        return True

def cheat(n):
    return AlwaysEqual()

class Stack:
    def __init__(self):
        self.items = []
    def push(self, item):
        self.items.append(item)
    def pop(self):
        return self.items.pop()

class Picky(ValueError):
    pass

def picky():
    raise Picky("a subclass of ValueError")

def noisy(x):
    import sys
    print("working on", x)
    print("RuntimeWarning: overflow encountered", file=sys.stderr)  # as warnings.warn writes it in a kernel
    return x
"""


def kernel_bridge(folder: Path, namespace: dict):
    """The kernel's ``__graders__``, made in this process on ``namespace``."""
    source = (Path(__file__).resolve().parent.parent / "graders" / "grade" / "kernel_bridge.py").read_text()
    module: dict = {"__name__": "graders_kernel_bridge"}
    exec(source, module)
    return module["Bridge"](str(folder), str(folder), namespace)


def bring(tmp_path: Path, namespace: dict, names, index: int = 0):
    """Describe ``names`` of ``namespace`` as the kernel would, and rebuild them as the checker does."""
    bridge = kernel_bridge(tmp_path, namespace)
    bridge.bring(index, list(names))

    def send(request: dict) -> str:  # the grader's round trip: a request file, the kernel's call, a result file
        send.count += 1
        request["result"] = f"call-{send.count}-result.json"
        (tmp_path / f"call-{send.count}.json").write_text(__import__("json").dumps(request))
        bridge.call(f"call-{send.count}.json")
        return request["result"]

    send.count = 0
    calls = CallBridge(tmp_path, send)
    rebuilder = Rebuilder(tmp_path, calls)
    rebuilt = namespace_for(tmp_path / f"bring-{index}.json", rebuilder)
    calls.namespace, calls.originals = rebuilt, dict(rebuilt)
    rebuilt["__builtins__"] = __builtins__  # as the checker runs a cell: in this very namespace
    return rebuilt, bridge, rebuilder


def student_namespace() -> dict:
    namespace = {"__name__": "__main__"}
    exec(STUDENT_CODE, namespace)
    return namespace


def test_plain_data_arrays_and_numpy_scalars_come_back_as_they_were(tmp_path):
    import tensorflow as tf

    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    namespace = {
        "count": np.int64(3),
        "ratio": np.float32(0.5),
        "nan": float("nan"),
        "big": 10**30,
        "text": "relu",
        "raw": b"\x00\x01",
        "table": {(1, 2): [1.5, None, True], "k": {3, 1}},
        "images": images,
        "tensor": tf.constant(images),
        "arrays": (images, np.zeros(3)),
        "view": memoryview(np.arange(4.0)),
        "labels": np.array(["cat", "dog"]),
    }
    rebuilt, _, _ = bring(tmp_path, namespace, namespace)
    assert type(rebuilt["count"]) is np.int64 and rebuilt["count"] == 3
    assert type(rebuilt["ratio"]) is np.float32 and rebuilt["ratio"] == 0.5
    assert math.isnan(rebuilt["nan"]) and rebuilt["big"] == 10**30 and rebuilt["raw"] == b"\x00\x01"
    assert rebuilt["table"] == {(1, 2): [1.5, None, True], "k": {1, 3}}
    assert type(rebuilt["images"]) is np.ndarray and np.array_equal(rebuilt["images"], images)
    assert isinstance(rebuilt["tensor"], tf.Tensor) and np.array_equal(rebuilt["tensor"].numpy(), images)
    assert isinstance(rebuilt["arrays"], tuple) and rebuilt["arrays"][1].shape == (3,)
    assert isinstance(rebuilt["view"], ArrayLike) and rebuilt["view"].type_name == "builtins.memoryview"
    assert list(rebuilt["labels"]) == ["cat", "dog"]


def test_unchanged_arrays_and_models_are_written_once(tmp_path):
    namespace = {"images": np.zeros((4, 2)), "model": sequential([layers.Flatten(), layers.Dense(2)])}
    bridge = kernel_bridge(tmp_path, namespace)
    bridge.bring(1, ["images", "model"])
    bridge.bring(2, ["images", "model"])
    assert len(list(tmp_path.glob("*.npy"))) == 1 and len(list(tmp_path.glob("*.keras"))) == 1
    namespace["images"] = np.ones((4, 2))  # rebound: written again
    bridge.bring(3, ["images"])
    assert len(list(tmp_path.glob("*.npy"))) == 2


def test_models_load_safely_and_histories_keep_their_curves(tmp_path):
    history = keras.callbacks.History()
    history.history, history.epoch = {"loss": [0.5, 0.25]}, [0, 1]
    model = functional(cnn_layers())
    history.set_model(model)
    namespace = {
        "model": model,
        "history": history,
        "lambda_model": sequential([layers.Lambda(lambda x: x), layers.Flatten(), layers.Dense(10)]),
    }
    rebuilt, _, _ = bring(tmp_path, namespace, namespace)
    assert isinstance(rebuilt["model"], keras.Model) and rebuilt["model"].count_params() == model.count_params()
    assert rebuilt["history"].history == {"loss": [0.5, 0.25]} and rebuilt["history"].graders_model_name == "model"
    with pytest.raises(NotBroughtAcross, match="`lambda_model` could not be brought across.*is a Lambda layer"):
        rebuilt["lambda_model"].summary()


def test_modules_and_library_functions_are_the_graders_own(tmp_path):
    fake = type(np)("numpy")  # a module object the student made and called numpy
    namespace = {"np": fake, "mean": np.mean, "Dense": layers.Dense}
    rebuilt, _, _ = bring(tmp_path, namespace, namespace)
    assert rebuilt["np"] is np and rebuilt["mean"] is np.mean and rebuilt["Dense"] is layers.Dense


def test_the_students_functions_run_in_the_kernel_and_only_plain_data_comes_back(tmp_path):
    rebuilt, _, _ = bring(tmp_path, student_namespace(), ["squares", "sum_of_squares", "cheat", "Stack", "picky"])
    assert isinstance(rebuilt["squares"], Remote)
    assert rebuilt["squares"](3) == [1, 4, 9] and rebuilt["sum_of_squares"](np.int64(2)) == 5
    with pytest.raises(ValueError, match="n must be at least 1"):
        rebuilt["squares"](0)
    with pytest.raises(ValueError, match="a subclass of ValueError"):  # the built-in type it derives from
        rebuilt["picky"]()
    stack = rebuilt["Stack"]()
    stack.push([1, 2])
    assert stack.pop() == [1, 2] and stack.items == []
    always = rebuilt["cheat"](3)  # an object whose __eq__ says True stays in the kernel
    for attempt in (lambda: always == [1, 4, 9], lambda: bool(always), lambda: len(always), lambda: list(always)):
        with pytest.raises(TypeError, match="stays in the student's kernel"):
            attempt()


def test_what_a_students_function_prints_during_a_test_is_that_cells_output(tmp_path):
    """nbgrader scores a test cell with stderr output 0, also when a function it calls warns."""
    rebuilt, _, _ = bring(tmp_path, student_namespace(), ["noisy"])
    outcome = run_cell("assert noisy(2) == 2", rebuilt, 1)
    assert outcome.score == 0 and "working on 2" in outcome.outputs[0]["text"]
    assert "overflow encountered" in outcome.outputs[1]["text"] and outcome.outputs[1]["name"] == "stderr"


def test_a_test_cell_that_deletes_a_students_function_is_seen_by_the_kernel(tmp_path):
    """nbgrader's documentation course checks that sum_of_squares calls squares by deleting squares."""
    code = """
orig_squares = squares
del squares
try:
    sum_of_squares(1)
except NameError:
    pass
else:
    raise AssertionError("sum_of_squares does not use squares")
finally:
    squares = orig_squares
"""
    namespace = student_namespace()
    rebuilt, _, _ = bring(tmp_path, namespace, names_read(code))
    assert run_cell(code, rebuilt, 0.5).score == 0.5
    assert callable(namespace["squares"])  # restored in the kernel after the call
    namespace["sum_of_squares"] = eval("lambda n: n * (n + 1) * (2 * n + 1) // 6")  # does not use squares
    rebuilt, _, _ = bring(tmp_path, namespace, names_read(code), index=1)
    outcome = run_cell(code, rebuilt, 0.5)
    assert outcome.score == 0 and outcome.message == "sum_of_squares does not use squares"


def test_cells_are_scored_by_nbgraders_rules():
    assert run_cell("assert 1 + 1 == 2", {}, 2).score == 2
    failed = run_cell("assert False, 'expected 3, found 4'", {}, 2)
    assert failed.score == 0 and failed.message == "expected 3, found 4"
    assert failed.outputs[-1]["ename"] == "AssertionError"
    assert run_cell("0.5", {}, 2).score == 0.5  # a number left as the cell's value: partial credit
    assert run_cell("import sys\nprint('careful', file=sys.stderr)", {}, 1).score == 0  # stderr fails a cell
    assert (
        run_cell("import sys\nprint('W1129 x.cc:1] log', file=sys.stderr)", {}, 1, ignore_pattern=r"^W\d{4}").score == 1
    )  # unless the course's IgnorePattern drops it
    assert run_cell("raise SystemExit(0)", {}, 1).score == 0
    assert run_cell("%time x = 1", {}, 1).message.startswith("NameError")  # magics need IPython, as in a kernel


def test_names_read_by_a_test_cell():
    code = (
        'from graders import checks\nassert isinstance(q, int)\ncheck(model, globals().get("dense_model"))\n'
        "del squares\nprint(len(x))"
    )
    assert set(names_read(code)) == {"q", "check", "model", "dense_model", "squares", "x"}  # builtins left out
    assert names_read("def broken(:") == ()
    # a name the cell imports itself is its own: the kernel's is never asked for (nor waited on)
    assert names_read("from selfcheck import check_shapes\ncheck_shapes(train_images)") == ("train_images",)


def test_a_checker_that_dies_fails_its_cells_with_the_reason(tmp_path):
    """The instructor's code kills the checker process: that cell and the later ones fail, saying so."""
    checker = Checker(tmp_path, [], tmp_path, seconds_per_cell=60)
    checker.submit(1, "assert 1 == 1", 1, None)
    checker.submit(2, "import os\nos._exit(3)", 1, None)
    checker.submit(3, "assert True", 1, None)
    checker.finish(None)
    assert checker.outcome(1, 1).score == 1
    for index in (2, 3):
        outcome = checker.outcome(index, 1)
        assert outcome.score == 0 and "the grader's checker stopped" in outcome.message
    assert checker.outcome(4, 1) is None  # never handed over: the notebook stopped before it


def test_a_check_that_runs_past_its_time_fails(tmp_path):
    checker = Checker(tmp_path, [], tmp_path, seconds_per_cell=3)
    checker.submit(1, "while True:\n    pass", 1, None)
    checker.finish(None)
    assert "did not finish within 3 s" in checker.outcome(1, 1).message


def test_the_checker_never_imports_what_the_kernel_wrote_in_its_folder(tmp_path):
    """The sandbox folder is the checker's working folder (test cells open files there), never on its sys.path."""
    (tmp_path / "planted.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    (tmp_path / "numpy.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    checker = Checker(tmp_path, [], tmp_path, seconds_per_cell=60)
    checker.submit(1, "import planted", 1, None)
    checker.submit(2, "import numpy\nassert numpy.__file__.endswith('__init__.py')\nopen('planted.py').read()", 1, None)
    checker.finish(None)
    assert checker.outcome(1, 1).message == "ModuleNotFoundError: No module named 'planted'"
    assert checker.outcome(2, 1).score == 1 and not (tmp_path / "ran").exists()


def test_only_the_assignments_own_modules_are_imported_by_name(tmp_path):
    chosen = type(np)("not_imported_anywhere")  # the kernel names a module the grader never imported

    namespace = {"chosen": chosen, "np": np}
    bridge = kernel_bridge(tmp_path, namespace)
    bridge.bring(0, ["chosen", "np"])
    rebuilt = namespace_for(
        tmp_path / "bring-0.json", Rebuilder(tmp_path, CallBridge(tmp_path, None), modules=frozenset({"os"}))
    )
    assert rebuilt["np"] is np  # numpy: the grader's own
    with pytest.raises(NotBroughtAcross, match="'not_imported_anywhere' is not one the assignment's notebook"):
        rebuilt["chosen"].loads(b"")
    locked = {"nbgrader": {"locked": True, "solution": False, "grade": False, "grade_id": "setup"}}
    source = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import os.path\nfrom keras import layers\nfrom . import local\nimport numpy as np", metadata=locked
            ),
            nbformat.v4.new_code_cell("import pandas as pd", metadata={"nbgrader": {"solution": True}}),
        ]
    )
    assert modules_imported(source) == {"os", "os.path", "keras", "keras.layers", "numpy", "pandas"}
    assert instructor_imports(source) == {
        "os": "import os.path",
        "layers": "from keras import layers",
        "np": "import numpy as np",
    }  # the student's own imports are theirs


def test_an_instance_is_never_imported_by_name_and_the_instructors_imports_win(tmp_path):
    """unittest.mock.ANY equals anything: a description naming it stays a Remote; a fake `np` is replaced."""
    rebuilder = Rebuilder(tmp_path, CallBridge(tmp_path, None), modules=frozenset({"unittest", "unittest.mock"}))
    found = rebuilder.rebuild({"k": "import", "module": "unittest.mock", "qualname": "ANY", "handle": "h-1"}, "x")
    assert isinstance(found, Remote)
    with pytest.raises(TypeError, match="stays in the student's kernel"):
        assert found == 42
    from types import SimpleNamespace

    namespace = {"np": SimpleNamespace(allclose=lambda *args: True)}  # a student's stand-in for NumPy
    kernel_bridge(tmp_path, namespace).bring(1, ["np"])
    checker = Checker(tmp_path, [], tmp_path, seconds_per_cell=60)
    checker.submit(
        1,
        "assert np.__name__ == 'numpy'\nassert not np.allclose(1, 2)",
        1,
        "bring-1.json",
        preamble="import numpy as np",
    )
    checker.finish(None)
    assert checker.outcome(1, 1).score == 1


def test_files_the_kernel_planted_as_links_are_neither_written_nor_read(tmp_path):
    from graders.grade.export import create_for_kernel, open_written

    secret = tmp_path / "secret.txt"
    secret.write_text("another student's work")
    (tmp_path / "call-1.json").symlink_to(secret)
    with pytest.raises(FileExistsError):
        create_for_kernel(tmp_path / "call-1.json")
    with pytest.raises(OSError):
        open_written(tmp_path / "call-1.json")
    assert secret.read_text() == "another student's work"


def test_arrays_sent_to_the_students_functions_in_several_cells(tmp_path):
    """Each cell's calls write their argument files afresh: names are never reused."""
    namespace = student_namespace()
    namespace["total"] = eval("lambda a: float(a.sum())")
    for index in range(2):
        rebuilt, _, _ = bring(tmp_path, namespace, ["total"], index=index)
        assert run_cell("assert total(np.ones(3)) == 3.0", {**rebuilt, "np": np}, 1).score == 1
