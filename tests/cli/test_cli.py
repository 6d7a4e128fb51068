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
