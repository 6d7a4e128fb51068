"""The ``pvopt compare`` and ``pvopt report`` commands (registered on :data:`pvopt.cli.main.app` on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pvopt.cli.main import check_outputs, handle_errors, phases, print_df, app, out, state, write_report_files

__all__ = ["compare", "report", "read_plan"]


def read_plan(path: Path, option: str):
    """Load a ``plan.nc`` given on the command line, or raise a bad-input error (exit 2) naming the file, the option and the fix.

    The run folder is first brought back to a consistent pair (:func:`pvopt.pipeline.recover_run`).
    """
    from pvopt.errors import InputIssue, RunInputError
    from pvopt.pipeline import recover_run
    from pvopt.report.report import load_plan

    fix = "run `pvopt plan PORTFOLIO --out DIR` (add --force to replace a damaged one) and give that DIR"
    if path.is_dir():
        raise RunInputError([InputIssue(str(path), option, f"is a folder; expected a plan.nc file, e.g. {path / 'plan.nc'} "
                                        "(written by `pvopt plan PORTFOLIO --out DIR`)")])
    if not path.exists():
        raise RunInputError([InputIssue(str(path), option, f"the plan file does not exist; {fix}")])
    try:
        recover_run(path.parent)
    except OSError:
        pass  # a read-only folder: the plan itself is still readable
    try:
        plan = load_plan(path)
    except Exception as e:  # noqa: BLE001 - truncated, not netCDF, not readable: one message naming the file
        raise RunInputError([InputIssue(str(path), option, f"cannot be read as a plan ({type(e).__name__}: {e}); the file is "
                                        f"truncated or damaged, or not a plan.nc; {fix}")]) from None
    if "npc" not in plan or "installed_kwp" not in plan:
        raise RunInputError([InputIssue(str(path), option, f"is not a plan of pvopt (no npc / installed_kwp); {fix}")])
    return plan


@app.command()
def compare(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory: plan.nc (re-solved) and figures/macc.png."),
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="Use this plan.nc instead of solving the portfolio again."),
    force: bool = typer.Option(False, "--force", help="Replace DIR/figures/macc.png and (without --plan) DIR/plan.nc and summary.csv."),
) -> None:
    """PV against certificates, per array: LCOE, value, abatement cost, break-even certificate price.

    Solves the plan into DIR (plan.nc and summary.csv; the yield is reused when unchanged)
    unless --plan is given, prints the table and the certificate prices, and writes
    DIR/figures/macc.png. Existing outputs are replaced only with --force (exit 5 otherwise).
    An array beats certificates when the certificate price is above its break-even price.

    Examples:
      pvopt compare sites/lead --out out/lead
      pvopt compare sites/lead --plan out/lead/plan.nc --out out/lead
      pvopt compare sites/lead --out out/lead --force
    """
    with handle_errors():
        from pvopt.io import run_lock

        path = Path(out_dir) / "figures" / "macc.png"
        check_outputs(force, path, *((out_dir / "plan.nc", out_dir / "summary.csv") if plan_file is None else ()))
        with run_lock(out_dir, "compare"):
            if plan_file is not None:
                plan = read_plan(plan_file, "--plan")
            else:
                from pvopt.pipeline import run_plan

                with phases("load the portfolio") as ph:
                    plan = run_plan(portfolio, out_dir, force=force, progress=ph.step, phase=ph.phase).plan
            _compare(plan, path)


def _compare(plan, path: Path) -> None:
    """Print the PV-against-certificates tables of ``plan`` and write the MACC to ``path``."""
    from pvopt.io import write_bytes_atomic
    from pvopt.report.report import plot_macc
    from pvopt.results import finance

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
    write_bytes_atomic(plot_macc(macc, C, plan), path)
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
    force: bool = typer.Option(False, "--force", help="Replace an existing report.html / report.xlsx (and figures)."),
) -> None:
    """Write RUN_DIR/report.html (self-contained), RUN_DIR/report.xlsx (one sheet per table) and RUN_DIR/figures/*.png.

    A progress line runs while the report is written (15-20 s for the example); --verbose prints
    the time. Exit 2 when RUN_DIR has no readable plan.nc (missing, truncated), 5 when the report
    exists (use --force) or RUN_DIR cannot be written.

    Examples:
      pvopt report out/lead
      pvopt report out/lead --force
    """
    with handle_errors():
        from pvopt.errors import InputIssue, RunInputError
        from pvopt.io import run_lock

        if not run_dir.is_dir():
            what = "is a file" if run_dir.exists() else "does not exist"
            raise RunInputError([InputIssue(str(run_dir), "RUN_DIR", f"{what}; expected the folder of a run of "
                                            "`pvopt plan PORTFOLIO --out RUN_DIR`, holding plan.nc")])
        if not (run_dir / "plan.nc").exists():
            raise RunInputError([InputIssue(str(run_dir / "plan.nc"), "RUN_DIR", "not found: the folder holds no plan; run "
                                            f"`pvopt plan PORTFOLIO --out {run_dir}` first")])
        check_outputs(force, *(run_dir / f for f in ("report.html", "report.xlsx")))
        with run_lock(run_dir, "report"):
            plan = read_plan(run_dir / "plan.nc", "RUN_DIR")
            write_report_files(run_dir, plan=plan)
