"""Where input files are: paths named in a portfolio, and the shipped weather folder.

Every path a portfolio names is resolved against the portfolio folder and
must stay inside it; the monthly-normals files live in ``weather/normals``
at the repository root (or ``$PVOPT_WEATHER_DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pvopt.errors import InputIssue, PortfolioError

__all__ = ["resolve_input_path", "weather_dir", "normals_path", "weather_cache_dir"]


def resolve_input_path(directory: Path, rel: str, *, file: str, field: str) -> Path:
    """Resolve ``rel`` against the portfolio ``directory``; refuse paths that escape it or do not exist."""
    base = directory.resolve()
    p = (base / rel).resolve()
    if base != p and base not in p.parents:
        raise PortfolioError([InputIssue(file, field, f"path '{rel}' leaves the portfolio directory {base}; keep data files inside it")])
    if not p.exists():
        raise PortfolioError([InputIssue(file, field, f"file '{rel}' does not exist (looked for {p})")])
    return p


def weather_dir() -> Path:
    """Return the weather folder: ``$PVOPT_WEATHER_DIR`` if set, else ``weather/`` of the repository."""
    env = os.environ.get("PVOPT_WEATHER_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "weather"


def weather_cache_dir() -> Path:
    """Folder of weather fetched from online sources (``pvopt weather fetch``).

    ``$PVOPT_CACHE_DIR`` when set (the files go directly into it), else
    ``~/.cache/pvopt/weather``. Files are named by source and coordinates, e.g.
    ``pvgis_tmy_31.490_120.310.csv`` or ``nasa_power_2023_31.490_120.310.csv``.
    """
    env = os.environ.get("PVOPT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "pvopt" / "weather"


def normals_path(name: str) -> Path:
    """Path of the monthly-normals file ``weather/normals/<name>.csv``.

    The weather directory is ``$PVOPT_WEATHER_DIR`` when set, else ``weather/``
    at the repository root.

    Raises
    ------
    PortfolioError
        If the file does not exist; the message lists the normals available.
    """
    folder = weather_dir() / "normals"
    p = folder / f"{name}.csv"
    if p.is_file():
        return p
    available = sorted(q.stem for q in folder.glob("*.csv")) if folder.is_dir() else []
    shown = ", ".join(available) if available else "none"
    raise PortfolioError(
        [InputIssue(str(p), "", f"no monthly normals named '{name}'; expected one of: {shown} (in {folder})")]
    )
