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
    cls: str = "schema"  #: class of fault (issue 15 counts the corpus by class)


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
    Case("duplicate-site-names", _two_sites_same_name, ("alpha2.yaml", "name", "site name 'alpha' is used by 2 site files", "(alpha.yaml and alpha2.yaml)"),
         cls="internal-to-input"),
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
    Case("tmy3-wrong-site-zone", lambda d: (use_tmy3_weather(d), edit_yaml(d / "alpha.yaml", lambda s: s.update(timezone="America/Denver"))),
         ("weather.csv", "TZ", "UTC-5 does not match site 'alpha' zone America/Denver"), command="yield"),
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


# --------------------------------------------------------------------------- #
# issue 15 (reliability, inputs): nothing silently dropped or accepted
# --------------------------------------------------------------------------- #
def _replace(name: str, old: str, new: str, count: int = 1):
    """Edit the YAML text itself (so literals such as 1e400 or a repeated key reach the reader as written)."""

    def fn(d: Path):
        p = d / name
        text = p.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        p.write_text(text.replace(old, new, count), encoding="utf-8")

    return fn


def _both(*fns):
    return lambda d: [f(d) for f in fns]


def _copy_site(dst: str, name: str = "beta"):
    def fn(d: Path):
        text = (d / "alpha.yaml").read_text(encoding="utf-8").replace("name: alpha", f"name: {name}", 1)
        (d / dst).write_text(text, encoding="utf-8")

    return fn


def _rename(src: str, dst: str):
    return lambda d: (d / src).rename(d / dst)


def _tmy3_columns(cols: tuple[int, ...], value: str, rows: range | None = None):
    def edit(lines: list[str]) -> list[str]:
        out = lines[:2]
        for k, ln in enumerate(lines[2:]):
            cells = ln.rstrip("\n").split(",")
            if rows is None or k in rows:
                for c in cols:
                    cells[c] = value
            out.append(",".join(cells) + "\n")
        return out

    return _tmy3(edit)


DNI_COL, DHI_COL = 7, 10

RELIABILITY_CASES: list[Case] = [
    # ---- duplicate keys: file, line, key path ----
    Case("dup-key-site-top-level", _replace("alpha.yaml", "latitude_deg: 31.49\n", "latitude_deg: 31.49\nlatitude_deg: 40.0\n"),
         ("alpha.yaml", "line 3, column 1", "duplicate key 'latitude_deg'", "first at line 2", "keep one"), cls="duplicate-key"),
    Case("dup-key-in-array", _replace("alpha.yaml", "  tilt_deg: 10\n", "  tilt_deg: 10\n  tilt_deg: 30\n"),
         ("alpha.yaml", "duplicate key 'tilt_deg'", "arrays[0].tilt_deg"), cls="duplicate-key"),
    Case("dup-key-portfolio", _replace("portfolio.yaml", "  first_year: 2024\n", "  first_year: 2024\n  first_year: 2020\n"),
         ("portfolio.yaml", "duplicate key 'first_year'", "planning.first_year"), cls="duplicate-key"),
    Case("dup-key-milestone-in-list", _replace("portfolio.yaml", "  kwp: 100\n", "  kwp: 100\n  kwp: 900\n"),
         ("portfolio.yaml", "duplicate key 'kwp'", "milestones[0].kwp"), cls="duplicate-key"),
    Case("dup-key-year-series", _replace("alpha.yaml", "grid_ef_t_per_mwh: 0.58", "grid_ef_t_per_mwh: {2024: 0.58, 2025: 0.5, 2024: 0.1}"),
         ("alpha.yaml", "duplicate key '2024'", "grid_ef_t_per_mwh.2024"), cls="duplicate-key"),
    Case("dup-key-same-number-spelt-twice", _replace("alpha.yaml", "grid_ef_t_per_mwh: 0.58", "grid_ef_t_per_mwh: {2024: 0.58, 0x7E8: 0.1}"),
         ("alpha.yaml", "duplicate key '0x7E8'", "grid_ef_t_per_mwh.0x7E8"), cls="duplicate-key"),
    Case("dup-key-two-in-one-file", _both(_replace("alpha.yaml", "  tilt_deg: 10\n", "  tilt_deg: 10\n  tilt_deg: 30\n"),
                                          _replace("alpha.yaml", "timezone: Asia/Shanghai\n", "timezone: Asia/Shanghai\ntimezone: UTC\n")),
         ("2 problems", "duplicate key 'tilt_deg'", "duplicate key 'timezone'"), cls="duplicate-key"),
    Case("dup-key-lead-plan", lambda d: _replace("wuxi.yaml", "name: wuxi\n", "name: wuxi\nname: wuxi-2\n")(d),
         ("wuxi.yaml", "duplicate key 'name'"), base="lead", command="plan", cls="duplicate-key"),
    # ---- every file in the folder read or reported ----
    Case("site-file-upper-case-YAML", _copy_site("beta.YAML"), ("beta.YAML", "not lower case", "rename it to 'beta.yaml'"), cls="folder-files"),
    Case("site-file-mixed-case-Yml", _copy_site("gamma.Yml", "gamma"), ("gamma.Yml", "not lower case", "rename it to 'gamma.yml'"), cls="folder-files"),
    Case("site-file-toml", _text("beta.toml", 'name = "beta"\nlatitude_deg = 31.5\n'), ("beta.toml", "YAML only", "'.toml'", "beta.yaml"), cls="folder-files"),
    Case("site-file-json", _text("beta.json", '{"name": "beta"}'), ("beta.json", "YAML only", "'.json'"), cls="folder-files"),
    Case("site-file-backup", _copy_site("alpha.yaml.bak"), ("alpha.yaml.bak", "unknown file type '.bak'", "move it out of the portfolio folder"), cls="folder-files"),
    Case("spreadsheet-in-folder", _text("load.xlsx", b"PK\x03\x04"), ("load.xlsx", "does not read spreadsheets", "save the sheet as CSV"), cls="folder-files"),
    Case("unreferenced-weather-file", _text("weather.epw", "LOCATION,x\n"), ("weather.epw", "no site names it"), cls="folder-files"),
    Case("file-without-extension", _text("beta", "name: beta\n"), ("beta", "a file without an extension"), cls="folder-files"),
    Case("only-site-file-upper-case", _rename("alpha.yaml", "ALPHA.YAML"), ("2 problems", "no site files", "ALPHA.YAML", "rename it to 'ALPHA.yaml'"),
         cls="folder-files"),
    Case("portfolio-file-capitalised", _rename("portfolio.yaml", "Portfolio.yaml"),
         ("portfolio.yaml: missing", "Portfolio.yaml", "read from 'portfolio.yaml' only"), cls="folder-files"),
    Case("portfolio-file-yml", _rename("portfolio.yaml", "portfolio.yml"), ("portfolio.yml", "rename this file"), cls="folder-files"),
    Case("lead-site-upper-case-plan", _rename("suzhou.yaml", "suzhou.YAML"), ("suzhou.YAML", "not lower case"), base="lead", command="plan", cls="folder-files"),
    # ---- every number finite ----
    Case("area-infinite", _replace("alpha.yaml", "  max_kwp: 500\n", "  area_m2: .inf\n"),
         ("alpha.yaml", "arrays[0].area_m2", "expected a finite number, got inf"), cls="non-finite"),
    Case("annual-load-overflowing-literal", _replace("alpha.yaml", "annual_mwh: 2000", "annual_mwh: 1e400"),
         ("alpha.yaml", "load.annual_mwh", "expected a finite number, got '1e400'", "overflows to infinity"), cls="non-finite"),
    Case("latitude-overflowing-float", _replace("alpha.yaml", "latitude_deg: 31.49", "latitude_deg: 1.0e+400"),
         ("alpha.yaml", "latitude_deg", "expected a finite number, got inf"), cls="non-finite"),
    Case("longitude-huge-integer", _replace("alpha.yaml", "longitude_deg: 120.31", "longitude_deg: 1" + "0" * 400),
         ("alpha.yaml", "longitude_deg", "integer of about 401 digits", "overflows"), cls="non-finite"),
    Case("number-too-long-to-read", _replace("alpha.yaml", "longitude_deg: 120.31", "longitude_deg: 1" + "0" * 5000),
         ("alpha.yaml", "line 3", "a number of 5001 digits at longitude_deg", "expected a finite number"), cls="non-finite"),
    Case("tilt-nan", _replace("alpha.yaml", "  tilt_deg: 10", "  tilt_deg: .nan"), ("alpha.yaml", "arrays[0].tilt_deg", "got nan"), cls="non-finite"),
    Case("milestone-target-infinite", _replace("portfolio.yaml", "  kwp: 100", "  kwp: .inf"), ("portfolio.yaml", "milestones[0]", "kwp", "got inf"), cls="non-finite"),
    Case("discount-rate-nan", _replace("portfolio.yaml", "discount_rate: 0.06", "discount_rate: .NaN"),
         ("portfolio.yaml", "planning.discount_rate", "got nan"), cls="non-finite"),
    Case("tou-price-infinite", _replace("alpha.yaml", "flat: 0.7", "flat: .inf"), ("alpha.yaml", "tariff.prices_per_kwh.flat", "got inf"), cls="non-finite"),
    Case("certificate-price-series-infinite", _replace("portfolio.yaml", "price_per_mwh: 3.0", "price_per_mwh: {2024: 3.0, 2025: .inf}"),
         ("portfolio.yaml", "certificates[0].price_per_mwh", "expected a finite number for 2025, got inf"), cls="non-finite"),
    Case("offset-price-overflow", _replace("portfolio.yaml", "price_per_tco2e: 70.0", "price_per_tco2e: 1e999"),
         ("portfolio.yaml", "offsets.price_per_tco2e", "expected a finite number, got '1e999'"), cls="non-finite"),
    Case("growth-nan", _site(lambda s: s["load"].update(growth_pct_per_year={2025: float("nan")})),
         ("alpha.yaml", "load.growth_pct_per_year", "expected a finite number for 2025, got nan"), cls="non-finite"),
    Case("export-price-minus-inf", _site(lambda s: s.update(export={"policy": "surplus", "price_per_kwh": float("-inf")})),
         ("alpha.yaml", "export.price_per_kwh", "got -inf"), cls="non-finite"),
    Case("battery-size-infinite", _site(lambda s: s.update(battery={"energy_capex_per_kwh": 1000, "max_energy_kwh": float("inf"), "max_power_kw": 100})),
         ("alpha.yaml", "battery.max_energy_kwh", "got inf"), cls="non-finite"),
    Case("load-csv-infinity-text", _csv_load(_with(ONES, 4, "inf")), ("load.csv", "column 'load_kw'", "got infinity in row 5"), cls="non-finite"),
    Case("load-csv-overflowing-literal", _csv_load(_with(ONES, 6, "1e400")), ("load.csv", "column 'load_kw'", "got infinity in row 7"), cls="non-finite"),
    Case("price-csv-minus-infinity", _csv_price(_with([0.7] * N_HOURS, 2, "-inf")), ("price.csv", "column 'price_per_kwh'", "infinity in row 3"), cls="non-finite"),
    Case("tmy3-ghi-infinite", _tmy3(lambda ls: _set_cell(ls, 98, GHI_COL, "inf")), ("weather.csv", "ghi", "above 1500 W/m2", "max inf"),
         command="yield", cls="non-finite"),
    # ---- plausibility: errors ----
    Case("timezone-far-from-longitude", _site(lambda s: s.update(timezone="America/New_York")),
         ("alpha.yaml", "timezone", "America/New_York (UTC-5 / UTC-4) is 11.0 h from the solar time at longitude_deg 120.31", "within 3 h"),
         cls="plausibility-error"),
    Case("longitude-sign-flipped", _site(lambda s: s.update(longitude_deg=-120.31)),
         ("alpha.yaml", "timezone", "8.0 h from the solar time", "check the sign of longitude_deg"), cls="plausibility-error"),
    Case("timezone-utc-for-an-east-china-site", _site(lambda s: s.update(timezone="UTC")),
         ("alpha.yaml", "timezone", "time zone UTC (UTC+0) is 8.0 h from the solar time"), cls="plausibility-error"),
    Case("existing-pv-after-first-year", _site(lambda s: s["arrays"][0].update(existing_kwp=100, existing_year=2030)),
         ("alpha.yaml", "arrays[0].existing_year", "existing PV dated 2030, after the first planning year 2024", "existing_year <= 2024"),
         cls="plausibility-error"),
    Case("tariff-base-year-1", _site(lambda s: s["tariff"].update(base_year=1, escalation_pct_per_year=3)),
         ("alpha.yaml", "tariff.base_year", "greater than or equal to 1990", "got 1"), cls="plausibility-error"),
    Case("tariff-base-year-far-before", _site(lambda s: s["tariff"].update(base_year=2001, escalation_pct_per_year=3)),
         ("alpha.yaml", "tariff.base_year", "2001 is 23 years before the planning horizon 2024-2025", "within 20 years"), cls="plausibility-error"),
    Case("load-base-year-far-after", _site(lambda s: s["load"].update(base_year=2060)),
         ("alpha.yaml", "load.base_year", "2060 is 35 years after the planning horizon 2024-2025"), cls="plausibility-error"),
    Case("load-csv-all-zero", _csv_load([0.0] * N_HOURS), ("load.csv", "column 'load_kw'", "zero in every row", "referenced by alpha.yaml"),
         cls="plausibility-error"),
    Case("weather-without-sun", _tmy3_columns((GHI_COL, DNI_COL, DHI_COL), "0"),
         ("weather.csv", "alpha: arrays[0]", "array 'roof' yields 0 kWh/kWp a year", "physical range 50-3,000"), command="yield",
         cls="plausibility-error"),
    Case("lead-longitude-sign-plan", lambda d: edit_yaml(d / "wuxi.yaml", lambda s: s.update(longitude_deg=-s["longitude_deg"])),
         ("wuxi.yaml", "timezone", "check the sign of longitude_deg"), base="lead", command="plan", cls="plausibility-error"),
    # ---- internal errors that are input errors ----
    Case("synthetic-seed-negative", _site(lambda s: s["weather"].update(seed=-1)), ("alpha.yaml", "weather.seed", "greater than or equal to 0", "got -1"),
         command="yield", cls="internal-to-input"),
    Case("synthetic-seed-too-large", _site(lambda s: s["weather"].update(seed=2**40)), ("alpha.yaml", "weather.seed", "less than or equal to 4294967295"),
         cls="internal-to-input"),
    Case("tmy3-text-in-ghi", _tmy3(lambda ls: _set_cell(ls, 98, GHI_COL, "abc")),
         ("weather.csv", "ghi", "expected numbers, got text 'abc' in 1 row(s) (data row 99)"), command="yield", cls="internal-to-input"),
    Case("tmy3-text-in-temperature", _tmy3_columns((TEMP_COL,), "warm", rows=range(10, 13)),
         ("weather.csv", "temp_air", "got text 'warm' in 3 row(s) (data row 11, 12, 13)"), command="yield", cls="internal-to-input"),
    Case("lead-two-sites-same-name", lambda d: edit_yaml(d / "nanjing.yaml", lambda s: s.update(name="wuxi")),
         ("wuxi.yaml", "name", "site name 'wuxi' is used by 2 site files (nanjing.yaml and wuxi.yaml)"), base="lead", cls="internal-to-input"),
]
CASES += RELIABILITY_CASES

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


# --------------------------------------------------------------------------- #
# issue 15: plausible but odd input is accepted with a warning; tidy folders are accepted quietly
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class WarnCase:
    id: str
    breaker: Callable[[Path], object]
    expect: tuple[str, ...]  #: substrings of the one warning line (file, field, value, reference)


def _sparse_load(d: Path) -> None:
    values = [0.0] * N_HOURS
    for h in range(0, 1000, 10):
        values[h] = 5.0
    _csv_load(values)(d)


WARN_CASES: list[WarnCase] = [
    WarnCase("certificate-price-far-above", _pf(lambda p: p["certificates"][0].update(price_per_mwh=500.0)),
             ("portfolio.yaml", "certificates[0].price_per_mwh", "price 500 CNY/MWh is far from the shipped references 2.31-10 CNY/MWh")),
    WarnCase("certificate-price-zero-in-a-year", _pf(lambda p: p["certificates"][0].update(price_per_mwh={2024: 3.0, 2025: 0.0})),
             ("portfolio.yaml", "certificates[0].price_per_mwh", "price 0 CNY/MWh in 2025")),
    WarnCase("offset-price-far-below", _pf(lambda p: p["offsets"].update(price_per_tco2e=0.5)),
             ("portfolio.yaml", "offsets.price_per_tco2e", "price 0.5 CNY/tCO2e", "61.32-70 CNY/tCO2e")),
    WarnCase("near-zero-load", _site(lambda s: s["load"].update(annual_mwh=0.5)),
             ("alpha.yaml", "load.annual_mwh", "near-zero load: 0.5 MWh/yr")),
    WarnCase("load-base-year-old", _site(lambda s: s["load"].update(base_year=2015)),
             ("alpha.yaml", "load.base_year", "2015 is 9 years before the planning horizon 2024-2025")),
    WarnCase("tariff-base-year-after-horizon", _site(lambda s: s["tariff"].update(base_year=2030)),
             ("alpha.yaml", "tariff.base_year", "2030 is 5 years after the planning horizon")),
    WarnCase("load-csv-nearly-empty", _sparse_load, ("alpha.yaml", "load.profile", "non-zero in only 100 of 8760 hours")),
]


@pytest.mark.parametrize("case", WARN_CASES, ids=[c.id for c in WARN_CASES])
def test_odd_input_is_accepted_with_one_warning(case: WarnCase, tmp_path: Path, cli):
    d = mini_portfolio(tmp_path / "mini")
    case.breaker(d)
    r = cli("validate", d)
    msg = _flat(r.stderr)
    assert r.exit_code == 0, r.stderr
    assert "error:" not in msg and "Traceback" not in r.output
    assert msg.count("warning:") == 1, r.stderr
    for part in case.expect:
        assert _flat(part) in msg, f"{part!r} not in:\n{r.stderr}"
    assert "Portfolio 'mini'" in r.stdout  # the summary is still printed


def _tidy_folder(d: Path) -> None:
    """Everything a portfolio folder may hold besides its YAML files."""
    (d / "README.md").write_text("# notes\n")
    (d / "notes.txt").write_text("assumptions\n")
    (d / "meter_2024.csv").write_text("hour,pv_kwh\n0,0\n")  # for `pvopt actuals`, named by no site
    (d / ".DS_Store").write_bytes(b"\x00\x01")
    (d / "data").mkdir()
    (d / "data" / "old.toml").write_text("x = 1\n")  # sub-folders are not scanned
    (d / "data" / "load.csv").write_text("load_kw\n" + "1\n" * N_HOURS)
    edit_yaml(d / "alpha.yaml", lambda s: s["load"].update(profile={"type": "csv", "path": "data/load.csv"}))
    pd.DataFrame({"price_per_kwh": [0.7] * N_HOURS}).to_csv(d / "prices.dat", index=False)  # any extension once a site names it
    edit_yaml(d / "alpha.yaml", lambda s: s.update(tariff={"type": "hourly_file", "path": "prices.dat"}))
    shutil.copy(d / "alpha.yaml", d / "beta.yml")
    edit_yaml(d / "beta.yml", lambda s: s.update(name="beta"))


@pytest.mark.parametrize("base", ["mini", "tidy", "lead"])
def test_valid_portfolios_load_without_warnings(base: str, tmp_path: Path, cli):
    if base == "lead":
        d = tmp_path / "lead"
        shutil.copytree(LEAD_DIR, d)  # with its README.md and meter_sample.csv
    else:
        d = mini_portfolio(tmp_path / "mini")
        if base == "tidy":
            _tidy_folder(d)
    r = cli("validate", d)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr


#: fewest cases of each issue-15 class; the corpus may grow, not shrink
MIN_CASES_BY_CLASS = {"duplicate-key": 8, "folder-files": 12, "non-finite": 18, "plausibility-error": 10, "internal-to-input": 5}


def test_reliability_corpus_covers_every_class():
    counts: dict[str, int] = {}
    for c in CASES:
        counts[c.cls] = counts.get(c.cls, 0) + 1
    for cls, least in MIN_CASES_BY_CLASS.items():
        assert counts.get(cls, 0) >= least, (cls, counts)
    assert len(WARN_CASES) >= 7
