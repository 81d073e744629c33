"""A seccomp filter for the kernel: the socket families it needs, no new user namespaces, no io_uring.

A network namespace hides the host's network, but not every way out of a
sandbox is a network: ``AF_VSOCK`` reaches the hypervisor of a virtual
machine, and other families reach kernel subsystems a notebook never needs.
The filter (classic BPF, given to bubblewrap's ``--seccomp``, as Flatpak does)
lets ``socket``/``socketpair`` create only Unix, IPv4, IPv6 and netlink
sockets, refuses ``unshare``/``clone`` with ``CLONE_NEWUSER`` (a nested user
namespace would hand the kernel's code more of the Linux kernel to attack),
refuses ``clone3`` (its flags cannot be inspected: C libraries fall back to
``clone``) and ``io_uring_setup`` (io_uring opens sockets without the
``socket`` system call), and any system call of another ABI (32-bit calls on
a 64-bit machine, where ``socketcall`` hides its arguments).
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SYSCALLS = {  # the numbers of the calls the filter looks at, per machine
    "x86_64": {"socket": 41, "socketpair": 53, "clone": 56, "unshare": 272, "clone3": 435, "io_uring_setup": 425},
    "aarch64": {"socket": 198, "socketpair": 199, "clone": 220, "unshare": 97, "clone3": 435, "io_uring_setup": 425},
}
ALLOWED_FAMILIES = (1, 2, 10, 16)  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK
CLONE_NEWUSER = 0x10000000
X32_BIT = 0x40000000  # x86_64's x32 ABI: the same calls under other numbers

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (the low half of the first argument, little-endian)


def supported() -> bool:
    """The filter is written for this machine's system call numbers."""
    return platform.machine() in SYSCALLS


def program(machine: str | None = None) -> bytes:
    """The filter as an array of ``struct sock_filter`` (what ``bwrap --seccomp FD`` reads).

    Raises:
        ValueError: no system call table for ``machine`` (``supported()`` says so beforehand).
    """
    machine = machine or platform.machine()
    if machine not in SYSCALLS:
        raise ValueError(f"no seccomp filter for {machine}")
    calls = SYSCALLS[machine]
    # (opcode, jump-if-true label, jump-if-false label, constant); labels are resolved below.
    code: list[tuple] = [
        ("start", LD_ABS, None, None, ARCH),
        (None, JEQ, None, "other_abi", AUDIT_ARCH[machine]),
        (None, LD_ABS, None, None, NR),
        (None, JGE, "other_abi", None, X32_BIT),
        (None, JEQ, "family", None, calls["socket"]),
        (None, JEQ, "family", None, calls["socketpair"]),
        (None, JEQ, "flags", None, calls["unshare"]),
        (None, JEQ, "flags", None, calls["clone"]),
        (None, JEQ, "nosys", None, calls["clone3"]),
        (None, JEQ, "nosys", None, calls["io_uring_setup"]),
        (None, RET, None, None, RET_ALLOW),
        ("family", LD_ABS, None, None, ARG0),
        *[(None, JEQ, "allow", None, family) for family in ALLOWED_FAMILIES],
        (None, RET, None, None, RET_ERRNO | errno.EAFNOSUPPORT),
        ("flags", LD_ABS, None, None, ARG0),
        (None, JSET, "eperm", None, CLONE_NEWUSER),
        ("allow", RET, None, None, RET_ALLOW),
        ("eperm", RET, None, None, RET_ERRNO | errno.EPERM),
        ("nosys", RET, None, None, RET_ERRNO | errno.ENOSYS),
        ("other_abi", RET, None, None, RET_ERRNO | errno.ENOSYS),
    ]
    labels = {label: index for index, (label, *_) in enumerate(code) if label}
    packed = b""
    for index, (_, opcode, true, false, constant) in enumerate(code):
        jt = labels[true] - index - 1 if true else 0
        jf = labels[false] - index - 1 if false else 0
        packed += struct.pack("=HBBI", opcode, jt, jf, constant)
    return packed
