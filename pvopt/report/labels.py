"""Human headers, units and number formats of the report's tables (HTML and workbook).

Tables are computed with machine column names (``lcoe_cny_per_kwh``,
``scope2_market_tco2e``); :func:`header` turns each into a header people read
(``LCOE [CNY/kWh]``, ``Scope 2 market-based [tCO2e]``) and
:func:`column_decimals` fixes one number of decimals per column, so that a
column never mixes ``1,000`` and ``1,000.0``. Year columns and year headers
stay integers without thousands separators (``2024``, not ``2,024``).

Imports nothing heavy at module level (numpy and pandas only).
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["header", "column_decimals", "format_number", "is_year_column", "excel_number_format", "humanize"]

_WORDS = {
    "pv": "PV", "lcoe": "LCOE", "npv": "NPV", "npc": "NPC", "irr": "IRR", "om": "O&M", "ef": "emission factor",
    "scope1": "Scope 1", "scope2": "Scope 2", "co2e": "CO2e", "s1": "S1", "s2": "S2", "kwp": "kWp", "mwh": "MWh",
    "i-rec": "I-REC", "gec": "GEC", "ok": "OK", "vs": "vs", "bau": "business-as-usual", "macc": "MACC",
    "poa": "plane-of-array irradiance", "ac": "AC", "dc": "DC", "cny": "CNY",
}
_PHRASES = [
    ("scope2_location", "Scope 2 location-based"), ("scope2_market", "Scope 2 market-based"),
    ("gross_location", "gross location-based"), ("gross_market", "gross market-based"),
    ("scope1_after_measures", "Scope 1 after measures"), ("used_in_plan", "used in the plan"),
    ("pv_cheaper_than_certificates", "PV cheaper than certificates"), ("break_even", "break-even"),
    ("payback_years", "simple payback [yr]"), ("irr_pct", "IRR [%]"),
]
_UNIT_TOKENS = {"kwh": "kWh", "mwh": "MWh", "gwh": "GWh", "kwp": "kWp", "kw": "kW", "mw": "MW", "mwp": "MWp", "tco2e": "tCO2e",
                "t": "t", "year": "yr", "unit": "unit", "month": "month", "m2": "m²", "day": "day", "kwh_per_kwp": "kWh/kWp"}
_SIMPLE_SUFFIXES = [
    ("_kwh_per_kwp", "kWh/kWp"), ("_kwh_per_m2_day", "kWh/m²/day"), ("_kwh_per_m2", "kWh/m²"),
    ("_tco2e_per_year", "tCO2e/yr"), ("_mwh_per_year", "MWh/yr"), ("_t_per_mwh", "t/MWh"),
    ("_tco2e", "tCO2e"), ("_mwh", "MWh"), ("_kwh", "kWh"), ("_kwp", "kWp"), ("_kw", "kW"), ("_mwp", "MWp"),
    ("_pct", "%"), ("_years", "yr"), ("_share", "share"),
]


def _currency_unit(rest: str, cur: str) -> str:
    """``""``, ``"per_kwh"``, ``"npv_per_unit"``... -> ``"CNY"``, ``"CNY/kWh"``, ``"CNY NPV per unit"``."""
    parts = [p for p in rest.split("_") if p]
    out = cur
    if parts and parts[0] == "npv":
        out, parts = f"{cur} NPV", parts[1:]
    if parts and parts[0] == "per":
        den = [_UNIT_TOKENS.get(p, p) for p in parts[1:]]
        out += ("/" if den and den[0] != "unit" else " per ") + "/".join(den)
    return out


def _split_unit(col: str, cur: str) -> tuple[str, str]:
    """Split a machine column name into ``(words, unit)``."""
    low = col.lower()
    c = cur.lower()
    m = re.search(rf"_{re.escape(c)}((?:_npv)?(?:_per(?:_[a-z0-9]+)+)?)$", low) if c else None
    if m:
        return col[: m.start()], _currency_unit(m.group(1), cur.upper())
    for suf, unit in _SIMPLE_SUFFIXES:
        if low.endswith(suf) and len(low) > len(suf):
            return col[: -len(suf)], unit
    return col, ""


_EXACT = {"kwp": "Capacity [kWp]", "ok": "OK", "build_kwp": "New PV [kWp]", "max_kwp": "Largest size [kWp]",
          "existing_kwp": "Existing before the plan [kWp]", "installed_kwp": "Installed [kWp]", "value": "Value", "met": "Met"}


def _cost_header(s: str, currency: str) -> str | None:
    from pvopt.costs import COST_CATEGORIES, TOTAL_COST, column_name

    for c in COST_CATEGORIES:
        if s.lower() == column_name(c.name, currency).lower():
            return f"{c.label[:1].upper()}{c.label[1:]} [{currency.upper()}]"
    if s.lower() == column_name(TOTAL_COST, currency).lower():
        return f"Total [{currency.upper()}]"
    return None


def header(col: Any, currency: str = "CNY") -> Any:
    """Human header with its unit in brackets: ``"lcoe_cny_per_kwh"`` -> ``"LCOE [CNY/kWh]"``.

    Integers (year headers of pivoted tables) are returned unchanged; names without
    an underscore and already human headers are only capitalised.
    """
    if isinstance(col, (int, np.integer)):
        return int(col)
    s = str(col)
    if s.isdigit() and len(s) == 4:
        return int(s)
    if s in _EXACT:
        return _EXACT[s]
    cost = _cost_header(s, currency) if currency else None
    if cost:
        return cost
    if "_" not in s:
        return s[:1].upper() + s[1:] if s and not s[0].isupper() else s
    for k, v in _PHRASES:
        if s.lower() == k:
            return v[:1].upper() + v[1:]
    words, unit = _split_unit(s, currency)
    text = words.lower()
    for k, v in _PHRASES:
        text = text.replace(k, v.replace(" ", "\x00"))
    toks = [_WORDS.get(t, t) for t in re.split(r"[_\x00]", text) if t]
    label = " ".join(toks) if toks else s
    label = label[:1].upper() + label[1:]
    return f"{label} [{unit}]" if unit else label


def is_year_column(name: Any, values: pd.Series) -> bool:
    """Return whether a column holds calendar years (printed without thousands separators)."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    low = str(name).lower()
    if low not in {"year", "build year", "first year", "payback year", "milestone year"} and not low.endswith("_year") or "per" in low:
        return False
    v = values.dropna()
    return bool(len(v) == 0 or ((v == v.round()) & (v >= 1900) & (v <= 2200)).all())


def column_decimals(values: pd.Series, name: Any = "") -> int:
    """Decimals of a numeric column, fixed for the whole column.

    Integers: 0; otherwise by the largest magnitude in the column: >= 100: 0,
    >= 10: 1, >= 1: 2, below: 3 (prices per kWh, factors). Percent columns: 1.
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0
    if np.all(v == np.round(v)):
        return 0
    if str(name).endswith("_pct") or str(name).endswith("[%]"):
        return 1
    m = float(np.max(np.abs(v)))
    return 0 if m >= 100 else 1 if m >= 10 else 2 if m >= 1 else 3


def format_number(v: Any, decimals: int, *, year: bool = False) -> str:
    """Format one cell: thousands separators, ``decimals`` decimals, years plain, booleans yes/no, missing as a dash."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
        return "–"
    if isinstance(v, (int, float, np.integer, np.floating)):
        if year:
            return str(int(v))
        out = f"{float(v):,.{decimals}f}"
        return "0" + out[2:] if out.startswith("-0") and float(out.replace(",", "")) == 0 else out
    return html.escape(str(v))


def excel_number_format(decimals: int, *, year: bool = False) -> str:
    """Excel number format of a column: ``#,##0.00`` with ``decimals`` decimals, ``0`` for years."""
    if year:
        return "0"
    return "#,##0" + ("." + "0" * decimals if decimals > 0 else "")


def humanize(df: pd.DataFrame, currency: str = "CNY") -> tuple[pd.DataFrame, dict[Any, tuple[int, bool]]]:
    """Rename the columns of ``df`` to human headers; return it and ``{header: (decimals, is_year)}`` of the numeric columns."""
    out = df.copy()
    fmt: dict[Any, tuple[int, bool]] = {}
    names = []
    for c in df.columns:
        h = header(c, currency)
        col = df[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            yr = is_year_column(c, col) or is_year_column(h, col)
            fmt[h] = (column_decimals(col, c), yr)
        elif col.dtype == object and col.map(lambda x: isinstance(x, (int, float, np.number)) and not isinstance(x, bool)).all() and len(col):
            fmt[h] = (column_decimals(col, c), False)
        names.append(h)
    out.columns = names
    return out, fmt
