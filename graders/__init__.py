"""Grading kit for deep-learning courses on nbgrader: any assignment, graded outside the student's kernel.

The engine knows no lesson: an assignment's notebooks hold its checks (their
test cells), and ``grading/ASSIGNMENT.toml`` what the notebooks cannot say.
The lessons that come with the kit are in ``graders.lessons``.
"""

__version__ = "0.1.0"
