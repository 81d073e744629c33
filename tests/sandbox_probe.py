"""A curious student's answer cell, graded for real: ``python tests/sandbox_probe.py SETTINGS.json``.

The submission is the ``numpy_forward`` solution (worth all its 15 points)
with one more cell that tries, from inside the kernel, to read the canary
files, list the host's folders, connect to the test's listeners and use some
memory. It is graded with ``graders.grade.run.grade`` as whoever runs this
script (the tests run it as root and as an ordinary user), and what the cell
found is printed as one JSON line, with the score and the resources.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat

PROBE = r"""
import json, os, socket
found = {"listings": {}, "reads": {}, "sockets": {}, "writes": {}}
def attempt(action):
    try:
        return action()
    except BaseException as error:
        return "error: " + type(error).__name__
for folder in SETTINGS["list"]:
    found["listings"][folder] = attempt(lambda: sorted(os.listdir(folder)))
for path in SETTINGS["read"]:
    found["reads"][path] = attempt(lambda: open(path).read())
for folder in SETTINGS["write"]:
    found["writes"][folder] = attempt(lambda: open(os.path.join(folder, "from-the-sandbox"), "w").write("x"))
def connect(family, address):
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(3)
        client.connect(address)
    return "connected"
for host, port in SETTINGS["tcp"]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    found["sockets"][f"{host} {port}"] = attempt(lambda: connect(family, (host, port)))
for name in SETTINGS["unix"]:
    found["sockets"][name] = attempt(lambda: connect(socket.AF_UNIX, name.replace("@", "\0", 1)))
found["passwd"] = attempt(lambda: open("/etc/passwd").read())
AF_VSOCK, AF_PACKET = 40, 17
found["families"] = {name: attempt(lambda: socket.socket(family, socket.SOCK_STREAM).close() or "created")
                     for name, family in (("vsock", AF_VSOCK), ("packet", AF_PACKET))}
import ctypes
found["user_namespace"] = ctypes.CDLL(None, use_errno=True).unshare(0x10000000)  # -1: refused
def move_exports():  # a link in place of exports/ would send the grader's writes to a host folder
    os.rename("exports", "exports-moved")
    os.rename("exports-moved", "exports")
    return "moved"
found["move_exports"] = attempt(move_exports)
found["uid"] = os.getuid()
found["processes"] = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
hog = bytearray(SETTINGS["touch_bytes"])
del hog
print("PROBE" + json.dumps(found))
"""


def main() -> None:
    settings = json.loads(Path(sys.argv[1]).read_text())
    from graders.course.assignment import find_assignment
    from graders.grade.run import grade
    from graders.grade.sandbox import Limits

    found = find_assignment(Path(settings["course"]), "numpy_forward")
    graded = found.notebook(found.notebook_names[0])
    source = nbformat.read(Path(settings["course"]) / "source" / "numpy_forward" / graded.name, as_version=4)
    source.cells.append(nbformat.v4.new_code_cell(f"SETTINGS = {json.dumps(settings)!s}\n{PROBE}"))
    with tempfile.TemporaryDirectory(prefix="graders-probe-") as folder:
        submission = Path(folder) / graded.name
        nbformat.write(source, submission)
        limits = Limits(**{**dict(graded.settings.limits), **settings.get("limits", {})})
        grading = grade(submission, graded, limits, hide=(found.course,))
    probe = None
    for cell in grading.notebook.cells if grading.notebook else []:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            if text.startswith("PROBE"):
                probe = json.loads(text[len("PROBE") :])
    total = sum(grading.score(name) for name in grading.points)
    print(json.dumps({"probe": probe, "score": total, "events": grading.events, "resources": grading.resources}))


if __name__ == "__main__":
    main()
