"""``graders autograde``: every submission of an assignment, graded in parallel into the gradebook.

``locate`` (which notebook of a folder) → ``fingerprint`` (what is new or
changed) → ``cluster`` / ``worker`` (Dask tasks) → ``store`` (atomic files)
→ ``record`` (nbgrader's gradebook, one writer) → ``report`` (grades.csv,
the HTML report), composed by ``batch``.
"""
