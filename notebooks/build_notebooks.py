"""Write the three example notebooks from this script, without outputs.

    python notebooks/build_notebooks.py

The notebooks are generated so that they stay reviewable as plain Python in
this file; edit here, run the script, commit both. ``tests/system/test_notebooks.py``
executes every notebook top to bottom on the example portfolio ``sites/lead``
(offline) and checks the JSON line each one prints in its last cell.

Each notebook finds the portfolio through ``PVOPT_PORTFOLIO`` (the test sets
it) or else ``../sites/lead`` (Jupyter starts in ``notebooks/``), and writes
nothing into the repository.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''\
import json, os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pvopt

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
pd.set_option("display.float_format", "{:,.2f}".format)
PORTFOLIO = Path(os.environ.get("PVOPT_PORTFOLIO") or "../sites/lead")
pf = pvopt.load_portfolio(PORTFOLIO)
pf.settings.name, [s.name for s in pf.sites]'''


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


# --------------------------------------------------------------------------- #
# 1. planner
# --------------------------------------------------------------------------- #
PLANNER = [
    md("""
# 1 · Sizing PV per site (planner)

You will learn to: load a portfolio, see what each roof or carport **yields**, see how much of the PV a
plan can **use onsite**, and find out **what adding a carport changes** — all in code, without editing
YAML files.

The example portfolio `sites/lead` has five production bases with rooftop and carport surfaces; its
weather is a synthetic typical year (every output says so). A yield takes ~2 s, a plan ~2–5 s.
"""),
    code(SETUP),
    md("""
## Yield per surface

`pvopt.simulate` runs pvlib for every array (1 kWp each) and returns a `YieldResult`. Its `table()`
has one row per array: **specific yield** (kWh per kWp per year) and **capacity factor**. Column names
end in their unit.
"""),
    code('''
yields = pvopt.simulate(pf)
yields'''),
    code('''
yields.table().sort_values("annual_kwh_per_kwp", ascending=False)'''),
    md("""
Flat roofs and low-tilt carports facing south yield the most per kWp; sawtooth roofs facing east or west
yield less. The monthly profile shows the plum-rain dip in June:
"""),
    code('''
monthly = yields.monthly_kwh_per_kwp()
ax = monthly[[c for c in monthly.columns if c.startswith("suzhou/")]].plot.bar(figsize=(9, 3.5), width=0.8)
ax.set_ylabel("kWh per kWp"); ax.set_title("Suzhou: monthly specific yield per surface");'''),
    md("""
## The base plan, and how much PV is used onsite

`pvopt.plan` builds and solves the LP (least net present cost meeting every milestone). Reuse the
yield so it is not simulated again. The result prints a short summary; its tables carry units in their
column names.
"""),
    code('''
base = pvopt.plan(pf, yields=yields)
base'''),
    code('''
util = base.energy(by="site").xs(2030, level="year")[["pv_generated_mwh", "pv_onsite_mwh", "curtailed_mwh", "onsite_share_pct"]]
util'''),
    md("""
Under **zero export**, PV a site cannot use is curtailed: the onsite share is what matters. Per array,
`result.finance()` shares each hour's onsite use among the site's arrays by their generation:
"""),
    code('''
per_array = base.finance()[["array", "kwp", "generation_mwh_per_year", "onsite_share_pct", "lcoe_cny_per_kwh"]]
per_array.set_index("array")'''),
    md("""
## What does a new carport change?

Add a 3,000 m² carport at Suzhou with `pvopt.with_array`. The edit returns a **new, validated**
portfolio (a typo or an impossible value raises `PortfolioError` naming the field). `plan` notices the
new array and simulates the yield again.
"""),
    code('''
carport = {"name": "staff-carport-east", "kind": "carport", "area_m2": 3000, "tilt_deg": 5, "azimuth_deg": 180}
pf_car = pvopt.with_array(pf, "suzhou", carport)
with_car = pvopt.plan(pf_car, yields=yields)
with_car'''),
    code('''
comparison = pvopt.compare_plans({"base": base, "+ Suzhou carport": with_car})
comparison.T'''),
    code('''
site_year = pd.concat({"base": base.energy(by="site"), "+ carport": with_car.energy(by="site")}, names=["plan"])
suzhou = site_year.xs("suzhou", level="site")[["pv_onsite_mwh", "onsite_share_pct"]].unstack("plan")
ax = suzhou["pv_onsite_mwh"].plot(figsize=(8, 3), marker="o")
ax.set_ylabel("PV used onsite [MWh]"); ax.set_title("Suzhou: onsite PV with and without the new carport");'''),
    md("""
The plan builds the carport only if it lowers the net present cost or is needed for a milestone;
`npc_change_cny` is the saving (negative) or cost (positive) against the base plan.
"""),
    code('''
built = with_car.arrays().loc["suzhou/staff-carport-east"]
print(json.dumps({"notebook": "planner", "carport_built_kwp": float(built["built_kwp"]),
                  "npc_base": base.npc, "npc_carport": with_car.npc}))'''),
]

# --------------------------------------------------------------------------- #
# 2. finance
# --------------------------------------------------------------------------- #
FINANCE = [
    md("""
# 2 · PV against certificates (finance)

You will learn to: read each array's **LCOE**, value and **break-even certificate price**, draw the
**marginal abatement cost curve (MACC)** of PV, certificates and offsets, and see **how the break-even
moves** with PV capex and the certificate price.

*Break-even certificate price*: the certificate price [CNY/MWh] at which buying certificates and
building the array cost the same per MWh of market-based Scope 2 removed. Certificates priced above it
make the array the cheaper choice; a negative break-even means the array pays for itself from the
electricity it saves. Definitions: `docs/glossary.md`, formulas: `docs/accounting.md`.
"""),
    code(SETUP),
    code('''
yields = pvopt.simulate(pf)
base = pvopt.plan(pf, yields=yields)
base'''),
    md("""
## PV per array against certificates

`result.finance()` (from `pvopt.results.finance`) gives one row per array. Arrays the plan leaves unbuilt are
evaluated at their unused room.
"""),
    code('''
fa = base.finance()
cols = ["array", "status", "kwp", "lcoe_cny_per_kwh", "value_cny_per_kwh", "onsite_share_pct", "irr_pct",
        "payback_years", "break_even_certificate_price_cny_per_mwh", "pv_cheaper_than_certificates"]
fa[cols].sort_values("break_even_certificate_price_cny_per_mwh")'''),
    code('''
import pvopt.results.finance as finance
finance.certificate_prices_table(base.dataset)'''),
    md("""
## Marginal abatement cost curve

Each bar is one option: its width the tCO2e a year it can remove, its height the cost per tCO2e
(negative: it saves money). Options are alternatives for the same tonnes.
"""),
    code('''
macc = base.macc()
col = "cost_cny_per_tco2e"
colors = {"pv": "tab:green", "certificate": "tab:blue", "offset": "tab:purple", "efficiency": "tab:orange", "electrification": "tab:red"}
fig, ax = plt.subplots(figsize=(10, 4))
x = 0.0
for _, r in macc.iterrows():
    w = r["abated_tco2e_per_year"] / 1000
    ax.bar(x, r[col], width=w, align="edge", color=colors[r["type"]], edgecolor="white", alpha=1.0 if r["used_in_plan"] else 0.4)
    x += w
ax.axhline(0, color="black", lw=0.8)
ax.set_xlabel("abatement [ktCO2e/yr]"); ax.set_ylabel("cost [CNY/tCO2e]")
ax.legend([plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()], ["PV array", "certificates", "offsets", "efficiency", "electrification"])
ax.set_title("MACC: PV arrays, measures, certificates, offsets");
macc[["option", "type", "abated_tco2e_per_year", col]]'''),
    md("""
## How the break-even moves with capex

The break-even depends on the array's cost (LCOE) and on the value of the grid power it displaces. Scale
PV capex in the plan's inputs and evaluate the same build-out again (no new solve needed): the
portfolio-wide break-even rises with capex. Where it crosses a certificate price, certificates become
the cheaper way to cut market-based Scope 2.
"""),
    code('''
rows = []
for scale in [1.0, 1.5, 2.0, 2.5, 3.0]:
    plan_ds = base.dataset.copy()
    plan_ds["capex_per_kwp"] = base.dataset["capex_per_kwp"] * scale
    fs = finance.finance_sites(plan_ds).set_index("site").loc["ALL"]
    rows.append({"capex_scale": scale, "lcoe_cny_per_kwh": fs["lcoe_cny_per_kwh"],
                 "break_even_cny_per_mwh": fs["break_even_certificate_price_cny_per_mwh"]})
be = pd.DataFrame(rows).set_index("capex_scale")
be'''),
    code('''
ref = finance.reference_certificate_price(base.dataset)
ax = be["break_even_cny_per_mwh"].plot(marker="o", figsize=(8, 3.5), label="PV break-even (all built PV)")
for k, ls in [(1, "--"), (10, ":"), (50, "-.")]:
    ax.axhline(ref * k, ls=ls, color="tab:blue", label=f"certificates x{k} ({ref * k:,.0f} CNY/MWh)")
ax.set_xlabel("PV capex scale"); ax.set_ylabel("CNY per MWh"); ax.legend(fontsize=8)
ax.set_title("PV beats certificates below the dashed lines");'''),
    md("""
## Does the optimiser agree?

Re-plan with scenarios (`scenario=` applies `pvopt.studies.sweep.apply_scenario` to the LP inputs): capex ×2.5
with today's certificate prices, and the same with certificates ×50. Rooftops are forced in by the
`all-rooftops-2027` milestone, so watch the **carports**, which no milestone requires.
"""),
    code('''
runs = {"base": base}
for name, scen in {"capex x2.5": {"capex_scale": 2.5},
                   "capex x2.5, certificates x50": {"capex_scale": 2.5, "certificate_price_scale": 50}}.items():
    runs[name] = pvopt.plan(pf, yields=yields, scenario=scen, hourly=False)
table = pvopt.compare_plans(runs)
table[["npc_cny", "carport_2035_kwp", "rooftop_2035_kwp", "certificates_total_mwh", "offsets_total_tco2e"]]'''),
    code('''
all_row = base.finance(by="site").set_index("site").loc["ALL"]
print(json.dumps({"notebook": "finance", "break_even_base": float(all_row["break_even_certificate_price_cny_per_mwh"]),
                  "break_even_by_scale": be["break_even_cny_per_mwh"].round(3).tolist()}))'''),
]

# --------------------------------------------------------------------------- #
# 3. analyst
# --------------------------------------------------------------------------- #
ANALYST = [
    md("""
# 3 · Scenarios and a custom constraint (analyst)

You will learn to: compare **scenarios** in one table, change the portfolio **in code**, and add your own
**constraint** to the LP through the `extra_constraints(model, data)` hook — without forking pvopt.
"""),
    code(SETUP),
    code('''
yields = pvopt.simulate(pf)
base = pvopt.plan(pf, yields=yields, hourly=False)
base'''),
    md("""
## Scenarios

Two ways to vary inputs:

* `scenario={...}` scales LP inputs (`certificate_price_scale`, `capex_scale`, `tariff_scale`,
  `grid_factor_scale`, `discount_rate`, `offset_price`, `milestone_year:<name>`), as `pvopt sweep` does;
* `pvopt.with_settings_change` / `with_site_change` edit the portfolio itself and validate it again
  (nested fields joined by `__`).
"""),
    code('''
runs = {"base": base}
runs["certificates x10"] = pvopt.plan(pf, yields=yields, scenario={"certificate_price_scale": 10}, hourly=False)
runs["capex -20%"] = pvopt.plan(pf, yields=yields, scenario={"capex_scale": 0.8}, hourly=False)
pf_rate = pvopt.with_settings_change(pf, planning__discount_rate=0.08)
runs["discount rate 8%"] = pvopt.plan(pf_rate, yields=yields, hourly=False)
pvopt.compare_plans(runs)'''),
    code('''
em = pd.concat({k: r.emissions()["net_tco2e"] for k, r in runs.items()}, axis=1)
ax = em.plot(figsize=(8, 3.5), marker=".")
ax.set_ylabel("net emissions [tCO2e]"); ax.set_title("Net Scope 1 + market-based Scope 2 − offsets");'''),
    md("""
An edit that breaks the schema is refused with the field named:
"""),
    code('''
try:
    pvopt.with_site_change(pf, "suzhou", **{"arrays__assembly-roof__tilt_deg": 120})
except pvopt.PortfolioError as e:
    print(e)'''),
    md("""
## A custom constraint: Suzhou builds at most 600 kWp a year

The hook receives the Pyomo model and the LP input Dataset. `model.build[a, y]` is the new PV [kWp] of
array `a` in year `y`, where `a` and `y` are integer positions into `data["array"]` and `data["year"]`
(every component is listed in `docs/formulation.md`). Add any linear constraint; the plan is solved with
it and every table reflects it.
"""),
    code('''
import pyomo.environ as pyo

SUZHOU_MAX_KWP_PER_YEAR = 600.0

def suzhou_build_rate(model, data):
    suzhou = [a for a in model.A if data["array_site"].values[a] == "suzhou"]
    model.suzhou_rate = pyo.Constraint(
        model.Y, rule=lambda m, y: sum(m.build[a, y] for a in suzhou) <= SUZHOU_MAX_KWP_PER_YEAR)

limited = pvopt.plan(pf, yields=yields, extra_constraints=suzhou_build_rate, hourly=False)
limited'''),
    code('''
pd.concat({"base": base.capacity(by="site")["suzhou_kwp"], "limited": limited.capacity(by="site")["suzhou_kwp"]}, axis=1).head(6)'''),
    code('''
cost = limited.npc - base.npc
print(f"Spreading Suzhou's build over several years costs {cost:,.0f} CNY of net present cost "
      f"({cost / base.npc:.2%} of the base plan).")
pvopt.compare_plans({"base": base, "Suzhou <= 600 kWp/yr": limited}).T'''),
    code('''
print(json.dumps({"notebook": "analyst", "npc_base": base.npc, "npc_limited": limited.npc,
                  "suzhou_max_build_kwp": float(limited.dataset["build_kwp"].where(limited.dataset["array_site"] == "suzhou", 0).sum("array").max()),
                  "scenarios": list(runs)}))'''),
]

NOTEBOOKS = {
    "01_planner_sizing.ipynb": PLANNER,
    "02_finance_pv_vs_certificates.ipynb": FINANCE,
    "03_analyst_scenarios.ipynb": ANALYST,
}


def build() -> dict[str, nbformat.NotebookNode]:
    out = {}
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        for i, c in enumerate(nb.cells):
            c["id"] = f"{name[:2]}-{i:02d}"  # stable ids: regenerating gives the same file
        out[name] = nb
    return out


def main() -> None:
    for name, nb in build().items():
        nbformat.write(nb, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
