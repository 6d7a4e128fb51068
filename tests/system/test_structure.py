"""The shape the redesign promised: small functions, no private names across modules, layers kept.

The layer contracts themselves are checked by import-linter (`lint-imports`, run by `make test`);
this test makes sure the same contracts are configured and adds what import-linter cannot see.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "pvopt"
#: longest function allowed in pvopt/ [lines from ``def`` to its last line]
MAX_FUNCTION_LINES = 80


def _trees():
    for p in sorted(PACKAGE.rglob("*.py")):
        yield p.relative_to(REPO).as_posix(), ast.parse(p.read_text(encoding="utf-8"))


def test_no_function_over_80_lines():
    long = [f"{path}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for path, tree in _trees() for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, "split these into named steps:\n" + "\n".join(long)


def test_no_import_of_another_modules_private_names():
    bad = [f"{path}: from {n.module} import {a.name}"
           for path, tree in _trees() for n in ast.walk(tree)
           if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("pvopt")
           for a in n.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, "make these public or move them:\n" + "\n".join(bad)


def test_layer_contracts_are_configured():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c for c in cfg["contracts"] if c["type"] == "layers")["layers"]
    for stage in ("pvopt.cli", "pvopt.report", "pvopt.studies", "pvopt.results", "pvopt.lp", "pvopt.pv", "pvopt.inputs"):
        assert stage in layers, f"{stage} missing from the layers contract"
    assert layers.index("pvopt.lp") < layers.index("pvopt.pv") < layers.index("pvopt.inputs"), "lp above pv above inputs"
    forbidden = {tuple(c["forbidden_modules"]) for c in cfg["contracts"] if c["type"] == "forbidden"}
    assert {("pvlib",), ("pyomo", "highspy"), ("matplotlib", "plotly"), ("typer", "rich")} <= forbidden


def test_every_stage_has_tests():
    for stage in ("inputs", "pv", "lp", "results", "studies", "report", "cli", "system"):
        assert list((REPO / "tests" / stage).glob("test_*.py")), f"tests/{stage} has no tests"
