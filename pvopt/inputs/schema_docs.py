"""Generate the input reference (``docs/input-reference.md``) from the pydantic schema.

Run ``python -m pvopt.inputs.schema_docs > docs/input-reference.md``; a test checks the
committed file equals this output, so the reference cannot drift from the
schema. For every model reachable from ``portfolio.yaml``
(:class:`~pvopt.inputs.schema.PortfolioSettings`) and a site file
(:class:`~pvopt.inputs.schema.Site`) it lists every field with its type, unit,
default and description. The unit comes from a ``[unit]`` in the field's
description or else from the suffix of its name (``_kwp``, ``_m2``, ``_deg``,
``_pct``, ``_per_kwh`` ...), following the project's naming rule.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from pvopt.inputs import files as portfolio_files
from pvopt.inputs import schema as config
from pvopt.inputs.plausibility import rules_markdown

__all__ = ["render", "unit_of", "type_text", "models_in_order"]

# name suffix -> unit, longest first ("currency" is the portfolio's `currency`)
SUFFIX_UNITS: list[tuple[str, str]] = [
    ("_pct_per_year", "%/yr"),
    ("_kwp_per_m2", "kWp/m²"),
    ("_per_kwp_year", "currency/kWp/yr"),
    ("_t_per_mwh", "tCO2/MWh"),
    ("_per_tco2e", "currency/tCO2e"),
    ("_per_kwh", "currency/kWh"),
    ("_per_mwh", "currency/MWh"),
    ("_per_kwp", "currency/kWp"),
    ("kwp_per_year", "kWp/yr"),
    ("_tco2e", "tCO2e"),
    ("_years", "yr"),
    ("_hour", "h (local time)"),
    ("_kwp", "kWp"),
    ("_mwh", "MWh"),
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_m2", "m²"),
    ("_deg", "deg"),
    ("_pct", "%"),
    ("_m", "m"),
]
# fields whose name carries no suffix but whose unit is fixed
NAME_UNITS = {"kwp": "kWp", "mwh": "MWh", "per_year": "currency/yr", "discount_rate": "1/yr", "year": "year",
              "first_year": "year", "last_year": "year", "base_year": "year", "baseline_year": "year",
              "existing_year": "year", "available_from": "year", "fraction": "share 0-1", "share_of_baseline": "share 0-1", "dc_ac_ratio": "1"}

_BRACKET = re.compile(r"\[([^\[\]]+)\]\s*[.;)]?\s*$|\[([^\[\]]+)\]")


def unit_of(name: str, description: str | None) -> str:
    """Return the unit of a field: a ``[unit]`` in its description, else its name's suffix; ``""`` when unitless.

    Examples
    --------
    >>> unit_of("area_m2", None)
    'm²'
    >>> unit_of("price_per_mwh", "price by year")
    'currency/MWh'
    >>> unit_of("losses_pct", "PVWatts system losses [%]")
    '%'
    """
    if description:
        hits = re.findall(r"\[([^\[\]]+)\]", description)
        if hits:
            return hits[-1].replace("m2", "m²")
    if name in NAME_UNITS:
        return NAME_UNITS[name]
    for suffix, unit in SUFFIX_UNITS:
        if name.endswith(suffix):
            return unit
    return ""


_SERIES_ARGS = get_args(get_args(config.YearSeries)[0])  # (float, dict[int, float]) inside the Annotated alias


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def type_text(t: Any) -> str:
    """Readable type of an annotation; models link to their section."""
    if t is config.YearSeries:
        return "year series"
    origin = get_origin(t)
    args = get_args(t)
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin is Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        if set(args) == set(_SERIES_ARGS):
            return "year series"
        parts = [a for a in args if a is not type(None)]
        if len(parts) == 2 and set(parts) == {float, dict[int, float]}:
            return "year series"
        text = " or ".join(type_text(a) for a in parts)
        return text + (" or null" if len(parts) < len(args) else "")
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"mapping {type_text(args[0])} → {type_text(args[1])}"
    if _is_model(t):
        return f"[{t.__name__}](#{_anchor(t)})"
    if t is float:
        return "number"
    if t is int:
        return "integer"
    if t is str:
        return "text"
    if t is bool:
        return "true/false"
    return getattr(t, "__name__", str(t))


def _models_of(t: Any) -> list[type[BaseModel]]:
    if _is_model(t):
        return [t]
    out: list[type[BaseModel]] = []
    for a in get_args(t):
        out += _models_of(a)
    return out


def models_in_order(roots: tuple[type[BaseModel], ...] = (config.PortfolioSettings, config.Site)) -> list[type[BaseModel]]:
    """Every model reachable from ``roots``, depth first, each once."""
    seen: list[type[BaseModel]] = []

    def walk(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.append(m)
        for f in m.model_fields.values():
            for sub in _models_of(f.annotation):
                walk(sub)

    for r in roots:
        walk(r)
    return seen


def _default_text(f: Any) -> str:
    if f.is_required():
        return "required"
    if f.default_factory is not None:
        v = f.default_factory()
        if _is_model(type(v)):
            return f"{type(v).__name__} defaults"
        return f"`{v!r}`" if v not in ([], {}) else ("empty list" if v == [] else "empty mapping")
    v = f.default
    if v is None or v is PydanticUndefined:
        return "null"
    if isinstance(v, str):
        return f"`{v}`"
    return f"`{v!r}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _doc(m: type[BaseModel]) -> str:
    doc = m.__doc__ or ""
    if doc.startswith(("!!! abstract", "Usage docs")) or m.__doc__ == BaseModel.__doc__:
        return ""
    return " ".join(line.strip() for line in doc.strip().split("\n\n")[0].splitlines())


def _files_rules() -> list[str]:
    """Return the bullet list of :mod:`pvopt.inputs.files` (which files of a portfolio folder are read or reported)."""
    doc = portfolio_files.__doc__ or ""
    text = doc.split("-----------------------------\n", 1)[1]
    return [line.replace("``", "`") for line in text.strip().splitlines()]


FILES = {
    config.PortfolioSettings: "the content of `portfolio.yaml`",
    config.Site: "the content of one site file `<site>.yaml` (every other YAML file in the portfolio directory)",
}


def render() -> str:
    """Render the whole input reference as Markdown."""
    lines = [
        "# Input reference",
        "",
        "<!-- GENERATED by `python -m pvopt.inputs.schema_docs > docs/input-reference.md`; do not edit by hand. -->",
        "",
        "A portfolio is a directory with `portfolio.yaml` ([PortfolioSettings](#portfoliosettings)) and one",
        "YAML file per site ([Site](#site)). Every model forbids unknown keys: a misspelt key is an error",
        "naming the file and the field, not a silent default.",
        "",
        "Units: the **unit** column is read from the field's description (`[unit]`) or from the suffix",
        "of its name (`_kwp`, `_m2`, `_deg`, `_pct`, `_per_kwh` ...). `currency` is the portfolio's",
        "`currency` (ISO 4217, default CNY).",
        "",
        "**Year series**: a number (the same every year) or a mapping `{year: number}`, interpolated",
        "linearly between given years and held flat before the first and after the last.",
        "",
        "**Milestones** are a list under `milestones:` in `portfolio.yaml`; the `type` key selects the",
        "kind (one section each below).",
        "",
        "**Numbers** must be finite: NaN, `.inf` and literals that overflow (`1e400`) are errors naming",
        "the file and the field. **Duplicate keys** in any YAML mapping are errors naming the file, the",
        "line of both occurrences and the key.",
        "",
        "## Files of a portfolio folder",
        "",
        *_files_rules(),
        "",
        "## Plausibility rules",
        "",
        "Checked after the schema, across fields; an error stops the command (exit 2), a warning prints",
        "one `warning:` line on stderr and the command goes on (`docs/reliability.md`).",
        "",
        rules_markdown(),
        "",
    ]
    for m in models_in_order():
        lines += [f"## {m.__name__}", ""]
        if m in FILES:
            lines += [f"*{FILES[m]}*", ""]
        doc = _doc(m)
        if doc:
            lines += [doc, ""]
        lines += ["| field | type | unit | default | description |", "|---|---|---|---|---|"]
        for name, f in m.model_fields.items():
            desc = f.description or ""
            unit = unit_of(name, desc)
            if not desc:
                subs = [x for x in _models_of(f.annotation)]
                desc = "see " + ", ".join(f"[{x.__name__}](#{_anchor(x)})" for x in subs) if subs else ""
            lines.append(
                f"| `{name}` | {_cell(type_text(f.annotation))} | {_cell(unit)} | {_cell(_default_text(f))} | {_cell(desc)} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
