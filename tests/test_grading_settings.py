"""``grading/ASSIGNMENT.toml``: what an assignment's notebook cannot say, with clear errors; and an engine that
knows no lesson."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from graders.course.settings import GradingSettings, HeldOut, SettingsError, read_settings
from graders.grade.sandbox import GiB


def write(course, text: str, assignment: str = "ps1"):
    (course / "grading").mkdir(exist_ok=True)
    (course / "grading" / f"{assignment}.toml").write_text(text)
    return read_settings(course, assignment)


def test_the_mnist_course_settings_are_read_as_written():
    settings = read_settings(ROOT, "mnist_cnn")
    assert settings.data == (("MNIST_NPZ", "data/mnist.npz"),)
    assert dict(settings.limits) == {"cell_seconds": 900, "notebook_seconds": 3600}
    assert settings.held_out == HeldOut("MNIST_NPZ", "x_test", "y_test")


def test_no_file_means_no_data_and_the_default_limits(tmp_path):
    assert read_settings(tmp_path, "ps1") == GradingSettings()
    assert GradingSettings().data_files(tmp_path) == {}


def test_limits_are_converted_to_the_sandbox_units(tmp_path):
    settings = write(tmp_path, "[limits]\nmemory_gib = 2.5\nprocesses = 64\n")
    assert dict(settings.limits) == {"memory_bytes": int(2.5 * GiB), "processes": 64}


@pytest.mark.parametrize(("text", "message"), [
    ("[data\n", "is not valid TOML"),
    ("[datas]\nX = 'a'\n", "unknown table(s) datas"),
    ("[data]\nmnist = 'data/a.npz'\n", "expected VARIABLE = "),
    ("[data]\nPATH = 'data/a.npz'\n", "not one the sandbox or Python uses"),
    ("[data]\nA_NPZ = 3\n", "expected VARIABLE = "),
    ("[limits]\ncell_timeout = 60\n", "expected a positive whole number for one of cell_seconds"),
    ("[limits]\ncell_seconds = -1\n", "expected a positive whole number"),
    ("[limits]\ncell_seconds = true\n", "expected a positive whole number"),
    ("[limits]\ncell_seconds = 0.5\n", "expected a positive whole number"),
    ("[limits]\nmemory_gib = inf\n", "expected a positive whole number"),
    ("[limits]\nmemory_gib = nan\n", "expected a positive whole number"),
    ("[limits]\nmemory_gib = 1e-12\n", "memory_gib = 1e-12 is too small"),
    ("[data]\nGRADERS_DB_URL = 'data/a.npz'\n", "not one the sandbox or Python uses"),
    ("[feedback]\ndata = 'A_NPZ'\nimages = 'x'\n", "needs exactly data, images and labels"),
    ("[feedback]\ndata = 'A_NPZ'\nimages = 'x'\nlabels = 'y'\n", "'A_NPZ' is not a variable of [data]"),
    ("[data]\nA_NPZ = 'a.npz'\n[feedback]\ndata = 'A_NPZ'\nimages = 'x'\nlabels = 'y'\nclasse = ['a', 'b']\n",
     "needs exactly data, images and labels (strings), and may have classes (a list of names)"),
    *[(f"[data]\nA_NPZ = 'a.npz'\n[feedback]\ndata = 'A_NPZ'\nimages = 'x'\nlabels = 'y'\nclasses = {value}\n",
       f"[feedback] classes = {shown}: expected the classes' names, label 0 first, as a list of distinct, "
       'non-empty strings: classes = ["cat", "dog"]')
      for value, shown in (("'cat,dog'", "'cat,dog'"), ("[0, 1]", "[0, 1]"), ("['cat', 'cat']", "['cat', 'cat']"),
                           ("['cat']", "['cat']"), ("['cat', ' ']", "['cat', ' ']"), ("[]", "[]"),
                           ("[['cat'], ['dog']]", "[['cat'], ['dog']]"))],
])
def test_a_settings_mistake_is_named_with_what_is_accepted(tmp_path, text, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        write(tmp_path, text)


def test_feedback_classes_name_the_held_out_labels_and_count_in_the_fingerprint(tmp_path):
    table = "[data]\nA_NPZ = 'a.npz'\n[feedback]\ndata = 'A_NPZ'\nimages = 'x_test'\nlabels = 'y_test'\n"
    unnamed = write(tmp_path, table)
    assert unnamed.held_out == HeldOut("A_NPZ", "x_test", "y_test") and unnamed.held_out.classes == ()
    named = write(tmp_path, table + "classes = ['T-shirt/top', 'Trouser', 'Ankle boot']\n")
    assert named.held_out.classes == ("T-shirt/top", "Trouser", "Ankle boot")
    assert named.fingerprint() != unnamed.fingerprint()
    assert "Ankle boot" in named.fingerprint()
    renamed = write(tmp_path, table + "classes = ['T-shirt/top', 'Trouser', 'Boot']\n")
    assert renamed.fingerprint() != named.fingerprint()


def test_data_files_come_from_the_course_or_the_graders_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("A_NPZ", raising=False)
    settings = write(tmp_path, "[data]\nA_NPZ = 'data/a.npz'\n")
    with pytest.raises(SettingsError, match=r"needs the data file data/a.npz \(A_NPZ\), which does not exist: "
                                            r"provision it, or set A_NPZ to a copy"):
        settings.data_files(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.npz").write_bytes(b"course copy")
    assert settings.data_files(tmp_path) == {"A_NPZ": (tmp_path / "data" / "a.npz").resolve()}
    other = tmp_path / "full.npz"
    other.write_bytes(b"full size")
    monkeypatch.setenv("A_NPZ", str(other))
    assert settings.data_files(tmp_path) == {"A_NPZ": other.resolve()}
    monkeypatch.setenv("A_NPZ", str(tmp_path / "missing.npz"))
    with pytest.raises(SettingsError, match="A_NPZ=.*missing.npz, which does not exist"):
        settings.data_files(tmp_path)


def test_only_the_bundled_lessons_folder_names_mnist():
    """The engine knows no lesson: ``grep -ril mnist graders/`` finds the bundled lesson's files only."""
    naming = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "graders").rglob("*")
                    if path.is_file() and "__pycache__" not in path.parts
                    and "mnist" in path.read_text(errors="ignore").lower())
    assert naming and all(path.startswith("graders/lessons/") for path in naming), naming
