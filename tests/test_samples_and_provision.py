"""Sample submissions declared beside an assignment (``graders.course.samples``), and data provisioned from its
settings (``graders.course.provision``)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from graders.course.provision import provision_missing
from graders.course.samples import (
    CODE_STUB,
    SamplesError,
    build,
    cell_points,
    expected_scores,
    parse_samples,
    read_samples,
)
from graders.course.settings import SettingsError, read_settings
from graders.lessons.mnist_cnn import read_release
from graders.lessons.mnist_cnn.samples import SAMPLES


def notebook(*cells):
    """A small assignment notebook: (kind, grade_id, source, points) cells with nbgrader metadata."""
    import nbformat

    made = []
    for kind, name, source, points in cells:
        nbgrader = {"grade_id": name, "solution": kind == "solution", "grade": kind == "test",
                    "locked": kind != "solution", "schema_version": 3}
        if points:
            nbgrader["points"] = points
        made.append(nbformat.v4.new_code_cell(source, metadata={"nbgrader": nbgrader}))
    return nbformat.v4.new_notebook(cells=made)


SOURCE = notebook(("solution", "answer", "### BEGIN SOLUTION\ndef f(x):\n    return x + 1\n### END SOLUTION", 0),
                  ("test", "test_f", "assert f(1) == 2", 2), ("test", "test_g", "assert f(2) == 3", 1))
RELEASE = notebook(("solution", "answer", CODE_STUB, 0), ("test", "test_f", "assert f(1) == 2", 2),
                   ("test", "test_g", "assert f(2) == 3", 1))


def test_samples_are_the_solution_edited_as_declared_with_their_expected_scores():
    samples = parse_samples('''
[[sample]]
student = "off_by_one"
description = "returns x"
fails = ["test_f"]
partial = { test_g = 0.5 }
[[sample.edit]]
cell = "answer"
replace = "x + 1"
with = "x"
[[sample.tamper]]
cell = "test_g"
source = "pass"

[[sample]]
student = "rewritten"
description = "the whole cell"
[[sample.edit]]
cell = "answer"
code = "f = lambda x: x + 1"
''')
    built = build(samples[0], SOURCE, RELEASE)
    assert built.cells[0].source.endswith("return x") and CODE_STUB not in built.cells[0].source
    assert built.cells[2].source == "pass"
    assert expected_scores(samples[0], {"lesson.ipynb": RELEASE}) == {"test_f": 0.0, "test_g": 0.5}
    assert build(samples[1], SOURCE, RELEASE).cells[0].source == "f = lambda x: x + 1"
    assert expected_scores(samples[1], {"lesson.ipynb": RELEASE}) == {"test_f": 2.0, "test_g": 1.0}
    # several notebooks: test cells are named NOTEBOOK_STEM/GRADE_ID
    assert cell_points({"a.ipynb": RELEASE, "b.ipynb": RELEASE}) == {"a/test_f": 2, "a/test_g": 1, "b/test_f": 2,
                                                                      "b/test_g": 1}


@pytest.mark.parametrize("text, message", [
    ("[[sample]]\nstudent = 'a'", "description should be a string"),
    ("[[sample]]\nstudent = 'a b'\ndescription = 'x'", "should be a new folder name"),
    ("[[sample]]\nstudent = 'a'\ndescription = 'x'\n[[sample]]\nstudent = 'a'\ndescription = 'y'", "new folder name"),
    ("[[sample]]\nstudent = 'a'\ndescription = 'x'\nscore = 3", "unknown key\\(s\\) score"),
    ("[[sample]]\nstudent = 'a'\ndescription = 'x'\n[[sample.edit]]\ncell = 'answer'\nreplace = 'x'",
     "replace needs with"),
    ("[[sample]]\nstudent = 'a'\ndescription = 'x'\n[[sample.edit]]\ncell = 'answer'", "either replace and with"),
    ("[[sample]]\nstudent = 'a'\ndescription = 'x'\nuntouched = true\nfails = ['test_f']", "untouched = true"),
    ("[sample]\nstudent = 'a'", "expected only \\[\\[sample\\]\\] tables"),
    ("[[sample]\n", "not valid TOML"),
])
def test_a_wrong_samples_file_says_what_is_wrong(text, message):
    with pytest.raises(SamplesError, match=message):
        parse_samples(text)


def test_a_sample_naming_what_the_assignment_lacks_fails_loudly():
    wrong_cell = parse_samples("[[sample]]\nstudent='a'\ndescription='x'\n[[sample.edit]]\ncell='other'\n"
                               "replace='x'\nwith='y'")[0]
    with pytest.raises(SamplesError, match="other is not a solution code cell"):
        build(wrong_cell, SOURCE, RELEASE)
    wrong_text = parse_samples("[[sample]]\nstudent='a'\ndescription='x'\n[[sample.edit]]\ncell='answer'\n"
                               "replace='x * 2'\nwith='y'")[0]
    with pytest.raises(SamplesError, match="'x \\* 2' is not in the solution of answer"):
        build(wrong_text, SOURCE, RELEASE)
    unknown = parse_samples("[[sample]]\nstudent='a'\ndescription='x'\nfails=['test_h']")[0]
    with pytest.raises(SamplesError, match="unknown test cells: test_h"):
        expected_scores(unknown, {"lesson.ipynb": RELEASE})
    too_much = parse_samples("[[sample]]\nstudent='a'\ndescription='x'\npartial={test_g=1}")[0]
    with pytest.raises(SamplesError, match="between 0 and 1"):
        expected_scores(too_much, {"lesson.ipynb": RELEASE})


def test_the_mnist_lessons_samples_are_declared_beside_it_and_name_its_test_cells():
    assert SAMPLES == read_samples(ROOT, "mnist_cnn")
    students = [sample.student for sample in SAMPLES]
    assert students[:2] == ["solution", "untouched"] and len(set(students)) == len(students) == 8
    release = read_release()
    for sample in SAMPLES:
        scores = expected_scores(sample, {"mnist_cnn.ipynb": release})
        assert sum(scores.values()) <= 20


def test_missing_data_is_written_from_the_settings_provision_and_existing_data_is_kept(tmp_path, monkeypatch):
    (tmp_path / "grading").mkdir()
    source = tmp_path / "raw.npz"
    rng = np.random.default_rng(0)
    np.savez(source, x_train=rng.integers(0, 255, (40, 4, 4), dtype=np.uint8), y_train=np.arange(40) % 4,
             x_test=rng.integers(0, 255, (20, 4, 4), dtype=np.uint8), y_test=np.arange(20) % 4)
    (tmp_path / "grading" / "lesson.toml").write_text('''
[data]
LESSON_NPZ = "data/lesson.npz"
[provision.LESSON_NPZ]
from = "raw.npz"
train = 20
test = 8
classes = ["a", "b", "c", "d"]
''')
    monkeypatch.delenv("LESSON_NPZ", raising=False)
    written = provision_missing(tmp_path, "lesson")
    assert written == [tmp_path / "data" / "lesson.npz"]
    with np.load(written[0], allow_pickle=False) as data:
        assert data["x_train"].shape == (20, 4, 4) and data["x_test"].shape == (8, 4, 4)
        assert np.bincount(data["y_train"]).tolist() == [5, 5, 5, 5]
        assert data["class_names"].tolist() == ["a", "b", "c", "d"]
    assert provision_missing(tmp_path, "lesson") == []  # there: left alone
    (tmp_path / "grading" / "other.toml").write_text('[data]\nOTHER_NPZ = "data/other.npz"\n')
    with pytest.raises(SettingsError, match=r"data/other.npz \(OTHER_NPZ\) is missing and has no "
                                            r"\[provision.OTHER_NPZ\]: write it \(graders data write"):
        provision_missing(tmp_path, "other")


@pytest.mark.parametrize("table, message", [
    ('[provision.NOPE]\nfrom = "x.npz"', "NOPE is not a variable of \\[data\\]"),
    ('[provision.LESSON_NPZ]\ntrain = 3', "from should name the source"),
    ('[provision.LESSON_NPZ]\nfrom = "x.npz"\ntrain = -1', "train = -1 should be a whole number"),
    ('[provision.LESSON_NPZ]\nfrom = "x.npz"\nsize = 3', "expected a table of from"),
])
def test_a_wrong_provision_table_says_what_is_wrong(tmp_path, table, message):
    (tmp_path / "grading").mkdir()
    (tmp_path / "grading" / "lesson.toml").write_text(f'[data]\nLESSON_NPZ = "data/lesson.npz"\n{table}\n')
    with pytest.raises(SettingsError, match=message):
        read_settings(tmp_path, "lesson")


def test_the_mnist_lessons_data_is_provisioned_from_its_own_offline_sample(tmp_path, monkeypatch, sample_npz):
    import shutil

    (tmp_path / "grading").mkdir()
    shutil.copy(ROOT / "grading" / "mnist_cnn.toml", tmp_path / "grading")
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    [written] = provision_missing(tmp_path, "mnist_cnn")
    with np.load(written) as data, np.load(sample_npz) as sample:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(data[name], sample[name])
