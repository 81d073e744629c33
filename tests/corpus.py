"""The adversarial corpus: submissions that try to inflate their score or break the grader.

Most entries start from ``FROZEN``: the release with a small frozen (untrainable)
model in the ``cnn_model`` cell and nothing else filled in. Its honest work is
worth exactly 1 point (``test_cnn_shapes``: input and output shapes are right),
so any attack that raised a score would show. Entries marked ``solution``
start from the full solution (20 points) and must keep its honest score.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from conftest import ROOT

from graders.lessons.mnist_cnn import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
from graders.lessons.mnist_cnn.samples import fill_answers, solution_code

FROZEN_MODEL = """
model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")])
model.trainable = False
"""

NOT_DEFINED = "NameError: name 'q_pool_output_size' is not defined"  # the cheat answers were not set

# If an attack could read what it must not, it would use it to answer every question.
CHEAT_ANSWERS = """
q_pool_output_size, q_pool_params, q_flatten_params, q_conv_blocks = 13, 0, 0, 2
q_dense_activation, q_param_difference = "softmax", 463232
"""


@dataclass(frozen=True)
class Attack:
    """One corpus entry: where its code goes, the score it must get, and a message to find."""

    name: str
    code: str = ""
    after: str = "cnn_model"  # the attack code goes in a new cell after this grade_id
    base: str = "frozen"  # "frozen", "solution" or "raw" (``raw_text`` is the whole file)
    expected: float = 1.0
    message: str = ""  # in the results' output or a check's output: evidence of what the attack did not achieve
    delete: tuple[str, ...] = ()
    replace: dict[str, str] = field(default_factory=dict)
    kernel: str | None = None
    raw_text: str = ""
    cgroup_message: str = ""  # the evidence instead of ``message`` where a cgroup measured the kernel

    def message_for(self, result: dict) -> str:
        """The evidence to find in ``result`` (a results.json), by how the sandbox measured the kernel."""
        measured = ((result.get("extra_data") or {}).get("resources") or {}).get("measured_by")
        return self.cgroup_message if self.cgroup_message and measured == "cgroup" else self.message


ATTACKS: tuple[Attack, ...] = (
    Attack("override_methods", """
model.evaluate = lambda *args, **kwargs: [0.01, 0.99]
model.predict = lambda x, *args, **kwargs: __import__("numpy").eye(10)[__import__("numpy").zeros(len(x), int)]
model.count_params = lambda: 104202
model.summary = lambda *args, **kwargs: print("Total params: 104,202")
""", message="accuracy on the grader's held-out test set; at least 0.867"),
    Attack("hand_set_accuracy", "test_acc = dense_test_acc = 0.99\nq_accuracy_difference = 0.0",
           after="dense_train", message="accuracy on the grader's held-out test set"),
    Attack("patched_checks_and_builtins", """
import builtins, sys, types, os
fake = types.ModuleType("graders")
fake.checks = types.SimpleNamespace(**{name: (lambda *a, **k: None) for name in (
    "grader_data", "check_values", "check_layers", "check_answer", "check_accuracy", "check_close")})
sys.modules["graders"], sys.modules["graders.checks"] = fake, fake.checks
os.makedirs("graders", exist_ok=True)
with open("graders/__init__.py", "w") as file:
    file.write("from graders import checks")
with open("graders/checks.py", "w") as file:
    file.write("def __getattr__(name):\\n    return lambda *a, **k: None\\n")
builtins.AssertionError = type("Silent", (Exception,), {})
""", message="model: layer 1: a layer is missing; hint: add a Conv2D(32 filters"),
    Attack("ipython_hooks", """
ip = get_ipython()
ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
ip.showtraceback = lambda *args, **kwargs: None
ip.set_custom_exc((Exception,), lambda *args, **kwargs: None)
""", message=NOT_DEFINED),
    Attack("sys_exit", "import sys\nsys.exit(0)", message="SystemExit: 0"),
    Attack("os_exit_after_honest_work", "import os\nos._exit(0)", base="solution", after="test_q_accuracy_difference",
           expected=20.0, message="the kernel died"),
    Attack("kernel_crash", "import ctypes\nctypes.string_at(0)", after="test_cnn_shapes", message="the kernel died"),
    Attack("read_gradebook_and_checks", f"""
secrets = [{str(ROOT / "gradebook.db")!r}, {str(SOURCE_NOTEBOOK)!r}, {str(ROOT / "graders" / "checks.py")!r}]
readable = []
for path in secrets:
    try:
        with open(path, "rb") as file:
            readable.append(len(file.read()) > 0)
    except OSError:
        pass
try:
    import graders.checks
    readable.append(True)
except ImportError:
    pass
if any(readable):
{CHEAT_ANSWERS.replace(chr(10), chr(10) + "    ")}
""", message=NOT_DEFINED),
    Attack("write_outside", f"""
with open("/tmp/graders-pwned", "w") as file:  # a private scratch /tmp: allowed, gone afterwards
    file.write("pwned")
written = 0
for path in [{str(ROOT / "graders" / "checks.py")!r}, {str(ROOT / "gradebook.db")!r}, {str(RELEASE_NOTEBOOK)!r}]:
    try:
        with open(path, "a") as file:
            file.write("\\ndef check_answer(*args): pass\\n")
        written += 1
    except OSError:
        pass
if written:
{CHEAT_ANSWERS.replace(chr(10), chr(10) + "    ")}
""", message=NOT_DEFINED),
    # LISTENER_PORT: a port on which the test listens on the grader's loopback (tests/test_grade_engine.py)
    Attack("open_socket", f"""
import socket
connected = False
for host, port in [("127.0.0.1", LISTENER_PORT), ("localhost", LISTENER_PORT), ("1.1.1.1", 80)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        connected = True
    except OSError:
        pass
if connected:
{CHEAT_ANSWERS.replace(chr(10), chr(10) + "    ")}
""", message=NOT_DEFINED),
    Attack("infinite_loop", "while True:\n    pass", after="test_cnn_shapes", message="timed out after"),
    Attack("memory_bomb", "hog = [bytearray(256 * 1024**2) for _ in range(64)]", after="test_cnn_shapes",
           message="MemoryError", cgroup_message="stopped at the memory limit of 4.0 GiB"),
    Attack("fork_bomb", """
import os, time
while True:
    if os.fork() == 0:
        time.sleep(120)
        os._exit(0)
""", after="test_cnn_shapes", message="Resource temporarily unavailable"),
    Attack("huge_output", 'print("x" * 100_000_000)', message="output limit reached"),
    Attack("deleted_and_edited_tests", "q_pool_output_size, q_pool_params, q_flatten_params = 99, 9, 9\n"
           "q_conv_blocks, q_dense_activation, q_param_difference = 9, 'relu', 1",
           delete=("test_q_pool_output_size", "test_q_pool_params"),
           replace={"test_q_flatten_params": "pass", "test_q_conv_blocks": "print('all good')"},
           message="missing; the assignment's version was put back"),
    Attack("malformed_json", base="raw", raw_text='{"cells": [ {"cell_type": "code", "source": ',
           expected=0.0, message="is not a readable notebook"),
    Attack("unknown_kernel", kernel="evil-kernel", message="cell `q_pool_output_size`: NotImplementedError"),
    Attack("lambda_layer", """
model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Lambda(lambda x: x), layers.Flatten(),
                          layers.Dense(10, activation="softmax")])
model.trainable = False
""", expected=0.0, message="could not be loaded safely"),
)


assert all(attack.message for attack in ATTACKS), "each entry names the evidence that its attack failed"


def _cell_index(notebook, grade_id: str) -> int:
    for index, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    raise KeyError(grade_id)


def build(attack: Attack, listener_port: int = 9) -> str:
    """The submitted notebook's text (``LISTENER_PORT`` in its code becomes ``listener_port``)."""
    if attack.base == "raw":
        return attack.raw_text
    code = (solution_code(nbformat.read(SOURCE_NOTEBOOK, as_version=4)) if attack.base == "solution"
            else {"cnn_model": FROZEN_MODEL.strip()})
    notebook = fill_answers(nbformat.read(RELEASE_NOTEBOOK, as_version=4), code)
    for cell in notebook.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name in attack.replace:
            cell.source = attack.replace[name]
    if attack.code:
        code = attack.code.strip().replace("LISTENER_PORT", str(listener_port))
        notebook.cells.insert(_cell_index(notebook, attack.after) + 1, nbformat.v4.new_code_cell(code))
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in attack.delete]
    if attack.kernel:
        notebook.metadata["kernelspec"] = {"name": attack.kernel, "display_name": attack.kernel, "language": "python"}
    return json.dumps(nbformat.from_dict(notebook), indent=1)


def write_corpus(folder: Path, attacks: tuple[Attack, ...] = ATTACKS, listener_port: int = 9) -> list[Path]:
    """Write every entry as ``NAME.ipynb`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for attack in attacks:
        path = folder / f"{attack.name}.ipynb"
        path.write_text(build(attack, listener_port))
        paths.append(path)
    return paths
