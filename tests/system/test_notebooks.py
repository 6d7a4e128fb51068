"""Execute the three example notebooks top to bottom on ``sites/lead`` (offline) and check one value each.

Each notebook runs from a copy in ``tmp_path`` (its working directory), finds the
portfolio through ``PVOPT_PORTFOLIO`` and prints one JSON line in its last cell,
which the test parses. The committed notebooks must hold no outputs and equal
what ``notebooks/build_notebooks.py`` generates.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[2]
NB_DIR = REPO / "notebooks"
NOTEBOOKS = ["01_planner_sizing.ipynb", "02_finance_pv_vs_certificates.ipynb", "03_analyst_scenarios.ipynb"]
CELL_TIMEOUT_S = 120
NPC_RTOL = 1e-6  #: relative slack on NPC comparisons between two optimal plans
KWP_ATOL = 1e-3  #: absolute slack on capacities read back from the solver [kWp]


def _generator():
    spec = importlib.util.spec_from_file_location("build_notebooks", NB_DIR / "build_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure a ``python3`` kernel running this interpreter exists, without a by-hand install."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" in KernelSpecManager().find_kernel_specs():
        return  # ipykernel ships it in sys.prefix/share/jupyter (or it is the native kernel)
    kdir = tmp_path / "jupyter" / "kernels" / "python3"
    kdir.mkdir(parents=True)
    (kdir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))


def _run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    _kernel_env(tmp_path, monkeypatch)
    monkeypatch.setenv("PVOPT_PORTFOLIO", str(REPO / "sites" / "lead"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(NB_DIR / name, work / name)
    nb = nbformat.read(work / name, as_version=4)
    before = sorted(p.name for p in NB_DIR.iterdir())
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    assert sorted(p.name for p in NB_DIR.iterdir()) == before, "the notebook wrote into notebooks/"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    last = nb.cells[-1]
    text = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    lines = [ln for ln in text.splitlines() if ln.startswith("{")]
    assert lines, f"the last cell printed no JSON line; got {text!r}"
    return json.loads(lines[-1])


def test_planner_notebook(tmp_path, monkeypatch):
    out = _run("01_planner_sizing.ipynb", tmp_path, monkeypatch)
    assert out["notebook"] == "planner"
    # one more option can only lower (or keep) the least net present cost
    assert out["npc_carport"] <= out["npc_base"] * (1 + NPC_RTOL)
    assert out["carport_built_kwp"] > KWP_ATOL


def test_finance_notebook(tmp_path, monkeypatch):
    out = _run("02_finance_pv_vs_certificates.ipynb", tmp_path, monkeypatch)
    assert out["notebook"] == "finance"
    be = out["break_even_by_scale"]
    assert len(be) == 5
    assert all(b2 > b1 for b1, b2 in zip(be, be[1:])), f"break-even must rise with capex, got {be}"
    assert be[0] == pytest.approx(out["break_even_base"], rel=1e-3)


def test_analyst_notebook(tmp_path, monkeypatch):
    out = _run("03_analyst_scenarios.ipynb", tmp_path, monkeypatch)
    assert out["notebook"] == "analyst"
    assert out["npc_limited"] >= out["npc_base"] * (1 - NPC_RTOL)
    assert out["suzhou_max_build_kwp"] <= 600.0 + KWP_ATOL  # the notebook's SUZHOU_MAX_KWP_PER_YEAR
    assert len(out["scenarios"]) >= 3


def test_notebooks_are_generated_and_stored_without_outputs():
    gen = _generator().build()
    assert sorted(gen) == sorted(NOTEBOOKS)
    for name, nb in gen.items():
        stored = nbformat.read(NB_DIR / name, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in stored.cells if c.cell_type == "code"), name
        assert nbformat.writes(stored) == nbformat.writes(nb), f"{name} differs from build_notebooks.py; run it again"
