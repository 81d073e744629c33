"""Sample submissions made from the release: the solution, the untouched
release, and partly wrong ones, each with the test cells it must fail.

They are built, not stored: the solution code is read from the instructor
notebook and put into the released notebook's answer cells, so the samples
can never drift from the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from graders.course.assignment import grade_id
from graders.lessons.mnist_cnn import ASSIGNMENT, autograded_tests

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@dataclass(frozen=True)
class Sample:
    """A submission: edits to the solution's code cells, and the test cells it fails."""

    student: str
    description: str
    edits: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # grade_id -> ((old, new), ...)
    fails: frozenset[str] = frozenset()
    tamper: dict[str, str | None] = field(default_factory=dict)  # test grade_id -> new source, None deletes
    untouched: bool = False


SAMPLES: tuple[Sample, ...] = (
    Sample("solution", "the instructor's solution"),
    Sample("untouched", "the release as handed out, nothing filled in", untouched=True),
    Sample(
        "raw_pixels",
        "preprocessing without the channel axis and without the division by 255 (float32 only)",
        edits={"preprocess": ((" / 255", ""),) + tuple(
            (f"{name}.reshape((len({name}), 28, 28, 1))", name) for name in ("train_images", "test_images"))},
        # Keras adds the missing axis while training; the accuracy checks measure the model in the input format
        # it was trained on (checks.model_inputs), so the mistakes cost the preprocessing points only.
        fails=frozenset({"test_preprocess_shapes", "test_preprocess_values"}),
    ),
    Sample(
        "padding_same",
        'a CNN whose Conv2D layers use padding="same"',
        edits={"cnn_model": (('activation="relu")', 'activation="relu", padding="same")'),)},
        # q_param_difference is computed from the student's own models, rightly: only the architecture is wrong
        fails=frozenset({"test_cnn_architecture"}),
    ),
    Sample(
        "narrow_dense",
        "a dense network whose first hidden layer has 256 units instead of 512",
        edits={"dense_model": (("layers.Dense(512", "layers.Dense(256"),)},
        fails=frozenset({"test_dense_architecture"}),
    ),
    Sample(
        "wrong_answers",
        "two wrong answers whose test cells were deleted or replaced by `pass` (nbgrader restores them); "
        "two right ones given as NumPy integers",
        edits={"q_conv_blocks": (("q_conv_blocks = 2", "q_conv_blocks = 3"),),
               "q_dense_activation": (('"softmax"', '"sigmoid"'),),
               "q_pool_output_size": (("= 13", "= np.int64(13)"),),
               "q_param_difference": (("= dense_model.count_params() - model.count_params()",
                                       "= np.int64(dense_model.count_params()) - model.count_params()"),)},
        tamper={"test_q_conv_blocks": None, "test_q_dense_activation": "pass"},
        fails=frozenset({"test_q_conv_blocks", "test_q_dense_activation"}),
    ),
    Sample(
        "tf_activations",
        "the lesson's networks with TensorFlow's functions as activations (tf.nn.relu, tf.nn.softmax)",
        edits={name: ((first, f"import tensorflow as tf\n{first}"), ('activation="relu"', "activation=tf.nn.relu"),
                      ('activation="softmax"', "activation=tf.nn.softmax"))
               for name, first in (("cnn_model", "inputs = "), ("dense_model", "dense_model = "))},
    ),
    Sample(
        "tensor_preprocessing",
        "preprocessing with TensorFlow (tf.expand_dims, tf.cast): right values in a tensor, not a NumPy array",
        edits={"preprocess": (("train_images = ", "import tensorflow as tf\ntrain_images = "),) + tuple(
            (f'{name}.reshape((len({name}), 28, 28, 1)).astype("float32")',
             f"tf.cast(tf.expand_dims({name}, -1), tf.float32)") for name in ("train_images", "test_images"))},
        fails=frozenset({"test_preprocess_shapes"}),  # the one check that asks for a NumPy array
    ),
)


def solution_code(source_nb) -> dict[str, str]:
    """The code of each solution code cell of the instructor notebook, by grade_id."""
    solutions = {}
    for cell in source_nb.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and nbgrader.get("solution"):
            match = SOLUTION_REGION.search(cell.source)
            if match is None:
                raise ValueError(f"solution cell {nbgrader['grade_id']} has no BEGIN/END SOLUTION region")
            solutions[nbgrader["grade_id"]] = match.group(1).rstrip("\n")
    return solutions


def solution_model(source_nb, cell: str, variable: str):
    """A new, untrained Keras model, built by the instructor notebook's solution code of ``cell``.

    The code runs with ``keras`` and ``layers`` imported, as the notebook's
    setup cell has them, and ``variable`` is the model it defines (``model``
    for ``cnn_model``, ``dense_model`` for ``dense_model``). Raises KeyError
    for a cell without solution code.
    """
    import keras
    from keras import layers

    namespace = {"keras": keras, "layers": layers}
    exec(solution_code(source_nb)[cell], namespace)  # noqa: S102 (the course's own solution)
    return namespace[variable]


def expected_scores(sample: Sample, release_nb) -> dict[str, float]:
    """The score each autograded test cell must get for ``sample``."""
    tests = autograded_tests(release_nb)
    unknown = sample.fails - tests.keys()
    if unknown:
        raise ValueError(f"sample {sample.student} names unknown test cells: {sorted(unknown)}")
    return {name: 0.0 if sample.untouched or name in sample.fails else points for name, points in tests.items()}


def build(sample: Sample, source_nb, release_nb):
    """The submitted notebook for ``sample``."""
    submission = nbformat.from_dict(release_nb)
    if sample.untouched:
        return submission
    solutions = solution_code(source_nb)
    for name, replacements in sample.edits.items():
        for old, new in replacements:
            if old not in solutions[name]:
                raise ValueError(f"sample {sample.student}: {old!r} is not in the solution of {name}")
            solutions[name] = solutions[name].replace(old, new)
    submission = fill_answers(submission, solutions)
    kept = []
    for cell in submission.cells:
        name = grade_id(cell)
        if name in sample.tamper:
            if sample.tamper[name] is None:
                continue
            cell.source = sample.tamper[name]
        kept.append(cell)
    submission.cells = kept
    return submission


def fill_answers(release_nb, code: dict[str, str]):
    """A copy of the released notebook with the ``# YOUR CODE HERE`` stub of each cell named in ``code``
    (by grade_id) replaced by that code.

    Raises:
        ValueError: a named cell has no stub to replace.
    """
    notebook = nbformat.from_dict(release_nb)
    for cell in notebook.cells:
        name = grade_id(cell)
        if name in code:
            if CODE_STUB not in cell.source:
                raise ValueError(f"released cell {name} has no `{CODE_STUB}` stub")
            cell.source = cell.source.replace(CODE_STUB, code[name])
    return notebook


def write_submissions(course: Path, samples: tuple[Sample, ...] = SAMPLES) -> list[Path]:
    """Write each sample to ``course/submitted/<student>/mnist_cnn/``; return the paths."""
    source_nb = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release_nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    paths = []
    for sample in samples:
        path = course / "submitted" / sample.student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(sample, source_nb, release_nb), path)
        paths.append(path)
    return paths
