"""Shared pytest fixtures.

Each helper keeps its fixtures in its own clearly marked block.
"""

from __future__ import annotations

# =========================================================================== #
# Inputs layer: example portfolio copies, YAML editing, issue lookup
# (used by test_config.py, test_profiles.py, test_example.py)
# =========================================================================== #
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
LEAD_DIR = REPO_ROOT / "sites" / "lead"


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def edit_yaml(path: Path, fn: Callable[[Any], Any]) -> None:
    """Load ``path``, let ``fn`` change the data in place (its return value is ignored), write it back."""
    data = read_yaml(path)
    fn(data)
    write_yaml(path, data)


def load_issues(directory: Path):
    """Load ``directory`` expecting failure; return the list of :class:`pvopt.errors.InputIssue`."""
    from pvopt import load_portfolio
    from pvopt.errors import PortfolioError

    with pytest.raises(PortfolioError) as exc:
        load_portfolio(directory)
    return exc.value.issues


def find_issue(issues, *, file: str | None = None, field: str | None = None, contains: str | None = None):
    """The one issue matching every given part (file name suffix, exact field, message substring)."""
    hits = [
        i
        for i in issues
        if (file is None or Path(i.file).name == file)
        and (field is None or i.field == field)
        and (contains is None or contains in i.message)
    ]
    assert hits, f"no issue with file={file!r} field={field!r} containing {contains!r}; got:\n" + "\n".join(map(str, issues))
    return hits[0]


@pytest.fixture
def lead_copy(tmp_path: Path) -> Path:
    """A private copy of the example portfolio ``sites/lead`` to break one field at a time."""
    dst = tmp_path / "lead"
    shutil.copytree(LEAD_DIR, dst, ignore=shutil.ignore_patterns("*.md"))
    return dst


@pytest.fixture(scope="session")
def lead_portfolio():
    """The example portfolio, loaded once."""
    from pvopt import load_portfolio

    return load_portfolio(LEAD_DIR)


# =========================================================================== #
# (end of the inputs-layer block)
# =========================================================================== #


# =========================================================================== #
# Reliability (issue 7): a minimal one-site portfolio, a TMY3 source file and a
# CLI runner that keeps stderr apart (used by test_bad_input_corpus.py,
# test_atomic_outputs.py, test_solver_failures.py, test_safety.py)
# =========================================================================== #
import hashlib  # noqa: E402

TMY3_SOURCE = Path(__import__("pvlib").__file__).parent / "data" / "723170TYA.CSV"  # Greensboro NC, UTC-5


def mini_portfolio(d: Path, *, first_year: int = 2024, last_year: int = 2025) -> Path:
    """Write a minimal valid portfolio (one site ``alpha``, one 500 kWp rooftop, flat tariff) into ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    settings = {
        "name": "mini",
        "currency": "CNY",
        "planning": {"first_year": first_year, "last_year": last_year, "baseline_year": first_year - 1, "discount_rate": 0.06},
        "pv": {"capex_per_kwp": {"rooftop": 3300, "carport": 4600}, "om_per_kwp_year": {"rooftop": 66, "carport": 92}},
        "certificates": [{"name": "GEC", "price_per_mwh": 3.0, "first_year": first_year, "last_year": last_year}],
        "offsets": {"price_per_tco2e": 70.0},
        "milestones": [{"name": "pv-min", "type": "min_portfolio_kwp", "year": last_year, "kwp": 100}],
    }
    site = {
        "name": "alpha",
        "latitude_deg": 31.49,
        "longitude_deg": 120.31,
        "timezone": "Asia/Shanghai",
        "weather": {"source": "synthetic", "normals": "wuxi"},
        "arrays": [{"name": "roof", "kind": "rooftop", "max_kwp": 500, "tilt_deg": 10, "azimuth_deg": 180}],
        "load": {"annual_mwh": 2000, "base_year": first_year},
        "tariff": {
            "type": "tou",
            "prices_per_kwh": {"flat": 0.7},
            "seasons": [{"name": "all", "months": list(range(1, 13)), "windows": [{"period": "flat", "start_hour": 0, "end_hour": 24}]}],
        },
        "grid_ef_t_per_mwh": 0.58,
    }
    write_yaml(d / "portfolio.yaml", settings)
    write_yaml(d / "alpha.yaml", site)
    return d


def use_tmy3_weather(d: Path, lines: list[str] | None = None, name: str = "weather.csv") -> Path:
    """Point site ``alpha`` of a mini portfolio at a TMY3 file (Greensboro; the site moves there)."""
    text = "".join(lines) if lines is not None else TMY3_SOURCE.read_text()
    (d / name).write_text(text)
    edit_yaml(
        d / "alpha.yaml",
        lambda s: s.update(latitude_deg=36.1, longitude_deg=-79.95, timezone="America/New_York",
                           weather={"source": "file", "path": name, "format": "tmy3"}),
    )
    return d / name


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> hex digest)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    """A fresh minimal portfolio in ``tmp_path/mini``."""
    return mini_portfolio(tmp_path / "mini")


@pytest.fixture
def cli():
    """Run ``pvopt`` in-process: ``cli(*args) -> click Result`` with ``.stdout``, ``.stderr`` and ``.exit_code``."""
    from typer.testing import CliRunner

    from pvopt.cli import app

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=True)

    return run


# =========================================================================== #
# (end of the reliability block)
# =========================================================================== #


# =========================================================================== #
# Yield and weather tests: the smallest valid tariff of a site built in code
# =========================================================================== #
def flat_tariff(price_per_kwh: float = 0.7):
    """A one-price tariff (every hour of every month at ``price_per_kwh`` [currency/kWh])."""
    from pvopt.inputs.schema import Tariff, TouSeason, TouWindow

    return Tariff(
        type="tou",
        prices_per_kwh={"flat": price_per_kwh},
        seasons=[TouSeason(name="all", months=list(range(1, 13)), windows=[TouWindow(period="flat", start_hour=0, end_hour=24)])],
    )
