"""Read a portfolio directory into validated, frozen models.

Every problem found is collected, not only the first, and each names the
file, the field, what was expected and what arrived.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pvopt.inputs.schema import CsvProfile, Portfolio, PortfolioSettings, Site
from pvopt.errors import InputIssue, PortfolioError
from pvopt.inputs.files import normals_path, resolve_input_path
from pvopt.inputs.profiles import read_hourly_csv

__all__ = ["load_portfolio", "resolve_input_path", "PORTFOLIO_FILE"]

PORTFOLIO_FILE = "portfolio.yaml"


def _read_yaml(path: Path, issues: list[InputIssue]) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        issues.append(InputIssue(str(path), "", f"expected UTF-8 text, got undecodable bytes ({e.reason} at byte {e.start})"))
        return None
    except OSError as e:
        issues.append(InputIssue(str(path), "", f"cannot read the file: {e.strerror}"))
        return None
    if not text.strip():
        issues.append(InputIssue(str(path), "", "the file is empty; expected a YAML mapping"))
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if isinstance(e, yaml.constructor.ConstructorError):
            issues.append(InputIssue(str(path), where, f"refused YAML tag: {problem}; expected plain YAML (pvopt loads YAML safely and builds no Python objects)"))
        else:
            issues.append(InputIssue(str(path), where, f"malformed YAML: {problem}"))
        return None
    if not isinstance(data, dict):
        hint = ""
        if re.search(r"^\s*(\[[\w.\-]+\]|[\w\-]+\s*=)", text, flags=re.MULTILINE):
            hint = "; the text looks like TOML or INI (key = value), but pvopt reads YAML (key: value)"
        issues.append(InputIssue(str(path), "", f"expected a YAML mapping at the top level, got {type(data).__name__}{hint}"))
        return None
    return data


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # pydantic puts union tags and function names in loc; keep field names only
            if part in {"function-after[_size(), Array]"} or part.startswith(("function-", "tagged-union")):
                continue
            out += ("." if out else "") + str(part)
    return out


def pydantic_issues(path: Path, err: ValidationError, prefix: str = "") -> list[InputIssue]:
    issues = []
    for e in err.errors(include_url=False):
        field = _loc(tuple(e["loc"]))
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        kind = e["type"]
        got = e.get("input")
        if kind == "extra_forbidden":
            msg = "unknown key; check its spelling against the input reference (docs/input-reference.md)"
        elif kind == "missing":
            msg = "required field is missing"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if not isinstance(got, (dict, list)) and got is not None:
                shown = repr(got)
                if len(shown) > 60:
                    shown = shown[:57] + "..."
                if "got" not in msg:
                    msg = f"{msg}; got {shown}"
        issues.append(InputIssue(str(path), field, msg))
    return issues


def load_portfolio(directory: str | Path) -> Portfolio:
    """Load and validate a portfolio directory.

    Parameters
    ----------
    directory
        Folder holding ``portfolio.yaml`` and one ``<site>.yaml`` per site.

    Raises
    ------
    PortfolioError
        With every problem found, each naming file, field and what was wrong.
    """
    d = Path(directory)
    if not d.exists():
        raise PortfolioError([InputIssue(str(d), "", "the portfolio directory does not exist")])
    if not d.is_dir():
        raise PortfolioError([InputIssue(str(d), "", "expected a portfolio directory (with portfolio.yaml and site files), got a file")])
    issues: list[InputIssue] = []
    pfile = d / PORTFOLIO_FILE
    settings = None
    if not pfile.exists():
        issues.append(InputIssue(str(pfile), "", f"missing; a portfolio directory needs {PORTFOLIO_FILE}"))
    else:
        raw = _read_yaml(pfile, issues)
        if raw is not None:
            try:
                settings = PortfolioSettings.model_validate(raw)
            except ValidationError as e:
                issues.extend(pydantic_issues(pfile, e))
    site_files = sorted(p for p in d.glob("*.y*ml") if p.name != PORTFOLIO_FILE and p.suffix in {".yaml", ".yml"})
    if not site_files:
        issues.append(InputIssue(str(d), "", "no site files; add one <site>.yaml per site next to portfolio.yaml"))
    sites: list[Site] = []
    for sf in site_files:
        raw = _read_yaml(sf, issues)
        if raw is None:
            continue
        try:
            site = Site.model_validate(raw)
        except ValidationError as e:
            issues.extend(pydantic_issues(sf, e))
            continue
        sites.append(site)
        issues.extend(check_site_files(d, sf, site))
    if settings is not None:
        # a milestone's site is checked only when every site file loaded: a broken site file
        # must not also be reported as "site not in the portfolio"
        all_sites_loaded = len(sites) == len(site_files)
        issues.extend(check_cross(d, pfile, settings, sites, site_files, check_site_names=all_sites_loaded))
    if issues or settings is None:  # settings is None only after an issue was reported
        raise PortfolioError(issues)
    try:
        return Portfolio(settings=settings, sites=sites, directory=d)
    except ValidationError as e:  # cross-file checks not caught above
        raise PortfolioError(pydantic_issues(pfile, e)) from None


def check_site_files(d: Path, sf: Path, site: Site) -> list[InputIssue]:
    out: list[InputIssue] = []
    # (field, path, hourly CSV column or None); the schema guarantees the path of each source
    refs: list[tuple[str, str, str | None]] = []
    if site.weather.source == "file":
        refs.append(("weather.path", str(site.weather.path), None))
    if isinstance(site.load.profile, CsvProfile):
        refs.append(("load.profile.path", site.load.profile.path, site.load.profile.column))
    if site.tariff.type == "hourly_file":
        refs.append(("tariff.path", str(site.tariff.path), site.tariff.column))
    for field, rel, column in refs:
        try:
            resolve_input_path(d, rel, file=str(sf), field=field)
        except PortfolioError as e:
            out.extend(e.issues)
            continue
        # hourly CSVs are small: read them now (cached), so `validate` catches a bad column,
        # row count, NaN or negative value before the yield study runs
        if column is not None:
            what = "load [kW]" if field == "load.profile.path" else "price [currency/kWh]"
            try:
                read_hourly_csv(d, rel, column, field=field, what=what)
            except PortfolioError as e:
                out.extend(InputIssue(i.file, i.field, f"{i.message} (referenced by {sf.name}: {field})") for i in e.issues)
    prof = site.load.profile
    if prof.type == "shift" and prof.holidays:
        import holidays

        if prof.holidays not in holidays.list_supported_countries():
            out.append(
                InputIssue(
                    str(sf),
                    "load.profile.holidays",
                    f"unknown holiday country code '{prof.holidays}' (python-holidays); expected a code such as 'CN', or null",
                )
            )
    if site.weather.source == "synthetic":
        try:
            normals_path(str(site.weather.normals))
        except PortfolioError as e:
            out.extend(InputIssue(str(sf), "weather.normals", i.message) for i in e.issues)
    return out


def check_cross(
    d: Path,
    pfile: Path,
    settings: PortfolioSettings,
    sites: list[Site],
    site_files: list[Path],
    *,
    check_site_names: bool = True,
) -> list[InputIssue]:
    out: list[InputIssue] = []
    names = [s.name for s in sites]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    for n, count in seen.items():
        if count > 1:
            out.append(InputIssue(str(d), "name", f"site name '{n}' is used by {count} site files; site names must be unique"))
    years = settings.planning.years
    for i, m in enumerate(settings.milestones):
        site = getattr(m, "site", None)
        if check_site_names and site is not None and site not in names:
            out.append(InputIssue(str(pfile), f"milestones[{i}].site", f"site '{site}' is not in the portfolio (sites: {sorted(names)})"))
        if m.type == "min_certificates_mwh":
            ok = [c for c in settings.certificates if c.first_year <= m.year <= c.last_year]
            if not ok:
                out.append(
                    InputIssue(
                        str(pfile),
                        f"milestones[{i}]",
                        f"milestone '{m.name}' needs certificates in {m.year}, but no instrument in 'certificates' can be bought that year",
                    )
                )
        if m.type == "offset_cap" and settings.offsets is None:
            out.append(InputIssue(str(pfile), f"milestones[{i}]", "an offset cap needs an 'offsets' section with a price"))
    for i, c in enumerate(settings.certificates):
        if isinstance(c.price_per_mwh, dict):
            in_h = [y for y in years if c.first_year <= y <= c.last_year]
            if in_h and min(c.price_per_mwh) > in_h[0]:
                out.append(
                    InputIssue(
                        str(pfile),
                        f"certificates[{i}].price_per_mwh",
                        f"'{c.name}' can be bought in {in_h[0]}-{in_h[-1]} but its first price is for {min(c.price_per_mwh)}; add a price for {in_h[0]}",
                    )
                )
    return out
