"""``graders reference ASSIGNMENT``: run the instructor's solution over seeds and write the reference record.

Each source notebook runs ``--seeds K`` times, as a submission, on the same
Dask workers and in the same sandbox as grading, with the grader's data; in
run ``k`` every seed the notebook sets is shifted by ``k``
(``graders.grade.execute.SWEEP_SEED_CODE``), so each run trains other
weights on other batches. The objects each autograded test cell reads are
described in the checker (``graders.reference.describe``), and the runs are
merged into ``grading/ASSIGNMENT.reference.json`` (``graders.reference.record``):
the models and the values every run agreed on, and the spread and
thresholds of each number that varied. A record of another data set (other
data files) is kept while the source notebook is unchanged.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graders.autograde.cluster import available_cores, dask_client, size_cluster, total_memory
from graders.autograde.fingerprint import file_sha
from graders.autograde.worker import DataFile, carry_data, limit_threads, materialize_data
from graders.course.assignment import AssignmentError, GradedNotebook, find_assignment
from graders.grade.run import NOT_REACHED
from graders.grade.sandbox import Limits
from graders.reference.record import (
    THRESHOLD_RULE,
    RecordError,
    bounds,
    data_key,
    data_shas,
    record_path,
    source_version,
)

MIN_SEEDS = 5  # the rule widens the spread of n seeds by its confidence bound: x2.4 at 5, x4.4 at 3


def locked_code(notebook) -> list[str]:
    """The code of a notebook's locked cells other than test cells: what a run restores from the release."""
    from graders.course.cells import is_test_cell

    return [cell.source for cell in notebook.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("locked")
            and not cell.metadata["nbgrader"].get("solution") and not is_test_cell(cell)]


@dataclass
class Run:
    """One seed's run of one source notebook."""

    notebook: str
    seed: int
    recorded: dict  # {"models", "values", "problems"} (``graders.grade.run._recorded``)
    failed: dict[str, str] = field(default_factory=dict)  # test cells the solution failed -> why
    events: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_solution(graded: GradedNotebook, seed: int, limits: Limits, files: tuple[DataFile, ...],
                 data: dict[str, bytes]) -> Run:
    """The Dask task: grade the source notebook itself with ``seed``, recording what its test cells read."""
    limit_threads(limits.threads)
    from graders.grade.run import grade

    paths = {file.variable: materialize_data(data[file.variable], file) for file in files}
    with tempfile.TemporaryDirectory(prefix="graders-reference-") as folder:
        notebook = Path(folder) / graded.name
        notebook.write_text(graded.source)
        grading = grade(notebook, graded, limits, data=paths, seed=seed, record=True)
    failed = {name: grading.message(name) for name in grading.points if grading.score(name) < grading.points[name]}
    return Run(graded.name, seed, grading.recorded, failed, grading.events, grading.seconds)


def _merge(runs: list[Run]) -> tuple[dict, dict, dict, list[str]]:
    """The runs of one notebook as the record's models, values and figures, with warnings."""
    warnings_: list[str] = []
    models: dict = {}
    for run in runs:
        for name, model in run.recorded.get("models", {}).items():
            if name not in models:
                models[name] = model
            elif model["layers"] != models[name]["layers"]:
                warnings_.append(f"{run.notebook}: the model {name!r} differs between seeds (seed {run.seed}): "
                                 "the first seed's is recorded")
    names = set().union(*(run.recorded.get("values", {}) for run in runs))
    values, figures = {}, {}
    for name in sorted(names):
        found = [run.recorded.get("values", {}).get(name, None) for run in runs]
        if any(name not in run.recorded.get("values", {}) for run in runs):
            warnings_.append(f"{runs[0].notebook}: {name!r} was not read in every run: not recorded")
        elif all(value == found[0] for value in found):
            values[name] = found[0]
        elif all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in found):
            figures[name] = bounds([float(value) for value in found])
        else:
            warnings_.append(f"{runs[0].notebook}: {name!r} differs between seeds and is not a number: not recorded")
    same = sorted(name for name, value in values.items() if isinstance(value, float))
    if len(runs) > 1 and same and not figures:
        warnings_.append(f"{runs[0].notebook}: every run gave the same numbers ({', '.join(same)}): the notebook's "
                         "randomness does not follow the seeds graders shifts (random, numpy.random, Keras' and "
                         "TensorFlow's set_random_seed); generators seeded directly stay fixed")
    for run in runs:
        for conflict in run.recorded.get("conflicts", []):
            warnings_.append(f"{run.notebook} seed {run.seed}: {conflict}")
    return models, values, figures, warnings_


def merge_record(existing: dict | None, assignment: str, notebooks: dict[str, GradedNotebook], key: str,
                 files: dict[str, dict], runs: list[Run], seeds: list[int]) -> tuple[dict, list[str]]:
    """The new record: ``existing`` with this data set's entry of each notebook replaced (entries of other data
    sets kept only for a notebook whose source did not change), and the warnings to show."""
    record = {"assignment": assignment, "rule": THRESHOLD_RULE, "notebooks": {}}
    old = (existing or {}).get("notebooks", {})
    messages = []
    for name, graded in notebooks.items():
        version = source_version(graded.source_nb)
        kept = old.get(name, {}).get("data_sets", {}) if old.get(name, {}).get("source") == version else {}
        models, values, figures, warned = _merge([run for run in runs if run.notebook == name])
        messages += warned
        entry = {"files": files, "seeds": seeds, "models": models, "values": values, "figures": figures}
        record["notebooks"][name] = {"source": version, "data_sets": {**kept, key: entry}}
    return record, messages


def _summary(record: dict, key: str, runs: list[Run], console: Console) -> None:
    table = Table(title=f"reference record: data set {key}, {len({run.seed for run in runs})} seeds")
    for column in ("notebook", "kind", "name", "recorded"):
        table.add_column(column)
    for name, notebook in record["notebooks"].items():
        entry = notebook["data_sets"][key]
        for model, described in entry["models"].items():
            params = sum(layer["params"] for layer in described["layers"])
            table.add_row(name, "model", model, f"{len(described['layers'])} layers, {params:,} parameters")
        for value, content in entry["values"].items():
            table.add_row(name, "value", value, json.dumps(content)[:60])
        for figure, spread in entry["figures"].items():
            table.add_row(name, "figure", figure,
                          f"mean {spread['mean']:.4f} sd {spread['sd']:.4f} seeds {spread['worst_low']:.4f}.."
                          f"{spread['worst_high']:.4f} -> at_least {spread['at_least']:.3f}, at_most "
                          f"{spread['at_most']:.3f}")
    console.print(table)


def record_reference(course: Path, assignment: str, seeds: int, limits: dict | None = None,
                     workers: int | None = None, threads: int | None = None, scheduler: str | None = None,
                     output: Path | None = None, console: Console | None = None) -> dict:
    """Run every source notebook of ``assignment`` ``seeds`` times and write its reference record.

    ``limits``: the command line's (they win over the assignment's); ``output``:
    where to write (default ``grading/ASSIGNMENT.reference.json`` in the course).
    Returns the record written.

    Raises:
        AssignmentError: no such assignment, a data file is missing, fewer than
            ``MIN_SEEDS`` seeds, or a run failed to run at all (its reason).
    """
    if seeds < MIN_SEEDS:
        raise AssignmentError(f"a reference needs at least {MIN_SEEDS} seeds: fewer give thresholds so wide that "
                              "a broken model may pass (10 or 20 give tighter ones)")
    console = console or Console()
    course = course.resolve()
    found = find_assignment(course, assignment)
    notebooks = {graded.name: graded for graded in found.notebooks(current_reference=False)}
    for graded in notebooks.values():
        if locked_code(graded.source_nb) != locked_code(graded.release_nb):  # the runs restore the release's
            raise AssignmentError(f"release/{assignment}/{graded.name} is older than its source: run `nbgrader "
                                  f"generate_assignment {assignment} --force` first")
    # The runs read no record: what they record must not depend on an older one.
    notebooks_run = {name: replace(graded, reference="") for name, graded in notebooks.items()}
    data = found.data_files()
    shas = data_shas(sorted(data), {variable: str(path) for variable, path in data.items()})
    files = tuple(DataFile(variable, path.name, file_sha(path)) for variable, path in data.items())
    key = data_key(shas)
    sizing = size_cluster(available_cores(), total_memory(), workers, threads)
    run_limits = Limits(**{**dict(found.settings.limits), **(limits or {}), "threads": sizing.threads})
    seed_list = list(range(1, seeds + 1))
    tasks = [(graded, seed) for graded in notebooks_run.values() for seed in seed_list]
    where = scheduler or f"{sizing.workers} local workers x {sizing.threads} thread(s)"
    console.print(f"{assignment}: {len(notebooks)} notebook(s) x {seeds} seeds = {len(tasks)} runs ({where}); "
                  f"data set {key}")
    runs: list[Run] = []
    start = time.monotonic()
    with dask_client(scheduler, sizing) as client, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console) as progress:
        from dask.distributed import as_completed

        bar = progress.add_task("solution runs", total=len(tasks))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            carried = client.submit(carry_data, {variable: path.read_bytes() for variable, path in data.items()},
                                    pure=False)
        futures = [client.submit(run_solution, graded, seed, run_limits, files, carried, pure=False)
                   for graded, seed in tasks]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            progress.update(bar, advance=1)
            failed = {name: why for name, why in run.failed.items() if "reference record" not in why}
            line = f"{run.notebook} seed {run.seed}: {run.seconds:.0f} s"
            if failed:
                line += f"; the solution failed {', '.join(sorted(failed))}: {next(iter(failed.values()))[:120]}"
            progress.console.print(line, highlight=False)
    for run in runs:
        stopped = [why for why in run.failed.values() if why.startswith(NOT_REACHED)]
        if stopped or run.recorded.get("problems"):
            raise AssignmentError(f"{run.notebook} seed {run.seed} did not run to the end, nothing was written: "
                                  f"{(stopped + run.recorded.get('problems', []))[0]}")
    runs.sort(key=lambda run: (run.notebook, run.seed))
    path = output or record_path(course, assignment)
    existing = None
    if path.is_file():
        try:
            existing = json.loads(path.read_text())
        except ValueError:
            existing = None
    described_files = {variable: {"name": data[variable].name, "sha256": sha} for variable, sha in shas.items()}
    record, messages = merge_record(existing, assignment, notebooks, key, described_files, runs, seed_list)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    partial.replace(path)
    for message in messages:
        console.print(f"[yellow]{message}[/]")
    _summary(record, key, runs, console)
    console.print(f"wrote {path} in {time.monotonic() - start:.0f} s ({THRESHOLD_RULE}); review it and commit it")
    if found.settings.selfcheck is not None and output is None:  # the students' tables follow the solution's
        from graders.reference.selfcheck import write_selfcheck

        written = write_selfcheck(course, assignment)
        console.print(f"wrote {written.relative_to(course)} from it: release it with `nbgrader generate_assignment "
                      f"{assignment} --force`")
    return record


def reference_command(course: Path, assignment: str, seeds: int, limits: dict, workers: int | None,
                      threads: int | None, scheduler: str | None, output: Path | None) -> int:
    """The CLI verb: 0 when the record was written, 2 with one line when it could not be."""
    import sys

    try:
        record_reference(course, assignment, seeds, limits, workers, threads, scheduler, output)
    except (AssignmentError, RecordError, FileNotFoundError) as error:
        print(f"graders reference: {error}", file=sys.stderr)
        return 2
    return 0
