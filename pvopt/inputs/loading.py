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
from pvopt.inputs.files import PORTFOLIO_FILE, normals_path, resolve_input_path, site_files, unread_file_issues
from pvopt.inputs.plausibility import plausibility_issues, report_warnings
from pvopt.inputs.profiles import read_hourly_csv
from pvopt.inputs.yamlfile import parse_yaml

__all__ = ["load_portfolio", "resolve_input_path", "PORTFOLIO_FILE", "check_site_files", "check_cross", "pydantic_issues", "referenced_paths"]


def _yaml_error_issue(path: Path, e: yaml.YAMLError) -> InputIssue:
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if isinstance(e, yaml.constructor.ConstructorError):
        return InputIssue(str(path), where, f"refused YAML tag: {problem}; expected plain YAML (pvopt loads YAML safely and builds no Python objects)")
    return InputIssue(str(path), where, f"malformed YAML: {problem}")


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
        data, duplicates = parse_yaml(text)
    except yaml.YAMLError as e:
        issues.append(_yaml_error_issue(path, e))
        return None
    for dup in duplicates:
        issues.append(InputIssue(
            str(path), f"line {dup.line}, column {dup.column}",
            f"duplicate key '{dup.key}' ({dup.path}; first at line {dup.first_line}); YAML would keep only the last value "
            "and silently drop the other: keep one of them",
        ))
    if duplicates:
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
    """Turn a pydantic ``ValidationError`` into issues naming ``path``, the field path (after ``prefix``) and what arrived."""
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
        elif kind == "float_type" and isinstance(got, int) and not isinstance(got, bool):
            digits = int(got.bit_length() * 0.30103) + 1  # str() of a huge int may be refused
            msg = f"expected a finite number, got an integer of about {digits} digits (it overflows to infinity)"
        elif kind == "finite_number":
            shown = repr(got) if len(repr(got)) <= 40 else repr(got)[:37] + "..."
            too_big = " (it overflows to infinity)" if isinstance(got, (str, int)) else ""
            msg = f"expected a finite number, got {shown}{too_big}"
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


def _load_settings(pfile: Path, issues: list[InputIssue]) -> PortfolioSettings | None:
    if not pfile.exists():
        issues.append(InputIssue(str(pfile), "", f"missing; a portfolio directory needs {PORTFOLIO_FILE}"))
        return None
    raw = _read_yaml(pfile, issues)
    if raw is None:
        return None
    try:
        return PortfolioSettings.model_validate(raw)
    except ValidationError as e:
        issues.extend(pydantic_issues(pfile, e))
        return None


def _load_sites(d: Path, files: list[Path], issues: list[InputIssue]) -> list[tuple[Path, Site]]:
    loaded: list[tuple[Path, Site]] = []
    for sf in files:
        raw = _read_yaml(sf, issues)
        if raw is None:
            continue
        try:
            site = Site.model_validate(raw)
        except ValidationError as e:
            issues.extend(pydantic_issues(sf, e))
            continue
        loaded.append((sf, site))
        issues.extend(check_site_files(d, sf, site))
    return loaded


def referenced_paths(directory: Path, sites: list[Site]) -> set[Path]:
    """Return the resolved paths of the data files the sites name (weather file, load CSV, hourly tariff CSV)."""
    out: set[Path] = set()
    for site in sites:
        rels = [site.weather.path if site.weather.source == "file" else None,
                site.load.profile.path if isinstance(site.load.profile, CsvProfile) else None,
                site.tariff.path if site.tariff.type == "hourly_file" else None]
        out.update((directory / rel).resolve() for rel in rels if rel)
    return out


def load_portfolio(directory: str | Path) -> Portfolio:
    """Load and validate a portfolio directory.

    Every top-level file of the folder is read or reported (rules in
    :mod:`pvopt.inputs.files`); each YAML file is parsed safely with duplicate
    keys refused (:mod:`pvopt.inputs.yamlfile`); then the schema, the
    cross-file checks and the plausibility rules (:mod:`pvopt.inputs.plausibility`)
    run. Plausibility warnings are printed (one ``warning:`` line each) when the
    portfolio loads.

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
    settings = _load_settings(pfile, issues)
    files = site_files(d)
    if not files:
        issues.append(InputIssue(str(d), "", "no site files; add one <site>.yaml per site next to portfolio.yaml"))
    loaded = _load_sites(d, files, issues)
    sites = [site for _, site in loaded]
    # a milestone's site (and an unreferenced data file) is checked only when every site file loaded:
    # a broken site file must not also be reported as "site not in the portfolio"
    complete = len(loaded) == len(files)
    issues.extend(unread_file_issues(d, referenced_paths(d, sites), sites_complete=complete))
    warnings: list[InputIssue] = []
    if settings is not None:
        issues.extend(check_cross(d, pfile, settings, sites, files, check_site_names=complete,
                                  site_file_of=[sf for sf, _ in loaded], warnings=warnings))
    if issues or settings is None:  # settings is None only after an issue was reported
        raise PortfolioError(issues)
    try:
        pf = Portfolio(settings=settings, sites=sites, directory=d)
    except ValidationError as e:  # cross-file checks not caught above
        raise PortfolioError(pydantic_issues(pfile, e)) from None
    report_warnings(warnings)
    return pf


def check_site_files(d: Path, sf: Path, site: Site) -> list[InputIssue]:
    """Check the files site file ``sf`` names: inside the folder, present, hourly CSVs readable and a load not all zero."""
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
                values = read_hourly_csv(d, rel, column, field=field, what=what)
            except PortfolioError as e:
                out.extend(InputIssue(i.file, i.field, f"{i.message} (referenced by {sf.name}: {field})") for i in e.issues)
                continue
            if field == "load.profile.path" and not values.any():
                out.append(InputIssue(
                    str(resolve_input_path(d, rel, file=str(sf), field=field)), f"column '{column}'",
                    f"the load is zero in every row; expected an hourly load shape [kW] (pvopt scales it to load.annual_mwh) "
                    f"(referenced by {sf.name}: {field})",
                ))
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
    site_file_of: list[Path] | None = None,
    warnings: list[InputIssue] | None = None,
) -> list[InputIssue]:
    """Check across files: unique site names, milestones against sites and instruments, plausibility.

    Parameters
    ----------
    d, pfile
        The portfolio folder and its ``portfolio.yaml``.
    settings, sites
        The validated settings and sites.
    site_files
        The site files found (kept for callers; the names come from ``site_file_of``).
    check_site_names
        Check that milestones name known sites (False when some site file failed to load).
    site_file_of
        The file of each site, in the order of ``sites``; default ``pfile`` for all.
    warnings
        When given, plausibility warnings are appended to it.

    Returns
    -------
    list of InputIssue
        The errors found.
    """
    out: list[InputIssue] = []
    files = [str(f) for f in site_file_of] if site_file_of is not None else None
    out.extend(_duplicate_site_names(d, sites, files))
    errors, warned = plausibility_issues(settings, sites, pfile=str(pfile), site_files=files, directory=d)
    out.extend(errors)
    if warnings is not None:
        warnings.extend(warned)
    names = [s.name for s in sites]
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


def _duplicate_site_names(d: Path, sites: list[Site], files: list[str] | None) -> list[InputIssue]:
    """One issue per site name used by more than one site file, naming every file that uses it."""
    by_name: dict[str, list[str]] = {}
    for k, s in enumerate(sites):
        by_name.setdefault(s.name, []).append(files[k] if files is not None else "")
    out = []
    for name, where in by_name.items():
        if len(where) < 2:
            continue
        if files is None:
            out.append(InputIssue(str(d), "name", f"site name '{name}' is used by {len(where)} site files; site names must be unique"))
            continue
        shown = " and ".join(Path(f).name for f in where)
        out.append(InputIssue(
            where[-1], "name",
            f"site name '{name}' is used by {len(where)} site files ({shown}); site names must be unique: rename the site in one of them",
        ))
    return out
