"""Where grading tasks run: a local Dask cluster sized to the machine, or an existing one.

Each task trains the student's models with ``threads`` TensorFlow threads, so
``workers x threads`` never exceeds the cores: oversubscribed training threads
slow every submission down. One core per worker gives the most submissions per
hour (training a small convnet scales poorly across threads); memory caps the
worker count, each worker holding TensorFlow twice (its own checks and the
student's kernel).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from graders.grade.sandbox import GiB, thread_environment

MEMORY_PER_WORKER = 3 * GiB


@dataclass(frozen=True)
class Sizing:
    """How many workers, each with how many TensorFlow threads."""

    workers: int
    threads: int


def available_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def total_memory() -> int:
    """Physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def size_cluster(cores: int, memory: int, workers: int | None = None, threads: int | None = None) -> Sizing:
    """Workers and threads that fit the cores and the memory; explicit choices win."""
    if threads is None:
        threads = max(1, cores // workers) if workers else 1
    if workers is None:
        workers = max(1, min(cores // threads, memory // MEMORY_PER_WORKER))
    if workers < 1 or threads < 1:
        raise ValueError("workers and threads per worker must be at least 1")
    return Sizing(workers, threads)


def worker_environment(threads: int) -> dict[str, str]:
    """A local worker's variables: its thread pools, and TensorFlow's C++ log lines kept off the console
    (the checks' failures are exceptions, reported per submission)."""
    return {**thread_environment(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}


@contextlib.contextmanager
def dask_client(scheduler: str | None, sizing: Sizing) -> Iterator:
    """A client of ``scheduler`` (``tcp://HOST:PORT``), or of a local cluster of ``sizing``."""
    if scheduler:
        from dask.distributed import Client

        with Client(scheduler) as client:
            yield client
        return
    from dask.distributed import Client, LocalCluster  # only when there is something to grade: a second

    with LocalCluster(n_workers=sizing.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR, env=worker_environment(sizing.threads)) as cluster, \
            Client(cluster) as client:
        yield client
