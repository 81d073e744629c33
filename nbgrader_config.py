"""nbgrader configuration for the MNIST CNN course, tuned for training notebooks.

The course root is this file's folder. Settings an instructor may change
through the environment:

- ``GRADERS_DB_URL``: the gradebook (default: ``sqlite:///gradebook.db`` here);
- ``GRADERS_CELL_TIMEOUT``: seconds a cell may run (default 900, enough for
  5 epochs of the CNN on 60,000 images on 2 cores);
- ``MNIST_NPZ``: the provisioned MNIST file the notebook and the checks read
  (default: ``data/mnist.npz`` here, when it exists);
- ``FASHION_NPZ``: the same for Fashion-MNIST, read by the fashion_cnn
  assignment (default: ``data/fashion.npz`` here, when it exists).
"""

import os
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

from graders.course.nbgrader_settings import LOG_LINE_PATTERN, default_db_url
from graders.feedback.page import AddGraderFeedback, HideHiddenTests

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

COURSE_ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = "mnist-cnn"
c.CourseDirectory.db_url = default_db_url(COURSE_ROOT)

# Training takes minutes: nbgrader's 30 s default would kill every fit cell.
c.Execute.timeout = int(os.environ.get("GRADERS_CELL_TIMEOUT", "900"))
c.Execute.interrupt_on_timeout = True

# nbgrader scores any stderr output in a test cell as a failure; TensorFlow,
# absl and Python warnings write log lines there. Drop those lines' outputs.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = LOG_LINE_PATTERN

# Put back grade cells a student deleted, and restore edited locked cells.
c.OverwriteCells.add_missing_cells = True

# Keep a runaway print from bloating the autograded notebook and the feedback.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# Feedback for students: no hidden test code (stock nbgrader shows it), and the
# checks with their messages and plots of the student's model at the top.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests, AddGraderFeedback]

# The kernel inherits this environment: quiet TensorFlow's C++ logs and point
# the notebook and the checks at the provisioned data.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
for _variable, _name in (("MNIST_NPZ", "mnist.npz"), ("FASHION_NPZ", "fashion.npz")):
    _course_data = COURSE_ROOT / "data" / _name
    if _course_data.is_file():
        os.environ.setdefault(_variable, str(_course_data))
