"""Benchmark: engine overhead, batch throughput and re-grading, interleaved on one machine.

(a) ``graders grade`` of one solution notebook against a bare nbclient run of
    the same notebook (``jupyter execute``), alternating, ``--rounds`` times;
(b) ``graders autograde`` of ``--submissions`` solution notebooks against
    sequential ``nbgrader autograde`` of the same course, alternating;
(c) ``graders autograde`` again with nothing changed (re-grading unchanged work).

Runs on the 5,000-digit sample by default; ``--data`` takes a Keras-layout npz
or a folder of IDX files (the one Debian's ``dataset-fashion-mnist`` installs,
``dpkg -L dataset-fashion-mnist``) for full-size timing. Prints the figures and
writes them as JSON.

    python benchmarks/batch_grading.py [--data PATH] [--submissions 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders.autograde.cluster import available_cores, size_cluster, total_memory  # noqa: E402
from graders.course.datasets import read_idx_folder, write_npz  # noqa: E402
from graders.course.nbgrader_settings import with_scripts_on_path  # noqa: E402
from graders.lessons.mnist_cnn import ASSIGNMENT  # noqa: E402
from graders.lessons.mnist_cnn.data import ENV_VAR, write_sample_npz  # noqa: E402
from graders.lessons.mnist_cnn.samples import SAMPLES, build  # noqa: E402

SCRIPTS = Path(sys.executable).parent


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of a command that must succeed."""
    start = time.perf_counter()
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}")
    return seconds


def provision(data: Path | None, folder: Path) -> Path:
    if data is None:
        return write_sample_npz(folder / "mnist.npz")
    if data.is_dir():
        idx = read_idx_folder(data)
        return write_npz(folder / "mnist.npz", idx.train, idx.test)
    return data.resolve()


def rekey_record(course: Path, data: Path) -> None:
    """The course copy's reference record, its sample measurements also filed under ``data``'s key: the benchmark
    times grading on data no sweep measured (the engine refuses that), and the scores are not what it measures."""
    from graders.reference.record import content_sha256, data_key, record_path

    path = record_path(course, ASSIGNMENT)
    record = json.loads(path.read_text())
    key = data_key({ENV_VAR: content_sha256(data)})
    for notebook in record["notebooks"].values():
        notebook["data_sets"].setdefault(key, next(iter(notebook["data_sets"].values())))
    path.write_text(json.dumps(record))


def make_course(folder: Path, submissions: int, env: dict[str, str], data: Path) -> Path:
    course = folder / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    for name in ("source", "release", "grading"):
        shutil.copytree(ROOT / name, course / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    rekey_record(course, data)
    timed([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], course, env)
    source_nb = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release_nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    solution = build(next(s for s in SAMPLES if s.student == "solution"), source_nb, release_nb)
    for number in range(submissions):
        target = course / "submitted" / f"student{number:02d}" / ASSIGNMENT
        target.mkdir(parents=True)
        nbformat.write(solution, target / f"{ASSIGNMENT}.ipynb")
    return course


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="Keras-layout npz, or a folder of MNIST-format IDX files")
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of each comparison")
    parser.add_argument("--workers", type=int, help="graders autograde workers (default: sized to the machine)")
    parser.add_argument("--parts", default="abc", help="which comparisons to run (default: abc)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "batch_grading.json")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="graders-bench-"))
    try:
        npz = provision(args.data, folder)
        env = with_scripts_on_path({**os.environ, ENV_VAR: str(npz)})
        env.pop("GRADERS_DB_URL", None)
        course = make_course(folder, args.submissions, env, npz)
        sizing = size_cluster(available_cores(), total_memory(), args.workers)
        workers = ["--workers", str(sizing.workers)]
        notebook = course / "submitted" / "student00" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        copy = folder / "one" / f"{ASSIGNMENT}.ipynb"
        copy.parent.mkdir()
        shutil.copy2(notebook, copy)
        for supporting in (course / "release" / ASSIGNMENT).iterdir():  # selfcheck.py: the visible checks import it
            if supporting.is_file() and supporting.suffix != ".ipynb":
                shutil.copy2(supporting, copy.parent)

        overhead = {"graders_grade": [], "bare_nbclient": []}
        batch = {"graders_autograde": [], "nbgrader_autograde": []}
        regrade = []
        for round_number in range(args.rounds):
            print(f"round {round_number + 1}/{args.rounds}", flush=True)
            if "a" in args.parts:
                overhead["bare_nbclient"].append(timed(
                    [str(SCRIPTS / "jupyter-execute"), "--timeout=3600", str(copy), "--output", str(folder / "bare")],
                    copy.parent, env))
                overhead["graders_grade"].append(timed(
                    [sys.executable, "-m", "graders", "grade", str(copy), "--assignment", ASSIGNMENT, "--course",
                     str(course)], copy.parent, env))
                print(f"  (a) bare nbclient {overhead['bare_nbclient'][-1]:.1f} s, "
                      f"graders grade {overhead['graders_grade'][-1]:.1f} s", flush=True)
            if "b" in args.parts:
                batch["nbgrader_autograde"].append(timed(
                    [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], course, env))
                batch["graders_autograde"].append(timed(
                    [sys.executable, "-m", "graders", "autograde", ASSIGNMENT, "--force", *workers], course, env))
                print(f"  (b) nbgrader autograde {batch['nbgrader_autograde'][-1]:.1f} s, "
                      f"graders autograde {batch['graders_autograde'][-1]:.1f} s", flush=True)
            if "c" in args.parts:
                if round_number == 0 and "b" not in args.parts:  # something to find unchanged
                    timed([sys.executable, "-m", "graders", "autograde", ASSIGNMENT, *workers], course, env)
                regrade.append(timed([sys.executable, "-m", "graders", "autograde", ASSIGNMENT, *workers], course,
                                     env))
                print(f"  (c) re-grade unchanged {regrade[-1]:.1f} s", flush=True)

        def ratio(top: list[float], bottom: list[float]) -> float | None:
            return round(statistics.median(t / b for t, b in zip(top, bottom, strict=True)), 3) if top else None

        overhead_ratio = ratio(overhead["graders_grade"], overhead["bare_nbclient"])
        speedup = ratio(batch["nbgrader_autograde"], batch["graders_autograde"])
        figures = {
            "machine": {"cores": available_cores(), "memory_gib": round(total_memory() / 2**30, 1),
                        "python": platform.python_version()},
            "data": (f"IDX files of {args.data.name}" if args.data and args.data.is_dir() else
                     args.data.name if args.data else "5,000-digit sample (4,000 train / 1,000 test)"),
            "submissions": args.submissions, "rounds": args.rounds,
            "workers": sizing.workers, "threads_per_worker": sizing.threads,
            "seconds": {**overhead, **batch, "regrade_unchanged": regrade},
            "engine_overhead_ratio": overhead_ratio,
            "throughput_ratio": speedup,
            "throughput_ratio_per_worker": round(speedup / sizing.workers, 3) if speedup else None,
            "regrade_seconds_per_submission":
                round(statistics.median(regrade) / args.submissions, 3) if regrade else None,
        }
        print(json.dumps(figures, indent=2))
        if overhead_ratio:
            print(f"(a) graders grade / bare nbclient: {overhead_ratio:.3f} (target <= 1.05)")
        if speedup:
            print(f"(b) graders autograde throughput / sequential nbgrader autograde: {speedup:.2f} on "
                  f"{sizing.workers} workers ({speedup / sizing.workers:.2f} per worker; target >= 0.85 per worker, "
                  f">= 1.0 on 2 cores)")
        if regrade:
            print(f"(c) re-grading unchanged: {figures['regrade_seconds_per_submission']:.2f} s per submission "
                  f"(whole command {statistics.median(regrade):.1f} s; target < 2 s each)")
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.output}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
