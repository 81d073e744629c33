"""``graders grade``: one submission, graded outside the student's kernel.

``submission`` (read and restore the notebook) → ``sandbox`` (``view``:
what the kernel sees, ``cgroup``: its memory, ``sandbox_launch``: a kernel
of its own) → ``execute`` (run the cells) →
``kernel_bridge`` / ``bring_across`` / ``export`` (the objects a test cell
reads) → ``checker`` (the instructor's test cells, scored by nbgrader's
rules) → ``results`` (Gradescope's results.json, the table), composed by
``run``.
"""
