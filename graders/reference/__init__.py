"""Reference records: the instructor's solution run over seeds, so test cells name its values instead of copying them.

``record.py`` (the file and its lookups) -> ``describe.py`` (what a run
records, in the checker) -> ``sweep.py`` (``graders reference``: the runs, on
the grading workers).
"""
