"""Dask ``LocalCluster`` workers that a Ctrl-C stops cleanly: one line from the parent, no worker tracebacks.

A Ctrl-C in a terminal sends SIGINT to every process of the foreground group:
the ``pvopt`` process and the worker processes of its ``LocalCluster``. Workers
that receive it die printing ``KeyboardInterrupt`` tracebacks. The workers
started here ignore SIGINT (the disposition is set while they are spawned and
is inherited); the parent alone handles the Ctrl-C and then closes the cluster,
which stops them. Used by the sweep (:mod:`pvopt.studies.sweep`) and the
decomposed plan (:mod:`pvopt.lp.decompose`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["sigint_ignored", "sigint_deferred", "local_cluster", "start_local_cluster", "close_quietly"]

CLOSE_TIMEOUT_S = 10
"""Seconds allowed to stop the client and the cluster."""


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this block (main thread only; elsewhere a no-op); the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C back until the end of this block, then raise ``KeyboardInterrupt`` (main thread only).

    For short steps that must not be cut in two, such as the renames that commit a result.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: hit.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if hit:
        raise KeyboardInterrupt


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """Silence distributed's loggers (connection closed, worker lost) while a cluster shuts down."""
    names = ["distributed", "tornado", "asyncio"]
    old = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for n, lvl in old.items():
            logging.getLogger(n).setLevel(lvl)


def close_quietly(*objs: Any) -> None:
    """Close dask clients and clusters, ignoring a Ctrl-C and the shutdown chatter meanwhile."""
    with sigint_ignored(), _quiet_logs():
        for obj in objs:
            if obj is None:
                continue
            try:
                obj.close(timeout=CLOSE_TIMEOUT_S)
            except TypeError:
                obj.close()
            except Exception:  # noqa: BLE001 - a cluster that cannot close cleanly is torn down at exit anyway
                pass


TRACKER_WARNING = "ignore:resource_tracker:UserWarning"
"""Warning filter handed to multiprocessing's resource tracker: after a Ctrl-C it would report the semaphores of the
stopped workers as "leaked" (it cleans them up itself)."""


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (if not running) with :data:`TRACKER_WARNING` among its warning options."""
    from multiprocessing import resource_tracker

    if TRACKER_WARNING not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNING)  # read when the tracker process is started (util._args_from_interpreter_flags)
    resource_tracker.ensure_running()


def start_local_cluster(n_workers: int) -> tuple[Any, Any]:
    """Start a ``LocalCluster`` of ``n_workers`` single-threaded worker processes that ignore Ctrl-C.

    Returns
    -------
    tuple
        ``(client, cluster)``; close both with :func:`close_quietly`.
    """
    from distributed import Client, LocalCluster

    with sigint_ignored():  # spawned workers inherit the ignored SIGINT
        _quiet_resource_tracker()
        cluster = LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        try:
            client = Client(cluster)
        except BaseException:
            close_quietly(cluster)
            raise
    return client, cluster


@contextmanager
def local_cluster(n_workers: int) -> Iterator[Any]:
    """Start a ``LocalCluster`` of single-threaded worker processes that ignore Ctrl-C; yield a ``distributed.Client`` on it.

    Parameters
    ----------
    n_workers
        Number of worker processes.

    Yields
    ------
    distributed.Client
        Closed (with the cluster) on the way out, also after a ``KeyboardInterrupt``.
    """
    client, cluster = start_local_cluster(n_workers)
    try:
        yield client
    finally:
        close_quietly(client, cluster)
