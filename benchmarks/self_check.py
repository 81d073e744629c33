"""Time the students' visible self-checks: they must answer in under a second, without training.

    python benchmarks/self_check.py [--repeats 20] [--json OUT]

Times, in one process as a student's kernel runs them: ``check_model`` on the
lesson's convnet and dense network and on a wrong convnet (table built and
rendered as HTML and text), and ``check_shapes`` + ``check_scaling`` on
full-size preprocessed arrays (60,000 and 10,000 images). Prints the median
and worst of each and writes JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from graders.lessons.mnist_cnn import SOURCE_NOTEBOOK, reference, self_check_module  # noqa: E402
from graders.lessons.mnist_cnn.samples import solution_model  # noqa: E402

selfcheck = self_check_module()


def build_cnn():
    """The convnet of the instructor notebook's solution (its ``cnn_model`` cell), untrained."""
    return solution_model(nbformat.read(SOURCE_NOTEBOOK, as_version=4), "cnn_model", "model")


def build_dense():
    """The dense network of the instructor notebook's solution (its ``dense_model`` cell), untrained."""
    return solution_model(nbformat.read(SOURCE_NOTEBOOK, as_version=4), "dense_model", "dense_model")


def wrong_cnn():
    model = build_cnn()
    return type(model)(model.inputs, layers.Dropout(0.5)(model.outputs[0]))  # an extra layer at the end


def model_check(model, lesson: str):
    def run():
        result = selfcheck.compare(model, lesson)
        result._repr_html_(), str(result)
    return run


def preprocessing_check(train, test, train_labels, test_labels):
    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            selfcheck.check_shapes(train, test, train_labels, test_labels)
            selfcheck.check_scaling(train, test)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("self_check.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    train = reference.preprocess(rng.integers(0, 256, size=(60_000, 28, 28), dtype=np.uint8))
    test = reference.preprocess(rng.integers(0, 256, size=(10_000, 28, 28), dtype=np.uint8))
    labels = np.zeros(60_000, dtype=np.uint8), np.zeros(10_000, dtype=np.uint8)
    cases = {
        "check_model convnet (matches)": model_check(build_cnn(), "cnn"),
        "check_model dense (matches)": model_check(build_dense(), "dense"),
        "check_model convnet (extra layer)": model_check(wrong_cnn(), "cnn"),
        "check_shapes + check_scaling (60,000 + 10,000 images)": preprocessing_check(train, test, *labels),
    }
    figures = {}
    for name, run in cases.items():
        run()  # first call builds anything lazy, as a student's earlier cells would have
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        figures[name] = {"median_s": statistics.median(seconds), "max_s": max(seconds), "repeats": args.repeats}
        print(f"{name:55} median {figures[name]['median_s'] * 1000:7.1f} ms   worst {max(seconds) * 1000:7.1f} ms")
    args.json.write_text(json.dumps({"target_s": 1.0, "figures": figures}, indent=2) + "\n")
    print(f"target: < 1 s each; JSON: {args.json}")


if __name__ == "__main__":
    main()
