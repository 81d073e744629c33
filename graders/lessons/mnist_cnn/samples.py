"""The MNIST lesson's sample submissions: declared in ``grading/mnist_cnn.samples.toml`` and built by the general
``graders.course.samples`` (the solution, the untouched release, and near misses, each with the test cells it
fails); here for the lesson's tests and benchmarks, with the one-notebook shorthands they use."""

from __future__ import annotations

from pathlib import Path

from graders.course import samples as course_samples
from graders.course.samples import CODE_STUB, SOLUTION_REGION, Sample, fill_answers, solution_code
from graders.lessons.mnist_cnn import ASSIGNMENT, COURSE_ROOT

__all__ = ["CODE_STUB", "SAMPLES", "SOLUTION_REGION", "Sample", "build", "expected_scores", "fill_answers",
           "solution_code", "solution_model", "write_submissions"]

NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SAMPLES: tuple[Sample, ...] = course_samples.read_samples(COURSE_ROOT, ASSIGNMENT)


def build(sample: Sample, source_nb, release_nb):
    """The submitted notebook for ``sample`` (``graders.course.samples.build``)."""
    return course_samples.build(sample, source_nb, release_nb, NOTEBOOK)


def expected_scores(sample: Sample, release_nb) -> dict[str, float]:
    """The score each autograded test cell must get for ``sample``, by grade_id."""
    return course_samples.expected_scores(sample, {NOTEBOOK: release_nb})


def write_submissions(course: Path, samples: tuple[Sample, ...] = SAMPLES) -> list[Path]:
    """Write each sample to ``course/submitted/<student>/mnist_cnn/``; return the paths."""
    return course_samples.write_submissions(course, ASSIGNMENT, samples)


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
