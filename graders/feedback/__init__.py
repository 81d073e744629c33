"""Feedback students can read: ``data`` (measured in the grader) → ``plots`` (drawn) → ``page`` (the engine's
page, and the preprocessors ``nbgrader generate_feedback`` runs)."""
