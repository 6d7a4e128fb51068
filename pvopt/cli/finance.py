"""The ``pvopt compare`` and ``pvopt report`` commands (registered on :data:`pvopt.cli.main.app` on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pvopt.cli.main import handle_errors, print_df, progress_bar, app, out, state

__all__ = ["compare", "report"]


@app.command()
def compare(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory: plan.nc (re-solved) and figures/macc.png."),
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="Use this plan.nc instead of solving the portfolio again."),
) -> None:
    """PV against certificates, per array: LCOE, value, abatement cost, break-even certificate price.

    Solves the plan (replacing DIR/plan.nc; the yield is reused when unchanged) unless --plan
    is given, prints the table and the certificate prices, and writes DIR/figures/macc.png.
    An array beats certificates when the certificate price is above its break-even price.

    Examples:
      pvopt compare sites/lead --out out/lead
      pvopt compare sites/lead --plan out/lead/plan.nc --out out/lead
    """
    with handle_errors():
        from pvopt.results import finance
        from pvopt.io import write_bytes_atomic as _atomic_bytes
        from pvopt.report.report import load_plan, plot_macc

        if plan_file is not None:
            plan = load_plan(plan_file)
        else:
            from pvopt.pipeline import run_plan

            with progress_bar() as prog:
                task = prog.add_task("yield, build, solve", total=None)
                run = run_plan(portfolio, out_dir, force=True, progress=lambda d, t: prog.update(task, completed=d, total=t))
            plan = run.plan
        cur = finance.currency_code(plan)
        C = str(plan.attrs.get("currency", ""))
        fa = finance.finance_arrays(plan)
        be = f"break_even_certificate_price_{cur}_per_mwh"
        cols = {
            "array": "array", "status": "status", "kwp": "kWp", f"lcoe_{cur}_per_kwh": f"LCOE {C}/kWh",
            f"value_{cur}_per_kwh": f"value {C}/kWh", "onsite_share_pct": "onsite %", "irr_pct": "IRR %",
            "payback_years": "payback yr", f"abatement_cost_{cur}_per_tco2e": f"abatement {C}/t",
            be: f"break-even cert {C}/MWh", "pv_cheaper_than_certificates": "PV cheaper",
        }
        tab = fa[list(cols)].rename(columns=cols).copy()
        tab["PV cheaper"] = tab["PV cheaper"].map({True: "yes", False: "no"})
        fmt = {f"LCOE {C}/kWh": "{:.3f}", f"value {C}/kWh": "{:.3f}", "onsite %": "{:.1f}", "IRR %": "{:.1f}",
               "payback yr": "{:.1f}", f"abatement {C}/t": "{:,.0f}", f"break-even cert {C}/MWh": "{:,.1f}", "kWp": "{:,.0f}"}
        if not state.quiet:
            print_df(tab, f"PV against certificates ({plan.attrs.get('portfolio_name', '')})", floatfmt=fmt)
            cp = finance.certificate_prices_table(plan)
            if not cp.empty:
                print_df(cp, f"Certificate prices ({C}; per tCO2e at the mean residual factor)",
                          floatfmt={f"price_{cur}_per_mwh": "{:.2f}", f"cost_{cur}_per_tco2e": "{:.2f}"})
        macc = finance.macc_table(plan, fa)
        path = Path(out_dir) / "figures" / "macc.png"
        _atomic_bytes(plot_macc(macc, C, plan), path)
        built = fa[fa.status == "built"]
        ref = finance.reference_certificate_price(plan)
        if len(built):
            out.print(
                f"PV beats certificates on {int(built.pv_cheaper_than_certificates.sum())} of {len(built)} built arrays; "
                f"break-even certificate prices {built[be].min():,.0f} to {built[be].max():,.0f} {C}/MWh "
                f"against {ref:,.2f} {C}/MWh (mean cheapest certificate). Wrote {path}", markup=False)
        else:
            out.print(f"the plan builds no PV; wrote {path}", markup=False)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="Run directory holding plan.nc (from `pvopt plan`)."),
) -> None:
    """Write RUN_DIR/report.html (self-contained), RUN_DIR/report.xlsx (one sheet per table) and RUN_DIR/figures/*.png.

    Example: pvopt report out/lead
    """
    with handle_errors():
        from pvopt.report.report import write_report

        files = write_report(run_dir)
        out.print(f"wrote {files.html}, {files.xlsx} and {len(files.figures)} figures in {Path(run_dir) / 'figures'}", markup=False)
        for why in files.left_out.values():
            out.print(why, markup=False, soft_wrap=True)
