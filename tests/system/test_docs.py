"""The docs stay in step with the code: generated input reference, formulation, glossary."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def test_input_reference_is_generated_from_the_schema():
    from pvopt.inputs.schema_docs import render

    committed = (DOCS / "input-reference.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/input-reference.md is stale: run `python -m pvopt.inputs.schema_docs > docs/input-reference.md`"


def test_input_reference_lists_every_field_with_a_unit_where_named():
    from pvopt.inputs import schema as config
    from pvopt.inputs.schema_docs import models_in_order, render, unit_of

    text = render()
    for m in models_in_order():
        assert f"## {m.__name__}" in text
        for name in m.model_fields:
            assert f"| `{name}` |" in text, f"{m.__name__}.{name} missing"
    assert config.Array in models_in_order()
    assert unit_of("area_m2", None) == "m²"
    assert unit_of("tilt_deg", "surface tilt") == "deg"
    assert unit_of("capex_per_kwp", None) == "currency/kWp"
    assert unit_of("name", None) == ""


def _define_functions() -> list[str]:
    names = []
    for path in sorted((REPO / "pvopt" / "lp").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names += [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("define_") and n.name != "define_rows"]
    return names


def test_formulation_mentions_every_constraint_family():
    text = (DOCS / "formulation.md").read_text(encoding="utf-8")
    names = _define_functions()
    assert len(names) >= 5
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"docs/formulation.md does not describe {missing}; document them"


def test_glossary_defines_the_key_terms():
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    terms = re.findall(r"^\*\*(.+?)\*\*", text, flags=re.M)
    for want in ["kWp", "LCOE", "NPC", "MACC", "I-REC", "GEC", "Scope 2", "Break-even certificate price", "Exact reduction"]:
        assert any(want.lower() in t.lower() for t in terms), f"glossary lacks {want}"
