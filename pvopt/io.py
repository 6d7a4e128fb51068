"""Atomic file output: every file pvopt writes appears whole or not at all.

A file is written to a hidden temporary file in the target folder and moved
into place with ``os.replace`` only when complete, so a run killed midway
never leaves a partial file that looks complete. An existing result is not
overwritten without ``force``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

from pvopt.errors import OutputError, OutputExistsError, RunLockedError

__all__ = ["write_netcdf_atomic", "write_bytes_atomic", "write_text_atomic", "check_target", "prepare_for_netcdf",
           "temp_beside", "discard", "prepare_out_dir", "run_lock", "LOCK_NAME", "content_digest", "output_error"]

LOCK_NAME = ".pvopt.lock"
"""Lock file of a run folder: held (``flock``) by the one pvopt process writing into the folder."""

def prepare_for_netcdf(ds: xr.Dataset) -> xr.Dataset:
    """Return a copy of ``ds`` that netCDF can store: object arrays as str, booleans as 0/1 (flagged), None attrs as ``""``."""
    out = ds.copy()
    for k in list(out.variables):
        v = out[k]
        if v.dtype == object:
            out[k] = v.astype(str)
        if v.dtype == bool:
            out[k] = v.astype("int8")
            out[k].attrs["flag"] = "boolean stored as 0/1"
    for k, v in list(out.attrs.items()):
        if isinstance(v, bool):
            out.attrs[k] = int(v)
        elif v is None:
            out.attrs[k] = ""
    return out

def _umask_mode() -> int:
    """Return the mode a new file gets under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask

def output_error(path: Path | str, e: OSError, option: str = "--out") -> OutputError:
    """Return the :class:`~pvopt.errors.OutputError` (exit 5) for an ``OSError`` met while writing ``path``, with the fix."""
    why = e.strerror or str(e)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"the folder is not writable; choose a writable {option} or fix its permissions"
    elif e.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some disk space, or choose an --out on another disk"
    elif e.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        fix = f"a path component is a file, not a folder; choose another {option}"
    else:
        fix = f"check the folder, or choose another {option}"
    return OutputError(f"cannot write {path}: {why}; {fix}")


def _write_atomic(path: Path, write: Callable[[str], object]) -> None:
    """Run ``write(tmp)`` on a temporary file beside ``path``, then move it into place; remove it on failure."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_beside(path)
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        discard(tmp)
        raise output_error(path, e) from e
    except BaseException:
        discard(tmp)
        raise

def write_netcdf_atomic(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to ``path`` via a temporary file in the same directory."""
    _write_atomic(path, lambda tmp: prepare_for_netcdf(ds).to_netcdf(tmp, engine="h5netcdf"))

def write_bytes_atomic(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory, moved into place when complete."""
    _write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))

def write_text_atomic(text: str, path: Path) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same directory, moved into place when complete."""
    write_bytes_atomic(text.encode("utf-8"), path)

def temp_beside(path: Path) -> str:
    """Create a new hidden temporary file next to ``path`` (same file system, so ``os.replace`` is atomic); return its name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _umask_mode())
    return tmp

def discard(tmp: str | None) -> None:
    """Remove the temporary file ``tmp`` if there is one (never raises: it runs while another error is on its way)."""
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass



def prepare_out_dir(path: Path | str, option: str = "--out") -> Path:
    """Create the output folder ``path`` if needed and check that pvopt can write into it, before any work.

    Raises
    ------
    OutputError
        Exit code 5, naming the folder and ``option``: ``path`` (or a folder on
        its way) is a file, or the folder cannot be created or written.
    """
    p = Path(path)
    for q in [p, *p.parents]:
        if q.exists() and not q.is_dir():
            what = "is a file" if q == p else f"lies inside {q}, which is a file"
            raise OutputError(f"{option} {p} {what}, not a folder; choose a folder for {option} (it is created when missing)")
        if q.exists():
            break
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".pvopt-write-check.", suffix=".tmp", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise output_error(p, e, option) from e
    return p


def check_target(path: Path, force: bool) -> None:
    """Raise :class:`~pvopt.errors.OutputExistsError` when ``path`` exists and ``force`` is not given."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; pass --force to replace it (the old file is replaced only when the new one is complete)")


_LOCKS: dict[str, list] = {}  # resolved folder -> [open lock file, depth]: the lock is re-entrant within this process
_LOCKS_GUARD = threading.Lock()


@contextmanager
def run_lock(out_dir: Path | str, command: str = "pvopt") -> Iterator[Path]:
    """Hold the lock of the run folder ``out_dir`` (``out_dir/.pvopt.lock``) while writing into it.

    The lock is an ``flock`` on the lock file: the system releases it when the
    process ends in any way (also ``SIGKILL``), so a stale lock never blocks a
    later run. It is taken before any computing, so a second run into the same
    folder is refused at once (exit 5) instead of after solving. Re-entrant
    within one process (``actuals`` plans into the folder it then writes).

    Raises
    ------
    RunLockedError
        Another process holds the lock; the message names its pid and command.
    """
    import fcntl

    d = prepare_out_dir(out_dir)
    key = str(d.resolve())
    with _LOCKS_GUARD:
        held = _LOCKS.get(key)
        if held is not None:
            held[1] += 1
    if held is None:
        lock = d / LOCK_NAME
        f = open(lock, "a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            f.seek(0)
            who = f.read().strip() or "another pvopt process"
            f.close()
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise output_error(lock, e) from e
            raise RunLockedError(f"{d} is being written by {who}; wait until it finishes, or choose another --out "
                                 f"(the lock {lock} is released when that process ends)") from None
        f.seek(0)
        f.truncate()
        f.write(f"pvopt process {os.getpid()} ({command})\n")
        f.flush()
        with _LOCKS_GUARD:
            _LOCKS[key] = [f, 1]
    try:
        yield d
    finally:
        with _LOCKS_GUARD:
            entry = _LOCKS[key]
            entry[1] -= 1
            last = entry[1] == 0
            if last:
                del _LOCKS[key]
        if last:
            entry[0].close()  # closing the file releases the flock; the empty-able lock file stays (harmless, hidden)


def content_digest(ds: xr.Dataset) -> str:
    """SHA-256 of every data variable's name, shape and values: a checksum that a corrupt or edited file fails."""
    h = hashlib.sha256()
    for name in sorted(map(str, ds.data_vars)):
        v = np.asarray(ds[name].values)
        h.update(f"{name}|{v.shape}|{v.dtype.kind}|".encode())
        if v.dtype.kind in "OUS":
            h.update(json.dumps([str(x) for x in v.ravel()]).encode())
        else:
            h.update(np.ascontiguousarray(v.astype(v.dtype.newbyteorder("<") if v.dtype.kind in "fiu" else v.dtype)).tobytes())
    return h.hexdigest()
