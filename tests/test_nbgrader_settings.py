"""nbgrader settings: log noise on stderr must not zero a passing test cell."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from graders.course.nbgrader_settings import LOG_LINE_PATTERN, default_db_url, with_scripts_on_path

LOG_LINES = [
    "I0000 00:00:1795904038.169010    1931 cpu_feature_guard.cc:227] This TensorFlow binary is optimized",
    "2026-11-28 22:19:01.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\n"
    "E0000 00:00:1795904038.2 1931 cuda_dnn.cc:8310] Unable to register cuDNN factory",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "WARNING:tensorflow:5 out of the last 5 calls to <function TensorFlowTrainer.make_predict_function> "
    "triggered tf.function retracing.",
    "/venv/lib/python3.11/site-packages/keras/src/layers/core/dense.py:92: UserWarning: Do not pass an "
    "`input_shape`/`input_dim` argument to a layer.\n  super().__init__(**kwargs)\n",
]


@pytest.mark.parametrize("text", LOG_LINES)
def test_log_lines_are_ignored(text):
    assert re.search(LOG_LINE_PATTERN, text)


@pytest.mark.parametrize("text", ["AssertionError: model should output shape (None, 10)", "hello\n", "0.93\n"])
def test_other_stderr_output_still_counts(text):
    assert not re.search(LOG_LINE_PATTERN, text)


def test_gradebook_defaults_to_sqlite_in_the_course_and_is_configurable(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    assert default_db_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'gradebook.db'}"
    monkeypatch.setenv("GRADERS_DB_URL", "postgresql://grader@localhost/course")
    assert default_db_url(tmp_path) == "postgresql://grader@localhost/course"


def test_scripts_folder_goes_first_on_path_once():
    scripts = str(Path(sys.executable).parent)
    env = with_scripts_on_path({"PATH": "/usr/bin", "OTHER": "kept"})
    assert env == {"PATH": f"{scripts}{os.pathsep}/usr/bin", "OTHER": "kept"}
    assert with_scripts_on_path(env) == env
