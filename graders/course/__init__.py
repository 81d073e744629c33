"""An nbgrader course as the grader reads it: its configuration, its assignments, their notebooks and cells.

``nbgrader_settings`` (the course's ``nbgrader_config.py``) → ``assignment``
(an assignment's notebooks and files) → ``cells`` (nbgrader's cell roles, the
test cells and what they read) → ``settings`` (``grading/ASSIGNMENT.toml``,
what a notebook cannot say); ``datasets`` writes the data files an assignment names
(Keras' npz layout, from an npz, IDX files or a Debian package).
"""
