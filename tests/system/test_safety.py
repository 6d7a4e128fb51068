"""Safety: YAML is loaded safely, nothing is evaluated, data paths stay inside the portfolio."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import edit_yaml, find_issue, load_issues
from pvopt.errors import EXIT_INPUT

PACKAGE = Path(__file__).resolve().parents[2] / "pvopt"


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "payload",
    [
        "name: !!python/object/apply:os.system ['touch {marker}']\n",
        "name: alpha\nx: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
        "name: !!python/name:os.system\n",
    ],
    ids=["apply-os-system", "new-popen", "python-name"],
)
def test_python_tags_are_refused_not_run(mini_copy, tmp_path, cli, payload):
    marker = tmp_path / "pwned"
    (mini_copy / "alpha.yaml").write_text(payload.format(marker=marker), encoding="utf-8")
    r = cli("validate", mini_copy)
    msg = _flat(r.stderr)
    assert r.exit_code == EXIT_INPUT
    assert not marker.exists(), "a YAML tag ran a command"
    assert "alpha.yaml" in msg and re.search(r"line \d+, column \d+", msg)
    assert "refused YAML tag" in msg and "python/" in msg and "expected plain YAML" in msg
    assert "Traceback" not in r.output


def test_yaml_billion_laughs_is_bounded(mini_copy, cli):
    """Aliases are expanded by reference in safe_load; validation must still answer promptly with a type error."""
    lol = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)
    )
    (mini_copy / "alpha.yaml").write_text(lol, encoding="utf-8")
    r = cli("validate", mini_copy)
    assert r.exit_code == EXIT_INPUT
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    "field, make",
    [
        ("load.profile.path", lambda d: {"type": "csv", "path": "../outside.csv"}),
        ("load.profile.path", lambda d: {"type": "csv", "path": str(d.parent / "outside.csv")}),
        ("load.profile.path", lambda d: {"type": "csv", "path": "sub/../../outside.csv"}),
    ],
    ids=["dot-dot", "absolute", "dot-dot-through-subdir"],
)
def test_paths_escaping_the_portfolio_are_refused(mini_copy, field, make):
    (mini_copy.parent / "outside.csv").write_text("load_kw\n" + "1\n" * 8760)
    (mini_copy / "sub").mkdir()
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s["load"].__setitem__("profile", make(mini_copy)))
    issue = find_issue(load_issues(mini_copy), file="alpha.yaml", field=field)
    assert "leaves the portfolio directory" in issue.message


def test_symlink_pointing_outside_is_refused(mini_copy):
    outside = mini_copy.parent / "outside.csv"
    outside.write_text("load_kw\n" + "1\n" * 8760)
    os.symlink(outside, mini_copy / "load.csv")
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s["load"].__setitem__("profile", {"type": "csv", "path": "load.csv"}))
    issue = find_issue(load_issues(mini_copy), file="alpha.yaml", field="load.profile.path")
    assert "leaves the portfolio directory" in issue.message


def test_weather_path_escaping_is_refused(mini_copy, tmp_path):
    (tmp_path / "w.epw").write_text("LOCATION,x\n")
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s.update(weather={"source": "file", "path": "../w.epw"}))
    issue = find_issue(load_issues(mini_copy), file="alpha.yaml", field="weather.path")
    assert "leaves the portfolio directory" in issue.message


def test_tariff_path_escaping_is_refused(mini_copy, tmp_path):
    (tmp_path / "p.csv").write_text("price_per_kwh\n" + "0.5\n" * 8760)
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s.update(tariff={"type": "hourly_file", "path": "../p.csv"}))
    issue = find_issue(load_issues(mini_copy), file="alpha.yaml", field="tariff.path")
    assert "leaves the portfolio directory" in issue.message


def test_symlink_inside_the_portfolio_is_fine(mini_copy, cli):
    (mini_copy / "data").mkdir()
    (mini_copy / "data" / "load.csv").write_text("load_kw\n" + "1\n" * 8760)
    os.symlink(mini_copy / "data" / "load.csv", mini_copy / "load.csv")
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s["load"].__setitem__("profile", {"type": "csv", "path": "load.csv"}))
    r = cli("validate", mini_copy)
    assert r.exit_code == 0, r.stderr


UNSAFE = [
    (re.compile(r"\byaml\.load\("), "yaml.load( (use yaml.safe_load)"),
    (re.compile(r"\byaml\.(unsafe_load|full_load)\("), "yaml.unsafe_load/full_load"),
    (re.compile(r"(?<![\w.])eval\("), "eval("),
    (re.compile(r"(?<![\w.])exec\("), "exec("),
    (re.compile(r"\bpickle\.loads?\("), "pickle.load("),
    (re.compile(r"shell\s*=\s*True"), "subprocess shell=True"),
]


def test_package_has_no_unsafe_calls():
    found = []
    for p in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for rx, what in UNSAFE:
                if rx.search(code):
                    found.append(f"{p.name}:{n}: {what}")
    assert not found, found
