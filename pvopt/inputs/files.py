"""Where input files are: paths named in a portfolio, and the shipped weather folder.

Every path a portfolio names is resolved against the portfolio folder and
must stay inside it; the monthly-normals files live in ``weather/normals``
at the repository root (or ``$PVOPT_WEATHER_DIR``).

Files of the portfolio folder
-----------------------------
Every file at the top level of a portfolio folder is either read or reported;
no file is skipped without a word, so a site cannot drop out of a plan
because of its file name:

* ``portfolio.yaml`` is read as the portfolio settings (``Portfolio.yaml``,
  ``portfolio.yml`` or ``portfolio.toml`` are errors: rename it);
* every other ``*.yaml`` / ``*.yml`` (lower-case extension) is read as a site file;
* files a site names (``weather.path``, ``load.profile.path``, ``tariff.path``)
  are read as data, whatever their extension;
* ``*.csv`` files are allowed without a reference (meter readings for
  ``pvopt actuals``, tables kept next to the sites);
* documentation is not read: ``.md``, ``.txt``, ``.rst``, ``.pdf``, ``.html``
  and images (``.png``, ``.jpg``, ``.jpeg``, ``.svg``);
* hidden files (``.name``) and sub-folders are not scanned (sub-folders hold data files);
* anything else is an error naming the file and the fix: a YAML file whose
  extension is not lower case (``x.YAML``, ``x.Yml``), a TOML/INI/JSON file
  (pvopt reads YAML only), a data file no site names, or an unknown extension
  (``x.yaml.bak``, ``x.xlsx``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pvopt.errors import InputIssue, PortfolioError

__all__ = [
    "resolve_input_path",
    "weather_dir",
    "normals_path",
    "weather_cache_dir",
    "site_files",
    "unread_file_issues",
    "PORTFOLIO_FILE",
    "SITE_SUFFIXES",
    "DOC_SUFFIXES",
]

PORTFOLIO_FILE = "portfolio.yaml"
SITE_SUFFIXES = (".yaml", ".yml")
"""Extensions of site files (lower case only)."""
DOC_SUFFIXES = (".md", ".txt", ".rst", ".pdf", ".html", ".png", ".jpg", ".jpeg", ".svg")
"""Extensions of documentation files, which may sit in a portfolio folder and are not read."""
_CONFIG_SUFFIXES = (".toml", ".ini", ".cfg", ".conf", ".json")


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


def site_files(directory: Path) -> list[Path]:
    """Return the site files of a portfolio folder: top-level ``*.yaml`` / ``*.yml`` except ``portfolio.yaml``, sorted."""
    return sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.suffix in SITE_SUFFIXES and p.stem.lower() != "portfolio" and not p.name.startswith(".")
    )


def _unread_message(p: Path) -> str:
    """Why the top-level file ``p`` is refused, and the fix."""
    suffix = p.suffix
    if p.stem.lower() == "portfolio":
        return f"the portfolio settings are read from '{PORTFOLIO_FILE}' only (exact name, lower case); rename this file to it"
    if suffix.lower() in SITE_SUFFIXES:
        return (
            f"the extension '{suffix}' is not lower case, so the file would not be read as a site file; "
            f"rename it to '{p.stem}{suffix.lower()}' (or move it out of the portfolio folder)"
        )
    if suffix.lower() in _CONFIG_SUFFIXES:
        return (
            f"pvopt reads portfolio and site files as YAML only, not '{suffix}'; write it as '{p.stem}.yaml' "
            "(key: value), or, if it is a data file, name it in a site (weather.path) or move it out of the portfolio folder"
        )
    if suffix.lower() in (".xlsx", ".xls", ".ods"):
        return (
            f"pvopt does not read spreadsheets ('{suffix}'): save the sheet as CSV and name it in a site "
            "(load.profile.path, tariff.path), or move it out of the portfolio folder"
        )
    what = f"unknown file type '{suffix}'" if suffix else "a file without an extension"
    return (
        f"{what} in the portfolio folder, and no site names it; pvopt reads portfolio.yaml, <site>.yaml/.yml, "
        "*.csv and the data files the sites name: name it in a site, or move it out of the portfolio folder"
    )


def unread_file_issues(directory: Path, referenced: set[Path], *, sites_complete: bool = True) -> list[InputIssue]:
    """Issues for the top-level files of ``directory`` that pvopt would not read (rules in the module docstring).

    Parameters
    ----------
    directory
        The portfolio folder.
    referenced
        Resolved paths of the data files the sites name.
    sites_complete
        False when some site file could not be read: a file it may name is then not reported.
    """
    out: list[InputIssue] = []
    reads = set(site_files(directory)) | {directory / PORTFOLIO_FILE}
    for p in sorted(directory.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p in reads or p.resolve() in referenced:
            continue
        low = p.suffix.lower()
        if low == ".csv" or low in DOC_SUFFIXES:
            continue
        if not sites_complete and low not in SITE_SUFFIXES + _CONFIG_SUFFIXES:
            continue  # a site that failed to load may name it
        out.append(InputIssue(str(p), "", _unread_message(p)))
    return out
