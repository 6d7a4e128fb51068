"""Issue 15 at the level of the inputs layer: the YAML reader, the folder rules and the plausibility rules.

The command-line corpus (``tests/system/test_bad_input_corpus.py``) runs each fault through
``pvopt``; these tests pin the rules themselves: thresholds, edge cases and the documentation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import LEAD_DIR, REPO_ROOT, edit_yaml, find_issue, load_issues, mini_portfolio, read_yaml
from pvopt import load_portfolio
from pvopt.errors import InputIssue, warn_input
from pvopt.inputs import plausibility as P
from pvopt.inputs.files import site_files, unread_file_issues
from pvopt.inputs.schema import Site
from pvopt.inputs.yamlfile import parse_yaml


# --------------------------------------------------------------------------- #
# YAML: duplicate keys
# --------------------------------------------------------------------------- #
def test_duplicates_are_found_at_every_depth_with_both_lines():
    text = "a: 1\nb:\n  - {x: 1, y: 2}\n  - x: 1\n    x: 2\na: 3\n"
    data, dups = parse_yaml(text)
    assert data is None
    assert [(d.path, d.key, d.line, d.first_line) for d in dups] == [("b[1].x", "x", 5, 4), ("a", "a", 6, 1)]


def test_keys_are_compared_as_values():
    _, dups = parse_yaml("s: {2024: 1.0, 0x7E8: 2.0}\n")
    assert [(d.path, d.first_line) for d in dups] == [("s.0x7E8", 1)]
    data, dups = parse_yaml("s: {'2024': 1.0, 2024: 2.0}\n")  # text and number are different keys
    assert dups == [] and data == {"s": {"2024": 1.0, 2024: 2.0}}


def test_merge_keys_may_be_overridden():
    data, dups = parse_yaml("base: &b {tilt_deg: 10, azimuth_deg: 180}\nroof:\n  <<: *b\n  tilt_deg: 25\n")
    assert dups == []
    assert data["roof"] == {"tilt_deg": 25, "azimuth_deg": 180}


def test_aliases_are_visited_once():
    lol = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
    )
    _, dups = parse_yaml(lol)  # 9**10 leaves if expanded; returns at once
    assert dups == []


def test_python_tags_stay_refused():
    with pytest.raises(yaml.constructor.ConstructorError):
        parse_yaml("a: !!python/object/apply:os.system ['true']\n")


def test_duplicate_key_in_portfolio_file_is_reported_and_nothing_else(mini_copy):
    p = mini_copy / "portfolio.yaml"
    p.write_text(p.read_text().replace("discount_rate: 0.06", "discount_rate: 0.06\n  discount_rate: 0.08"))
    issues = load_issues(mini_copy)
    issue = find_issue(issues, file="portfolio.yaml", contains="duplicate key 'discount_rate'")
    assert issue.field == "line 8, column 3"
    assert "planning.discount_rate; first at line 7" in issue.message
    assert len(issues) == 1  # the file is not validated on a guess of which value was meant


# --------------------------------------------------------------------------- #
# the folder: every file read or reported
# --------------------------------------------------------------------------- #
def test_site_files_are_lower_case_yaml_and_yml_only(tmp_path):
    for name in ("portfolio.yaml", "a.yaml", "b.yml", "c.YAML", "d.Yml", ".e.yaml", "f.toml", "Portfolio.yml"):
        (tmp_path / name).write_text("x: 1\n")
    assert [p.name for p in site_files(tmp_path)] == ["a.yaml", "b.yml"]


def test_unread_files_are_named_with_the_fix(tmp_path):
    for name in ("portfolio.yaml", "a.yaml", "c.YAML", "f.toml", "w.epw", "used.epw", "m.csv", "README.md", ".hidden", "x.bak"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.toml").write_text("x\n")
    issues = unread_file_issues(tmp_path, {(tmp_path / "used.epw").resolve()})
    assert {Path(i.file).name: i.message.split(";")[0] for i in issues} == {
        "c.YAML": "the extension '.YAML' is not lower case, so the file would not be read as a site file",
        "f.toml": "pvopt reads portfolio and site files as YAML only, not '.toml'",
        "w.epw": "unknown file type '.epw' in the portfolio folder, and no site names it",
        "x.bak": "unknown file type '.bak' in the portfolio folder, and no site names it",
    }
    # while a site file is broken, a data file it may name is not reported
    partial = unread_file_issues(tmp_path, set(), sites_complete=False)
    assert sorted(Path(i.file).name for i in partial) == ["c.YAML", "f.toml"]


def test_the_example_folders_hold_only_files_that_are_read_or_allowed():
    for d in (LEAD_DIR, REPO_ROOT / "sites" / "lead-pillars"):
        assert unread_file_issues(d, set()) == []


# --------------------------------------------------------------------------- #
# plausibility rules
# --------------------------------------------------------------------------- #
def _site(**changes) -> Site:
    data = read_yaml(LEAD_DIR / "wuxi.yaml")
    data.update(changes)
    return Site.model_validate(data)


def _errors(settings, *sites, directory=None) -> tuple[list[InputIssue], list[InputIssue]]:
    return P.plausibility_issues(settings, list(sites), pfile="portfolio.yaml", site_files=["s.yaml"] * len(sites), directory=directory)


@pytest.mark.parametrize(
    "lon, tz, ok",
    [
        (120.31, "Asia/Shanghai", True),
        (75.99, "Asia/Shanghai", True),  # Kashgar on Beijing time: 2.93 h
        (-3.70, "Europe/Madrid", True),  # 1.25 h in winter, 2.25 h in summer
        (-171.75, "Pacific/Apia", True),  # UTC+13 at 172 W: 0.45 h on the 24 h clock
        (179.0, "Pacific/Pago_Pago", True),  # UTC-11 at 179 E: 0.9 h
        (70.0, "Asia/Shanghai", False),  # 3.3 h
        (-120.31, "Asia/Shanghai", False),  # sign of the longitude lost
        (120.31, "America/New_York", False),
    ],
)
def test_time_zone_against_longitude(lead_portfolio, lon, tz, ok):
    errors, _ = _errors(lead_portfolio.settings, _site(longitude_deg=lon, timezone=tz))
    assert (not [e for e in errors if e.field == "timezone"]) == ok, errors


def test_existing_pv_in_the_first_year_is_fine_after_it_is_not(lead_portfolio):
    arrays = read_yaml(LEAD_DIR / "wuxi.yaml")["arrays"]
    first = lead_portfolio.settings.planning.first_year
    for year, n_errors in ((first, 0), (first + 1, 1)):
        arrays[0].update(existing_year=year)
        errors, _ = _errors(lead_portfolio.settings, _site(arrays=arrays))
        assert len([e for e in errors if e.field == "arrays[0].existing_year"]) == n_errors


@pytest.mark.parametrize("year, verdict", [(2024, "ok"), (2019, "ok"), (2018, "warning"), (2036, "warning"), (2003, "error"), (2056, "error")])
def test_base_year_bands(lead_portfolio, year, verdict):
    load = {**read_yaml(LEAD_DIR / "wuxi.yaml")["load"], "base_year": year}
    errors, warnings = _errors(lead_portfolio.settings, _site(load=load))  # horizon 2024-2035
    got = "error" if any(e.field == "load.base_year" for e in errors) else "warning" if any(w.field == "load.base_year" for w in warnings) else "ok"
    assert got == verdict


def test_prices_in_other_currencies_are_not_compared(lead_portfolio):
    st = lead_portfolio.settings.model_copy(update={"currency": "EUR"})
    certs = [c.model_copy(update={"price_per_mwh": 5000.0}) for c in st.certificates]
    _, warnings = _errors(st.model_copy(update={"certificates": certs}), _site())
    assert warnings == []
    _, warnings = _errors(lead_portfolio.settings.model_copy(update={"certificates": certs}), _site())
    assert [w.field for w in warnings] == ["certificates[0].price_per_mwh", "certificates[1].price_per_mwh"]


def test_reference_prices_are_the_shipped_example(lead_portfolio):
    st = lead_portfolio.settings
    prices = {c.name: c.price_per_mwh for c in st.certificates}
    assert P.CERTIFICATE_REFERENCE_PER_MWH == (prices["GEC"][2025], prices["GEC"][2035])
    assert min(prices["GEC"][2025], prices["I-REC"]) == P.CERTIFICATE_REFERENCE_PER_MWH[0]
    assert P.OFFSET_REFERENCE_PER_TCO2E == (st.offsets.price_per_tco2e[2024], st.offsets.price_per_tco2e[2025])


def test_the_examples_raise_no_error_and_no_warning(lead_portfolio):
    errors, warnings = P.plausibility_issues(lead_portfolio.settings, lead_portfolio.sites, pfile="portfolio.yaml", directory=LEAD_DIR)
    assert errors == [] and warnings == []


def test_warnings_are_printed_once_the_portfolio_loads(tmp_path, capsys):
    d = mini_portfolio(tmp_path / "mini")
    edit_yaml(d / "alpha.yaml", lambda s: s["load"].update(annual_mwh=0.2))
    pf = load_portfolio(d)
    assert pf.sites[0].load.annual_mwh == 0.2
    err = capsys.readouterr().err
    assert err.startswith(f"warning: {d / 'alpha.yaml'}: load.annual_mwh: a near-zero load: 0.2 MWh/yr (an average of 0.0228 kW)")
    assert err.count("\n") == 1


def test_warnings_are_not_printed_when_loading_fails(tmp_path, capsys):
    d = mini_portfolio(tmp_path / "mini")
    edit_yaml(d / "alpha.yaml", lambda s: (s["load"].update(annual_mwh=0.2), s.update(latitude_deg=123)))
    load_issues(d)
    assert "warning:" not in capsys.readouterr().err


def test_warn_input_writes_one_line(capsys):
    warn_input(InputIssue("f.yaml", "x", "odd"))
    assert capsys.readouterr().err == "warning: f.yaml: x: odd\n"


def test_rule_table_is_in_the_reliability_doc_and_the_input_reference():
    table = P.rules_markdown()
    assert len(table.splitlines()) == 2 + len(P.RULES)
    for doc in ("docs/reliability.md", "docs/input-reference.md"):
        assert table in (REPO_ROOT / doc).read_text(encoding="utf-8"), doc
