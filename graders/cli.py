"""The ``graders`` command line: thin wrappers over the kit's modules."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from graders import skip_slow_imports
from graders.course.nbgrader_settings import with_scripts_on_path


def _sample_data(args: argparse.Namespace) -> int:
    from graders.lessons import SAMPLE_DATA, write_sample_data

    print(write_sample_data(args.path or SAMPLE_DATA))
    return 0


def _data_write(args: argparse.Namespace) -> int:
    from graders.course import datasets

    try:
        data = datasets.read_source(args.source)
        if args.classes is not None:
            data = datasets.with_class_names(data, [name.strip() for name in args.classes.split(",")])
        data = datasets.stratified_sample(data, args.train, args.test, args.seed)
        path = datasets.write_npz(args.output, data.train, data.test, data.class_names)
    except (OSError, ValueError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error  # KeyError's repr quotes
        print(f"graders data write: {message}", file=sys.stderr)
        return 2
    sampled = f", a stratified sample (seed {args.seed})" if (args.train, args.test) != (None, None) else ""
    print(f"wrote {path} (Keras' npz layout) from {args.source}{sampled}")
    for line in datasets.describe(data):
        print(f"  {line}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from graders.course.samples import SamplesError
    from graders.course.settings import SettingsError
    from graders.demo import run_demo

    try:
        return run_demo(args.course, args.assignment)
    except (SamplesError, SettingsError) as error:
        print(f"graders demo: {error}", file=sys.stderr)
        return 2


def _data_provision(args: argparse.Namespace) -> int:
    from graders.course.provision import provision_missing
    from graders.course.settings import SettingsError

    try:
        written = provision_missing(args.course.resolve(), args.assignment)
    except SettingsError as error:
        print(f"graders data provision: {error}", file=sys.stderr)
        return 2
    if not written:
        print(f"{args.assignment}: every data file is there")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from graders.course.assignment import AssignmentError
    from graders.grade.run import grade_command

    limits = _limits(args)
    if len(args.notebook) > 1 and args.output is not None:
        raise SystemExit("graders grade: --output takes one notebook; use --output-dir for several")
    status = 0
    for notebook in args.notebook:
        output = args.output or (args.output_dir / f"{notebook.stem}.json" if args.output_dir else None)
        try:
            status |= grade_command(notebook, output, limits, args.assignment, args.course)
        except (AssignmentError, FileNotFoundError) as error:
            print(f"graders grade: {error}", file=sys.stderr)
            return 2
    return status


def _limits(args: argparse.Namespace) -> dict[str, int]:
    """The limits given on the command line (``sandbox.Limits`` fields): they win over the assignment's."""
    given = {"cell_seconds": args.cell_timeout, "notebook_seconds": args.timeout,
             "memory_bytes": int(args.memory_gib * 1024**3) if args.memory_gib is not None else None,
             "processes": args.max_processes}
    return {name: value for name, value in given.items() if value is not None}


def _autograde(args: argparse.Namespace) -> int:
    from graders.autograde.batch import BatchOptions, autograde_command
    from graders.autograde.nbgrader_options import OptionsError, parse_nbgrader_arguments

    try:
        nbgrader = parse_nbgrader_arguments(args.nbgrader_arguments)
    except OptionsError as error:
        print(f"graders autograde: {error}", file=sys.stderr)
        return 2
    if os.getcwd() not in sys.path:  # as nbgrader does: a plugin class named in the config may live beside it
        sys.path.insert(0, os.getcwd())
    options = BatchOptions(scheduler=args.scheduler, workers=args.workers, threads=args.threads_per_worker,
                           limits=_limits(args), force=args.force, output=args.output, nbgrader=nbgrader)
    return autograde_command(args.course, args.assignment, options)


def _reference(args: argparse.Namespace) -> int:
    from graders.reference.sweep import reference_command

    return reference_command(args.course, args.assignment, args.seeds, _limits(args), args.workers,
                             args.threads_per_worker, args.scheduler, args.output)


def _selfcheck(args: argparse.Namespace) -> int:
    from graders.course.assignment import AssignmentError
    from graders.reference.selfcheck import write_selfcheck

    try:
        path = write_selfcheck(args.course.resolve(), args.assignment)
    except AssignmentError as error:
        print(f"graders selfcheck: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: release it with `nbgrader generate_assignment {args.assignment} --force`")
    return 0


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    # Each default: the assignment's grading/ASSIGNMENT.toml [limits], else graders.grade.sandbox.Limits'.
    later = "default: the assignment's [limits], else"
    parser.add_argument("--cell-timeout", type=int, help=f"seconds per cell ({later} nbgrader_config.py's "
                        "Execute.timeout, else 900)")
    parser.add_argument("--timeout", type=int, help=f"seconds for the whole notebook ({later} 3600)")
    parser.add_argument("--memory-gib", type=float, help=f"memory limit of the kernel, GiB: what it really uses "
                        f"where a cgroup can be made (root), else its address space ({later} 16)")
    parser.add_argument("--max-processes", type=int, help=f"processes and threads of the sandbox user ({later} 1024)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graders", description="Sandboxed, parallel grading of nbgrader assignments.")
    commands = parser.verbs = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample-data", help="write the bundled lesson's offline sample data (5,000 real "
                                 "digits, Keras' npz layout)")
    sample.add_argument("path", type=Path, nargs="?", help="where to write it (default: where the lesson reads it)")
    sample.set_defaults(run=_sample_data)

    data = commands.add_parser("data", help="data files in Keras' npz layout")
    verbs = data.add_subparsers(dest="verb", required=True)
    write = verbs.add_parser(
        "write",
        help="write an npz (x_train, y_train, x_test, y_test, class_names) from an npz, IDX files or a Debian "
        "package, optionally a stratified sample",
    )
    write.add_argument("output", type=Path, help="the npz to write (written as named)")
    write.add_argument("--from", dest="source", required=True, metavar="SOURCE",
                       help="an npz file, a folder of the four IDX files (gzipped or not), or debian:PACKAGE "
                       "(the IDX folder an installed Debian data-set package holds, found with dpkg -L)")
    write.add_argument("--train", type=int, metavar="N", help="N training examples, each class in proportion "
                       "(default: all)")
    write.add_argument("--test", type=int, metavar="M", help="M test examples, each class in proportion "
                       "(default: all)")
    write.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0): same seed, same file")
    write.add_argument("--classes", metavar="NAMES", help='class names, label 0 first, comma-separated: '
                       '"cat,dog" (default: the source\'s class_names, if any)')
    write.set_defaults(run=_data_write)
    provision = verbs.add_parser("provision", help="write an assignment's missing data files as its "
                                 "grading/ASSIGNMENT.toml [provision.VARIABLE] tables say")
    provision.add_argument("assignment")
    provision.add_argument("--course", type=Path, default=Path("."), help="course root holding nbgrader_config.py")
    provision.set_defaults(run=_data_provision)

    grade = commands.add_parser("grade", help="grade one submitted notebook in a sandbox; write Gradescope JSON")
    grade.add_argument("notebook", type=Path, nargs="+")
    grade.add_argument("--assignment", help="the assignment it answers (default: read from the path, "
                       "COURSE/submitted/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb)")
    grade.add_argument("--course", type=Path, help="the nbgrader course folder (default: from the path, else .)")
    grade.add_argument("--output", type=Path, help="write Gradescope's results.json here (one notebook)")
    grade.add_argument("--output-dir", type=Path, help="write NOTEBOOK_STEM.json here for each notebook")
    _add_limit_options(grade)
    grade.set_defaults(run=_grade)

    batch = commands.add_parser("autograde", help="grade a course's submitted/ in parallel into autograded/ and "
                                "the gradebook; resumable; takes nbgrader autograde's options too (--help-all)",
                                epilog="nbgrader autograde's own options are taken with the same meaning: "
                                "--student GLOB, --notebook GLOB, --db URL, --course-dir DIR, --create, --no-create, "
                                "--no-execute, --debug, --quiet and any --Class.trait=value (CourseDirectory, "
                                "Autograde, Execute.timeout, LateSubmissionPlugin, ...). --help-all lists them.")
    batch.add_argument("assignment")
    batch.add_argument("--course", type=Path, default=Path("."), help="course root holding nbgrader_config.py")
    batch.add_argument("--scheduler", help="tcp://HOST:PORT of an existing Dask scheduler (default: a local cluster)")
    batch.add_argument("--workers", type=int, help="local workers (default: cores / threads, as memory allows)")
    batch.add_argument("--threads-per-worker", type=int, help="TensorFlow threads of each submission (default 1)")
    batch.add_argument("--force", "-f", action="store_true", help="grade every selected submission again, even "
                       "unchanged ones, and write its autograded/ folder anew (nbgrader's --force)")
    batch.add_argument("--output", type=Path, help="results folder (default: results/ASSIGNMENT in the course)")
    _add_limit_options(batch)
    batch.set_defaults(run=_autograde)

    reference = commands.add_parser("reference", help="run the assignment's solution over seeds and record its "
                                    "models, values and thresholds in grading/ASSIGNMENT.reference.json")
    reference.add_argument("assignment")
    reference.add_argument("--course", type=Path, default=Path("."), help="course root holding nbgrader_config.py")
    reference.add_argument("--seeds", type=int, default=5, help="runs of each source notebook (default 5)")
    reference.add_argument("--scheduler", help="tcp://HOST:PORT of an existing Dask scheduler (default: local)")
    reference.add_argument("--workers", type=int, help="local workers (default: cores / threads, as memory allows)")
    reference.add_argument("--threads-per-worker", type=int, help="TensorFlow threads of each run (default: cores / "
                           "workers)")
    reference.add_argument("--output", type=Path, help="where to write the record (default: "
                           "grading/ASSIGNMENT.reference.json in the course)")
    _add_limit_options(reference)
    reference.set_defaults(run=_reference)

    selfcheck = commands.add_parser("selfcheck", help="write the students' model self-check module from the "
                                    "reference record and the [selfcheck] settings (released with the notebook)")
    selfcheck.add_argument("assignment")
    selfcheck.add_argument("--course", type=Path, default=Path("."), help="course root holding nbgrader_config.py")
    selfcheck.set_defaults(run=_selfcheck)

    demo = commands.add_parser("demo", help="release assignments, autograde the sample submissions they declare "
                               "(grading/ASSIGNMENT.samples.toml), print scores against the expected ones")
    demo.add_argument("assignment", nargs="*", help="default: every assignment that declares samples")
    demo.add_argument("--course", type=Path, default=Path("."), help="course root holding nbgrader_config.py")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    skip_slow_imports()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported
    os.environ["PATH"] = with_scripts_on_path(os.environ)["PATH"]
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["autograde"]:
        from graders.autograde.nbgrader_options import OptionsError, nbgrader_help, split_arguments

        if "--help-all" in argv:
            print(parser.verbs.choices["autograde"].format_help())
            print("nbgrader autograde's options, with the same meaning:\n")
            print(nbgrader_help())
            return 0
        try:
            own, nbgrader = split_arguments(argv[1:])
        except OptionsError as error:
            parser.error(str(error))
        args = parser.parse_args(["autograde", *own])
        args.nbgrader_arguments = nbgrader
    else:
        args = parser.parse_args(argv)
    return args.run(args)
