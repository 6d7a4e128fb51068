"""The command line: help with examples on every command, exit codes, --quiet, errors as one message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pvopt.cli import app

REPO = Path(__file__).resolve().parents[2]
LEAD = str(REPO / "sites" / "lead")
EXIT_INPUT = 2


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "140"})


def test_top_level_help_documents_exit_codes_and_examples():
    r = invoke("--help")
    assert r.exit_code == 0
    for code in ["0 ok", "1 internal error", "2 bad input", "3 milestones infeasible", "4 solver failure", "5 output exists"]:
        assert code in r.stdout
    assert "Examples" in r.stdout
    assert "--quiet" in r.stdout and "--verbose" in r.stdout


@pytest.mark.parametrize("command", ["validate", "yield", "plan", "compare", "report", "sweep"])
def test_every_command_help_has_examples(command):
    if command not in _commands():
        pytest.skip(f"{command} is not registered")
    r = invoke(command, "--help")
    assert r.exit_code == 0, r.output
    assert "Example" in r.stdout
    lines = [ln for ln in r.stdout.splitlines() if f"pvopt {command} " in ln]
    assert lines, "the examples must be shown one per line"


def test_units_in_brackets_survive_rich_markup():
    r = invoke("plan", "--help")
    assert "[s]" in r.stdout  # --time-limit "HiGHS time limit [s]"


def test_validate_prints_the_summary_and_quiet_prints_one_line():
    r = invoke("validate", LEAD)
    assert r.exit_code == 0, r.output
    assert "Portfolio 'lead-example'" in r.stdout and "Milestones" in r.stdout
    q = invoke("--quiet", "validate", LEAD)
    assert q.exit_code == 0
    assert len(q.stdout.strip().splitlines()) == 1


def test_errors_are_one_message_with_the_documented_exit_code(tmp_path):
    r = invoke("validate", str(tmp_path / "missing"))
    assert r.exit_code == EXIT_INPUT
    assert "error:" in r.stderr and "Traceback" not in r.output
    bad = invoke("plan", LEAD, "--out", str(tmp_path / "o"), "--solver", "magic")
    assert bad.exit_code == EXIT_INPUT
    assert "magic" in bad.output and "Traceback" not in bad.output


def test_plan_writes_files_prints_milestones_and_quiet_is_one_line(tmp_path):
    out = tmp_path / "run"
    r = invoke("plan", LEAD, "--out", str(out))
    assert r.exit_code == 0, r.output
    assert (out / "plan.nc").exists() and (out / "summary.csv").exists()
    assert "Milestones" in r.stdout and "neutral-2035" in r.stdout and "NPC" in r.stdout
    again = invoke("plan", LEAD, "--out", str(out))
    assert again.exit_code == 5 and "--force" in again.stderr
    q = invoke("--quiet", "plan", LEAD, "--out", str(out), "--force", "--no-hourly")
    assert q.exit_code == 0, q.output
    assert len(q.stdout.strip().splitlines()) == 1 and "NPC" in q.stdout
    v = invoke("--verbose", "plan", LEAD, "--out", str(out), "--force", "--no-hourly", "--milestone-costs", "none")
    assert v.exit_code == 0
    assert "timings [s]" in v.stderr


# --------------------------------------------------------------------------- #
# CLI manners (issue 14, item 6)
# --------------------------------------------------------------------------- #
def test_version():
    from pvopt.constants import __version__

    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"pvopt {__version__}"


def test_global_flags_are_accepted_after_the_command():
    q = invoke("validate", LEAD, "--quiet")
    assert q.exit_code == 0, q.output
    assert len(q.stdout.strip().splitlines()) == 1
    v = invoke("validate", LEAD, "-v")
    assert v.exit_code == 0 and "timings [s]" in v.stderr


def test_hoisting_leaves_option_values_and_what_follows_the_separator():
    import typer.main

    from pvopt.cli.main import hoist_global_flags

    group = typer.main.get_command(app)
    assert hoist_global_flags(group, ["plan", "pf", "--out", "-q", "--debug"]) == ["--debug", "plan", "pf", "--out", "-q"]
    assert hoist_global_flags(group, ["-v", "plan", "pf", "--", "--quiet"]) == ["-v", "plan", "pf", "--", "--quiet"]
    assert hoist_global_flags(group, ["weather", "fetch", "pf", "-q"]) == ["-q", "weather", "fetch", "pf"]


@pytest.mark.parametrize("columns", [100, 80])
def test_plan_tables_never_cut_a_number(tmp_path, columns):
    """At COLUMNS=100 and 80 every number of the plan summary appears whole (the table is split, never truncated)."""
    import pandas as pd

    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["plan", LEAD, "--out", str(out), "--no-hourly"], env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.output
    assert "…" not in r.stdout, "a cell was cut"
    table_lines = [ln for ln in r.stdout.splitlines() if ln[:1] in "┏┃┡│└"]
    assert max(len(ln) for ln in table_lines) <= columns
    tokens = set(r.stdout.replace("│", " ").replace("┃", " ").split())
    s = pd.read_csv(out / "summary.csv")
    tot = s[s["site"] == "ALL"]
    cols = ["installed_rooftop_kwp", "installed_carport_kwp", "pv_generated_mwh", "pv_onsite_mwh", "curtailed_mwh", "grid_import_mwh",
            "certificates_mwh", "offsets_tco2e", "scope1_after_measures_tco2e", "scope2_location_tco2e", "scope2_market_tco2e", "net_tco2e"]
    missing = [(c, int(y), f"{v:,.0f}") for c in cols for y, v in zip(tot["year"], tot[c]) if f"{v:,.0f}" not in tokens]
    assert not missing, f"numbers not shown whole at COLUMNS={columns}: {missing[:5]}"
    assert all(f"{v / 1000:,.0f}" in tokens for v in tot["total_cost"])
    for m in ("pv-8.8MWp-2025", "neutral-2035"):
        assert m in r.stdout


def test_report_shows_its_phase_and_time_with_verbose(tmp_path, cli):
    from conftest import mini_portfolio

    pf = mini_portfolio(tmp_path / "pf")
    out = tmp_path / "run"
    assert cli("plan", pf, "--out", out).exit_code == 0
    r = cli("report", out, "--verbose")
    assert r.exit_code == 0, r.output
    assert "phase timings [s]: write report.html, report.xlsx and figures" in r.stderr
    again = cli("report", out)
    assert again.exit_code == 5 and "--force" in again.stderr
    assert cli("report", out, "--force", "-q").exit_code == 0


def test_exit_code_table_is_the_same_everywhere():
    from pvopt.errors import EXIT_CODES, EXIT_INTERRUPTED

    assert EXIT_INTERRUPTED == 130 and EXIT_CODES[130].startswith("interrupted")
    docs = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    helptext = " ".join(invoke("--help").stdout.split())
    for code in EXIT_CODES:
        assert f"| {code} |" in docs, f"docs/reliability.md lacks exit code {code}"
        assert f"{code} " in readme.split("Exit codes:")[1][:600], f"README lacks exit code {code}"
        assert f"{code} " in helptext.split("Exit codes:")[1], f"--help lacks exit code {code}"
