"""Atomic file output: every file pvopt writes appears whole or not at all.

A file is written to a hidden temporary file in the target folder and moved
into place with ``os.replace`` only when complete, so a run killed midway
never leaves a partial file that looks complete. An existing result is not
overwritten without ``force``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from pvopt.errors import OutputExistsError

__all__ = ["write_netcdf_atomic", "write_bytes_atomic", "write_text_atomic", "check_target", "prepare_for_netcdf",
           "temp_beside", "discard"]

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

def _write_atomic(path: Path, write: Callable[[str], object]) -> None:
    """Run ``write(tmp)`` on a temporary file beside ``path``, then move it into place; remove it on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
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
    """Remove the temporary file ``tmp`` if there is one."""
    if tmp is not None and os.path.exists(tmp):
        os.unlink(tmp)

def check_target(path: Path, force: bool) -> None:
    """Raise :class:`~pvopt.errors.OutputExistsError` when ``path`` exists and ``force`` is not given."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; pass --force to replace it (the old file is replaced only when the new one is complete)")
