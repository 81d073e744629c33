"""Which kernel a submitted notebook asks for, decided as ``nbgrader autograde`` decides it.

nbgrader runs a submission with the source notebook's kernelspec (recorded
in the gradebook by ``generate_assignment``), or the submitted notebook's
when the source has none, and fails the submission when no such kernel is
installed. The sandbox always runs this Python's ipykernel; a kernel that
nbgrader could not start, or one for another language, fails the submission
here too, before anything runs.
"""

from __future__ import annotations

import json

from graders.course.assignment import GradedNotebook


def kernel_name(graded: GradedNotebook, submitted: bytes | None) -> tuple[str | None, str]:
    """(the kernel's name, whose kernelspec named it) for one notebook: the source's, else the submission's
    (``submitted``: the file's bytes, None when there is none); (None, "") when neither names one."""
    name = (graded.source_nb.metadata.get("kernelspec") or {}).get("name")
    if name:
        return name, "the source notebook's"
    try:
        metadata = json.loads(submitted or b"{}").get("metadata")
    except (ValueError, AttributeError):  # not JSON, or not a notebook: the engine says so when it grades it
        return None, ""
    kernelspec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    name = kernelspec.get("name") if isinstance(kernelspec, dict) else None
    return (name, "the submitted notebook's") if isinstance(name, str) and name else (None, "")


def kernel_problem(graded: GradedNotebook, submitted: bytes | None) -> str | None:
    """Why the notebook ``graded.name`` cannot be graded with the kernel it asks for, or None when it can.

    The name is resolved by jupyter_client's ``KernelManager``, as nbgrader's
    ``Execute`` resolves it (``python`` and ``python3`` are this Python).
    """
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import KernelManager

    name, whose = kernel_name(graded, submitted)
    if name is None:
        return None
    try:
        spec = KernelManager(kernel_name=name).kernel_spec
    except NoSuchKernel:
        return (
            f"{graded.name}: {whose} kernelspec names the kernel {name!r}, which is not installed "
            "(nbgrader autograde fails it too)"
        )
    if (spec.language or "").lower() != "python":
        return (
            f"{graded.name}: {whose} kernelspec names the {spec.language} kernel {name!r}; the sandbox runs "
            "Python notebooks only"
        )
    return None
