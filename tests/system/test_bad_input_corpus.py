"""A corpus of broken inputs, each run through the real command line.

Every case breaks one thing in a fresh copy of a portfolio (the minimal
one-site portfolio of ``conftest.mini_portfolio`` or the example ``sites/lead``)
and checks that ``pvopt`` exits with the documented code, prints exactly one
``error:`` block naming the file and the field (or line) with what was expected
and what arrived, and shows no traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from conftest import LEAD_DIR, TMY3_SOURCE, edit_yaml, mini_portfolio, use_tmy3_weather
from pvopt.errors import EXIT_INPUT

N_HOURS = 8760


# --------------------------------------------------------------------------- #
# the table
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Case:
    id: str
    breaker: Callable[[Path], object]  #: breaks the portfolio copy in place
    expect: tuple[str, ...]  #: substrings the message must hold (file, field or line, expected, got)
    base: str = "mini"  #: "mini" or "lead"
    command: str = "validate"  #: validate | yield | plan
    target: Callable[[Path], Path] | None = None  #: the path handed to the CLI (default: the portfolio)
    exit_code: int = EXIT_INPUT


def _text(name: str, text: str | bytes):
    def fn(d: Path):
        p = d / name
        p.write_bytes(text) if isinstance(text, bytes) else p.write_text(text, encoding="utf-8")

    return fn


def _site(fn):
    return lambda d: edit_yaml(d / "alpha.yaml", fn)


def _pf(fn):
    return lambda d: edit_yaml(d / "portfolio.yaml", fn)


def _arr(field, value):
    return _site(lambda s: s["arrays"][0].__setitem__(field, value))


def _drop(mapping_key):
    return lambda s: s.pop(mapping_key)


def _toml_instead_of_yaml(d: Path):
    (d / "portfolio.yaml").unlink()
    (d / "portfolio.toml").write_text('name = "mini"\n[planning]\nfirst_year = 2024\nlast_year = 2025\n', encoding="utf-8")


def _two_sites_same_name(d: Path):
    shutil.copy(d / "alpha.yaml", d / "alpha2.yaml")


def _tou(windows):
    return _site(lambda s: s["tariff"]["seasons"][0].__setitem__("windows", windows))


def _escape_path(d: Path):
    (d.parent / "outside.csv").write_text("load_kw\n" + "1\n" * N_HOURS)
    edit_yaml(d / "alpha.yaml", lambda s: s["load"].__setitem__("profile", {"type": "csv", "path": "../outside.csv"}))


# hourly CSV files ---------------------------------------------------------- #
def _csv_load(values, column: str = "load_kw"):
    def fn(d: Path):
        pd.DataFrame({"hour": range(len(values)), column: values}).to_csv(d / "load.csv", index=False)
        edit_yaml(d / "alpha.yaml", lambda s: s["load"].__setitem__("profile", {"type": "csv", "path": "load.csv"}))

    return fn


def _csv_price(values):
    def fn(d: Path):
        pd.DataFrame({"price_per_kwh": values}).to_csv(d / "price.csv", index=False)
        edit_yaml(d / "alpha.yaml", lambda s: s.__setitem__("tariff", {"type": "hourly_file", "path": "price.csv"}))

    return fn


def _with(values, at: int, v):
    out = list(values)
    out[at] = v
    return out


ONES = [1.0] * N_HOURS


# weather files (TMY3 from pvlib's data, corrupted) -------------------------- #
def _tmy3_lines() -> list[str]:
    return TMY3_SOURCE.read_text().splitlines(keepends=True)


def _tmy3(edit: Callable[[list[str]], list[str]]):
    return lambda d: use_tmy3_weather(d, edit(_tmy3_lines()))


def _set_cell(lines: list[str], row: int, col: int, value: str) -> list[str]:
    """Data row ``row`` (0-based, after the 2 header lines), column ``col``."""
    cells = lines[2 + row].split(",")
    cells[col] = value
    return lines[: 2 + row] + [",".join(cells)] + lines[3 + row :]


def _set_header(lines: list[str], col: int, value: str) -> list[str]:
    cells = lines[0].rstrip("\n").split(",")
    cells[col] = value
    return [",".join(cells) + "\n"] + lines[1:]


GHI_COL, TEMP_COL = 4, 31

CASES: list[Case] = [
    # ---- files that are not YAML, or not there ----
    Case("malformed-yaml-site", _text("alpha.yaml", "name: alpha\narrays: [\n  - : :\n"), ("alpha.yaml", "line 3", "malformed YAML")),
    Case("malformed-yaml-indent", _text("portfolio.yaml", "name: mini\nplanning:\n  first_year: 2024\n last_year: 2025\n"),
         ("portfolio.yaml", "line 4, column 2", "malformed YAML")),
    Case("yaml-tab-indent", _text("alpha.yaml", "name: alpha\narrays:\n\t- name: x\n"), ("alpha.yaml", "line 3", "malformed YAML")),
    Case("empty-site-file", _text("alpha.yaml", ""), ("alpha.yaml", "empty", "expected a YAML mapping")),
    Case("empty-portfolio-file", _text("portfolio.yaml", "  \n\n"), ("portfolio.yaml", "empty", "expected a YAML mapping")),
    Case("top-level-list", _text("alpha.yaml", "- a\n- b\n"), ("alpha.yaml", "expected a YAML mapping", "got list")),
    Case("top-level-scalar", _text("portfolio.yaml", "just words\n"), ("portfolio.yaml", "expected a YAML mapping", "got str")),
    Case("toml-instead-of-yaml", _toml_instead_of_yaml, ("portfolio.yaml", "missing", "needs portfolio.yaml")),
    Case("toml-text-in-yaml-file", _text("portfolio.yaml", 'name = "mini"\n[planning]\nfirst_year = 2024\n'),
         ("portfolio.yaml", "expected a YAML mapping", "got str", "looks like TOML")),
    Case("binary-garbage", _text("alpha.yaml", b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd garbage"), ("alpha.yaml", "expected UTF-8 text", "undecodable bytes")),
    Case("no-site-files", lambda d: (d / "alpha.yaml").unlink(), ("mini", "no site files", "<site>.yaml")),
    Case("portfolio-dir-missing", lambda d: None, ("nope", "does not exist"), target=lambda d: d / "nope"),
    Case("portfolio-is-a-file", lambda d: None, ("portfolio.yaml", "expected a portfolio directory", "got a file"),
         target=lambda d: d / "portfolio.yaml"),
    # ---- keys and types ----
    Case("unknown-key-site", _site(lambda s: s.update(latitude_degs=31.5)), ("alpha.yaml", "latitude_degs", "unknown key")),
    Case("unknown-key-nested", _arr("tilt", 5), ("alpha.yaml", "arrays[0].tilt", "unknown key")),
    Case("unknown-key-with-brackets", _site(lambda s: s.update(**{"peak[kW]": 5, "x[/]": 1})), ("alpha.yaml", "peak[kW]", "x[/]", "unknown key")),
    Case("unknown-key-portfolio", _pf(lambda p: p["planning"].update(discount=0.05)), ("portfolio.yaml", "planning.discount", "unknown key")),
    Case("wrong-type-latitude", _site(lambda s: s.update(latitude_deg="north")), ("alpha.yaml", "latitude_deg", "valid number", "got 'north'")),
    Case("wrong-type-arrays", _site(lambda s: s.update(arrays="roof")), ("alpha.yaml", "arrays", "valid list", "got 'roof'")),
    Case("wrong-type-year", _pf(lambda p: p["planning"].update(first_year="2024a")), ("portfolio.yaml", "planning.first_year", "valid integer", "got '2024a'")),
    Case("wrong-type-kind", _arr("kind", "facade"), ("alpha.yaml", "arrays[0].kind", "'rooftop' or 'carport'", "got 'facade'")),
    Case("missing-timezone", _site(_drop("timezone")), ("alpha.yaml", "timezone", "required field is missing")),
    Case("missing-planning", _pf(_drop("planning")), ("portfolio.yaml", "planning", "required field is missing")),
    Case("missing-annual-load", _site(lambda s: s["load"].pop("annual_mwh")), ("alpha.yaml", "load.annual_mwh", "required field is missing")),
    Case("missing-array-size", _site(lambda s: s["arrays"][0].pop("max_kwp")), ("alpha.yaml", "arrays[0]", "exactly one of 'area_m2' or 'max_kwp'")),
    # ---- physical ranges ----
    Case("latitude-out-of-range", _site(lambda s: s.update(latitude_deg=123)), ("alpha.yaml", "latitude_deg", "less than or equal to 90", "got 123")),
    Case("longitude-out-of-range", _site(lambda s: s.update(longitude_deg=-200)), ("alpha.yaml", "longitude_deg", "greater than or equal to -180", "got -200")),
    Case("tilt-out-of-range", _arr("tilt_deg", 95), ("alpha.yaml", "arrays[0].tilt_deg", "less than or equal to 90", "got 95")),
    Case("azimuth-out-of-range", _arr("azimuth_deg", 360), ("alpha.yaml", "arrays[0].azimuth_deg", "less than 360", "got 360")),
    Case("area-negative", lambda d: edit_yaml(d / "alpha.yaml", lambda s: s["arrays"][0].update(area_m2=-5, max_kwp=None)),
         ("alpha.yaml", "arrays[0].area_m2", "greater than 0", "got -5")),
    Case("max-kwp-zero", _arr("max_kwp", 0), ("alpha.yaml", "arrays[0].max_kwp", "greater than 0", "got 0")),
    Case("losses-out-of-range", _arr("losses_pct", 75), ("alpha.yaml", "arrays[0].losses_pct", "less than 50", "got 75")),
    Case("degradation-out-of-range", _arr("degradation_pct_per_year", 5), ("alpha.yaml", "arrays[0].degradation_pct_per_year", "less than or equal to 3", "got 5")),
    Case("dc-ac-ratio-out-of-range", _arr("dc_ac_ratio", 0.5), ("alpha.yaml", "arrays[0].dc_ac_ratio", "greater than or equal to 0.8", "got 0.5")),
    Case("existing-above-max", lambda d: edit_yaml(d / "alpha.yaml", lambda s: s["arrays"][0].update(existing_kwp=900, existing_year=2020)),
         ("alpha.yaml", "arrays[0]", "'existing_kwp' (900.0) exceeds the array's max kWp (500.0)")),
    Case("discount-rate-out-of-range", _pf(lambda p: p["planning"].update(discount_rate=2)), ("portfolio.yaml", "planning.discount_rate", "less than or equal to 0.5", "got 2")),
    Case("horizon-reversed", _pf(lambda p: p["planning"].update(last_year=2020)), ("portfolio.yaml", "planning", "'last_year' (2020) is before 'first_year' (2024)")),
    Case("grid-ef-out-of-range", _site(lambda s: s.update(grid_ef_t_per_mwh={2024: 5.0})), ("alpha.yaml", "grid_ef_t_per_mwh", "expected a value <= 2.0, got 5.0")),
    Case("unknown-timezone", _site(lambda s: s.update(timezone="Mars/Olympus")), ("alpha.yaml", "timezone", "expected an IANA time zone", "got 'Mars/Olympus'")),
    Case("timezone-abbreviation", _site(lambda s: s.update(timezone="CST+8")), ("alpha.yaml", "timezone", "expected an IANA time zone", "got 'CST+8'")),
    # ---- loads, prices, tariffs ----
    Case("negative-load", _site(lambda s: s["load"].update(annual_mwh=-100)), ("alpha.yaml", "load.annual_mwh", "greater than 0", "got -100")),
    Case("negative-tou-price", _site(lambda s: s["tariff"]["prices_per_kwh"].update(flat=-0.1)), ("alpha.yaml", "tariff", "price of period 'flat'", ">= 0, got -0.1")),
    Case("negative-export-price", _site(lambda s: s.update(export={"policy": "surplus", "price_per_kwh": -0.2})),
         ("alpha.yaml", "export.price_per_kwh", "expected a value >= 0.0, got -0.2")),
    Case("negative-certificate-price", _pf(lambda p: p["certificates"][0].update(price_per_mwh=-3)), ("portfolio.yaml", "certificates[0].price_per_mwh", ">= 0.0, got -3")),
    Case("negative-offset-price", _pf(lambda p: p["offsets"].update(price_per_tco2e={2024: -1.0})), ("portfolio.yaml", "offsets.price_per_tco2e", ">= 0.0, got -1.0")),
    Case("tou-windows-overlap", _tou([{"period": "flat", "start_hour": 0, "end_hour": 14}, {"period": "flat", "start_hour": 12, "end_hour": 24}]),
         ("alpha.yaml", "tariff.seasons[0]", "hour 12 is in two windows", "must not overlap")),
    Case("tou-windows-gap", _tou([{"period": "flat", "start_hour": 0, "end_hour": 10}, {"period": "flat", "start_hour": 12, "end_hour": 24}]),
         ("alpha.yaml", "tariff.seasons[0]", "hours [10, 11] are in no window", "must cover 0-24")),
    Case("tou-months-uncovered", _site(lambda s: s["tariff"]["seasons"][0].update(months=[1, 2, 3])), ("alpha.yaml", "tariff", "months [4, 5, 6, 7, 8, 9, 10, 11, 12] are in no season")),
    Case("tou-unpriced-period", _tou([{"period": "peak", "start_hour": 0, "end_hour": 24}]), ("alpha.yaml", "tariff", "period 'peak' that has no price", "known: ['flat']")),
    # ---- milestones and certificates ----
    Case("milestone-year-after-horizon", _pf(lambda p: p["milestones"][0].update(year=2040)), ("portfolio.yaml", "milestones", "year 2040 is outside the planning horizon 2024-2025")),
    Case("milestone-year-before-horizon", _pf(lambda p: p["milestones"][0].update(year=2019)), ("portfolio.yaml", "milestones", "year 2019 is outside the planning horizon")),
    Case("milestone-unknown-type", _pf(lambda p: p["milestones"][0].update(type="net_zero")), ("portfolio.yaml", "milestones[0]", "net_zero")),
    Case("milestone-unknown-site", _pf(lambda p: p["milestones"].append({"name": "n", "type": "neutrality", "year": 2025, "site": "beta"})),
         ("portfolio.yaml", "milestones[1].site", "site 'beta' is not in the portfolio", "['alpha']")),
    Case("certificate-not-available-when-needed",
         _pf(lambda p: (p["certificates"][0].update(first_year=2025), p["milestones"].append({"name": "certs-2024", "type": "min_certificates_mwh", "year": 2024, "mwh": 100}))),
         ("portfolio.yaml", "milestones[1]", "'certs-2024' needs certificates in 2024", "no instrument")),
    Case("certificate-no-price-in-year", _pf(lambda p: p["certificates"][0].update(price_per_mwh={2025: 3.0})),
         ("portfolio.yaml", "certificates[0].price_per_mwh", "first price is for 2025", "add a price for 2024")),
    Case("duplicate-site-names", _two_sites_same_name, ("mini", "site name 'alpha' is used by 2 site files")),
    # ---- paths ----
    Case("weather-path-missing", _site(lambda s: s.update(weather={"source": "file", "path": "nope.epw"})), ("alpha.yaml", "weather.path", "'nope.epw' does not exist")),
    Case("load-csv-missing", _site(lambda s: s["load"].update(profile={"type": "csv", "path": "data/load.csv"})), ("alpha.yaml", "load.profile.path", "'data/load.csv' does not exist")),
    Case("path-escapes-portfolio", _escape_path, ("alpha.yaml", "load.profile.path", "'../outside.csv' leaves the portfolio directory")),
    Case("unknown-normals", _site(lambda s: s["weather"].update(normals="atlantis")), ("alpha.yaml", "weather.normals", "atlantis")),
    # ---- hourly CSV files (read by validate) ----
    Case("load-csv-negative", _csv_load(_with(ONES, 99, -4.0)), ("load.csv", "column 'load_kw'", "expected a load [kW] >= 0", "row 100", "-4.0")),
    Case("load-csv-nan", _csv_load(_with(ONES, 9, float("nan"))), ("load.csv", "column 'load_kw'", "got empty/NaN in row 10")),
    Case("load-csv-text", _csv_load(_with(ONES, 4, "abc")), ("load.csv", "column 'load_kw'", "expected numbers, got non-numeric text in row 5")),
    Case("load-csv-short", _csv_load(ONES[:8000]), ("load.csv", "column 'load_kw'", "expected 8760 hourly rows", "got 8000")),
    Case("load-csv-wrong-column", _csv_load(ONES, column="kw"), ("load.csv", "column 'load_kw'", "no such column", "'kw'")),
    Case("price-csv-negative", _csv_price(_with([0.7] * N_HOURS, 0, -0.3)), ("price.csv", "column 'price_per_kwh'", "price [currency/kWh] >= 0", "row 1")),
    # ---- weather files (read by yield) ----
    Case("tmy3-truncated", _tmy3(lambda ls: ls[:-100]), ("weather.csv", "time", "expected 8760 hourly rows, got 8660"), command="yield"),
    Case("tmy3-missing-day", _tmy3(lambda ls: ls[:-24]), ("weather.csv", "time", "got 8736", "24 missing hour(s)"), command="yield"),
    Case("tmy3-nan", _tmy3(lambda ls: _set_cell(ls, 98, GHI_COL, "")), ("weather.csv", "ghi", "1 NaN value(s)", "expected a number every hour"), command="yield"),
    Case("tmy3-duplicated-stamp", _tmy3(lambda ls: ls[:12] + [ls[11]] + ls[13:]), ("weather.csv", "time", "1 duplicated hour(s)", "expected each hour once"), command="yield"),
    Case("tmy3-naive-no-offset", _tmy3(lambda ls: _set_header(ls, 3, "")), ("weather.csv", "line 1: TZ", "expected a number", "naive", "got ''"), command="yield"),
    Case("tmy3-missing-value-code", _tmy3(lambda ls: _set_cell(ls, 98, TEMP_COL, "9999")), ("weather.csv", "temp_air", "outside -70..65", "9999"), command="yield"),
    Case("tmy3-wrong-site-zone", lambda d: (use_tmy3_weather(d), edit_yaml(d / "alpha.yaml", lambda s: s.update(timezone="Asia/Shanghai"))),
         ("weather.csv", "TZ", "UTC-5 does not match site 'alpha' zone Asia/Shanghai"), command="yield"),
    Case("tmy3-garbage", _tmy3(lambda ls: ["\x00\x01garbage,,\n"] * 5), ("weather.csv", "line 1", "expected a TMY3 header of 7 fields, got 3"), command="yield"),
    Case("weather-unknown-extension", lambda d: (use_tmy3_weather(d, name="weather.dat"), edit_yaml(d / "alpha.yaml", lambda s: s["weather"].pop("format"))),
         ("weather.dat", "format", "cannot tell the weather format", "'.dat'"), command="yield"),
    # ---- a data problem met by `plan` on the example portfolio ----
    Case("lead-negative-load-csv-plan", lambda d: (
        pd.DataFrame({"load_kw": _with(ONES, 0, -1.0)}).to_csv(d / "wuxi_load.csv", index=False),
        edit_yaml(d / "wuxi.yaml", lambda s: s["load"].__setitem__("profile", {"type": "csv", "path": "wuxi_load.csv"}))),
         ("wuxi_load.csv", "column 'load_kw'", ">= 0", "row 1"), base="lead", command="plan"),
    Case("lead-milestone-outside-horizon-plan", lambda d: edit_yaml(d / "portfolio.yaml", lambda p: p["milestones"][0].update(year=2050)),
         ("portfolio.yaml", "year 2050 is outside the planning horizon 2024-2035"), base="lead", command="plan"),
]


def _prepare(case: Case, tmp_path: Path) -> Path:
    if case.base == "lead":
        d = tmp_path / "lead"
        shutil.copytree(LEAD_DIR, d, ignore=shutil.ignore_patterns("*.md"))
    else:
        d = mini_portfolio(tmp_path / "mini")
    case.breaker(d)
    return case.target(d) if case.target else d


def _args(case: Case, target: Path, tmp_path: Path) -> list[str]:
    if case.command == "validate":
        return ["validate", str(target)]
    return [case.command, str(target), "--out", str(tmp_path / "out")]


def _flat(text: str) -> str:
    """Undo the console's line wrapping: one space between words."""
    return " ".join(text.split())


def test_corpus_is_large_and_ids_unique():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_one_clear_message(case: Case, tmp_path: Path, cli):
    target = _prepare(case, tmp_path)
    r = cli(*_args(case, target, tmp_path))
    msg = _flat(r.stderr)
    assert r.exit_code == case.exit_code, f"exit {r.exit_code}, stderr:\n{r.stderr}\nexception: {r.exception!r}"
    assert isinstance(r.exception, SystemExit), f"an exception escaped: {r.exception!r}"
    assert "Traceback" not in r.output
    assert "internal error" not in msg
    assert msg.count("error:") == 1, r.stderr
    assert msg.startswith("error:"), r.stderr
    for part in case.expect:
        assert _flat(part) in msg, f"{part!r} not in:\n{r.stderr}"
    # nothing presented as a result
    assert not (tmp_path / "out" / "plan.nc").exists()
    assert not (tmp_path / "out" / "yield.nc").exists()


# --------------------------------------------------------------------------- #
# real processes: no traceback without --debug, a traceback with it
# --------------------------------------------------------------------------- #
def _pvopt(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "pvopt", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_subprocess_bad_input_exit_2_without_traceback(mini_copy, tmp_path):
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s.update(latitude_deg=123))
    p = _pvopt("validate", mini_copy, cwd=tmp_path)
    assert p.returncode == EXIT_INPUT
    assert "Traceback" not in p.stderr
    assert "alpha.yaml: latitude_deg" in _flat(p.stderr)
    assert p.stdout.strip() == ""


def test_debug_shows_the_traceback(mini_copy, tmp_path):
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s.update(latitude_deg=123))
    p = _pvopt("--debug", "validate", mini_copy, cwd=tmp_path)
    assert p.returncode != 0
    assert "Traceback" in p.stderr
    assert "PortfolioError" in p.stderr


def test_every_problem_listed_in_one_block(mini_copy, cli):
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s.update(latitude_deg=123, timezone="Mars/Olympus"))
    edit_yaml(mini_copy / "portfolio.yaml", lambda p: p["planning"].update(discount_rate=2))
    r = cli("validate", mini_copy)
    assert r.exit_code == EXIT_INPUT
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("error: 3 problems in the input:")
    assert sum(ln.lstrip().startswith("- ") for ln in lines) == 3
    assert r.stderr.count("error:") == 1
