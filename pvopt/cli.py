"""The ``pvopt`` command line.

Exit codes: 0 success; 1 internal error; 2 bad input; 3 milestones infeasible;
4 solver failure (time limit, numerical trouble, unbounded, HiGHS missing);
5 output exists (use --force) or cannot be written.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import PvoptError

EXIT_CODES_HELP = "Exit codes: 0 ok, 1 internal error, 2 bad input, 3 milestones infeasible, 4 solver failure, 5 output exists (use --force)."

app = typer.Typer(
    name="pvopt",
    help="Plan rooftop and carport PV, grid power, certificates and offsets for multi-site manufacturers.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _State:
    quiet = False
    verbose = False
    debug = False


state = _State()
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 170)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 170)


@app.callback()
def main(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors and the final result line."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print timings and the solver's log."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
) -> None:
    state.quiet, state.verbose, state.debug = quiet, verbose, debug


@contextmanager
def _errors():
    try:
        yield
    except PvoptError as e:
        if state.debug:
            raise
        err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False)
        raise typer.Exit(e.exit_code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - last line of defence: one message, no traceback
        if state.debug:
            raise
        err.print(f"[bold red]internal error:[/] {type(e).__name__}: {e}\n(run again with --debug for a traceback)")
        raise typer.Exit(1) from None


def _progress():
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=state.quiet, transient=True,
    )


@app.command()
def validate(portfolio: Path = typer.Argument(..., help="Portfolio directory (portfolio.yaml + one YAML per site).")) -> None:
    """Check a portfolio and print a one-screen summary.

    Every problem found is listed with its file and field; nothing is written.

    Example: pvopt validate sites/lead
    """
    with _errors():
        from .portfolio import load_portfolio
        from .summary import validate_summary

        pf = load_portfolio(portfolio)
        text = validate_summary(pf)
        if not state.quiet:
            out.print(text, markup=False, highlight=False)
        else:
            out.print(f"ok: {len(pf.sites)} sites, {sum(len(s.arrays) for s in pf.sites)} arrays", markup=False)


@app.command(name="yield")
def yield_(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory; yield.nc is written there."),
    force: bool = typer.Option(False, "--force", help="Replace an existing yield.nc."),
) -> None:
    """Simulate the hourly AC yield of every array with pvlib and write DIR/yield.nc.

    Prints per array: max kWp, annual kWh/kWp and capacity factor.

    Example: pvopt yield sites/lead --out out/lead
    """
    with _errors():
        from .pipeline import run_yield
        from .pvyield import yield_table

        with _progress() as prog:
            task = prog.add_task("yield (pvlib ModelChain)", total=None)
            pf, ds = run_yield(portfolio, out_dir, force=force, progress=lambda d, t: prog.update(task, completed=d, total=t))
        tab = yield_table(ds)
        if not state.quiet:
            _print_df(tab, "Yield per array", floatfmt={"max_kwp": "{:,.1f}", "annual_kwh_per_kwp": "{:,.0f}", "capacity_factor_pct": "{:.1f}"})
            note = ds.attrs.get("weather_note") or ""
            if note:
                out.print(note, markup=False)
        out.print(f"wrote {Path(out_dir) / 'yield.nc'}", markup=False)


@app.command()
def plan(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory for plan.nc and summary.csv."),
    force: bool = typer.Option(False, "--force", help="Replace existing plan.nc / summary.csv."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="HiGHS time limit [s]."),
    full: bool = typer.Option(False, "--full", help="Solve the full hourly model without the exact reductions (slow; for checking)."),
    milestone_costs: str = typer.Option("dual", "--milestone-costs", help="dual | resolve | none: how to cost each milestone."),
    solver: str = typer.Option("choose", "--solver", help="HiGHS algorithm: choose | simplex | ipm."),
    no_hourly: bool = typer.Option(False, "--no-hourly", help="Do not store hourly dispatch in plan.nc."),
) -> None:
    """Plan the build-out, onsite use, grid power, certificates and offsets at least net present cost.

    Runs the yield (or reuses DIR/yield.nc when the arrays are unchanged), builds the LP,
    solves it with HiGHS and writes DIR/plan.nc (every input and result) and DIR/summary.csv.

    Examples:
      pvopt plan sites/lead --out out/lead
      pvopt plan sites/lead --out out/lead --force --milestone-costs resolve
    """
    with _errors():
        from .optimise import SolveOptions
        from .pipeline import run_plan

        if milestone_costs not in {"dual", "resolve", "none"}:
            raise typer.BadParameter("--milestone-costs must be dual, resolve or none")
        if solver not in {"choose", "simplex", "ipm"}:
            raise typer.BadParameter("--solver must be choose, simplex or ipm")
        opts = SolveOptions(reduce=not full, time_limit_s=time_limit, milestone_costs=milestone_costs, solver=solver, log=state.verbose)  # type: ignore[arg-type]
        with _progress() as prog:
            task = prog.add_task("yield, build, solve", total=None)
            run = run_plan(portfolio, out_dir, force=force, opts=opts, hourly=not no_hourly,
                           progress=lambda d, t: prog.update(task, completed=d, total=t))
        if not state.quiet:
            print_plan(run)
        if state.verbose:
            out.print("timings [s]: " + ", ".join(f"{k} {v:.2f}" for k, v in run.timings_s.items()), markup=False)
        out.print(f"wrote {Path(out_dir) / 'plan.nc'} and {Path(out_dir) / 'summary.csv'}; NPC {float(run.plan['npc']):,.0f} {run.inputs.attrs['currency']}", markup=False)


def _print_df(df, title: str, floatfmt: dict[str, str] | None = None) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in df.columns:
        t.add_column(str(c), justify="right" if df[c].dtype.kind in "fi" else "left")
    for _, row in df.iterrows():
        cells = []
        for c in df.columns:
            v = row[c]
            fmt = (floatfmt or {}).get(c)
            cells.append(fmt.format(v) if fmt and v == v else (f"{v:,.1f}" if isinstance(v, float) else str(v)))
        t.add_row(*cells)
    out.print(t)


def print_plan(run) -> None:
    """Concise console tables: capacity, emissions against milestones, certificates, cost, milestones."""
    p = run.plan
    cur = run.inputs.attrs["currency"]
    years = [int(y) for y in p["year"].values]
    inst = p["installed_kwp"]
    kind = p["array_kind"]
    t = Table(title=f"Plan for {run.inputs.attrs['portfolio_name']} — NPC {float(p['npc']):,.0f} {cur}", header_style="bold")
    for c in ["year", "rooftop kWp", "carport kWp", "PV MWh", "onsite MWh", "curtailed MWh", "grid MWh", "certs MWh",
              "offsets t", "S1 t", "S2 loc t", "S2 mkt t", "net t", f"cost k{cur}"]:
        t.add_column(c, justify="right")
    S = lambda k, j: float(p[k].isel(year=j).sum())  # noqa: E731
    for j, y in enumerate(years):
        t.add_row(
            str(y),
            f"{float(inst.where(kind == 'rooftop', 0).isel(year=j).sum()):,.0f}",
            f"{float(inst.where(kind == 'carport', 0).isel(year=j).sum()):,.0f}",
            f"{S('pv_generated_mwh', j):,.0f}", f"{S('pv_onsite_mwh', j):,.0f}", f"{S('curtailed_mwh', j):,.0f}",
            f"{S('grid_import_mwh', j):,.0f}", f"{S('certificates_mwh', j):,.0f}", f"{S('offsets_tco2e', j):,.0f}",
            f"{S('scope1_tco2e', j):,.0f}", f"{S('scope2_location_tco2e', j):,.0f}", f"{S('scope2_market_tco2e', j):,.0f}",
            f"{S('net_tco2e', j):,.0f}", f"{S('total_cost', j) / 1000:,.0f}",
        )
    out.print(t)
    m = Table(title="Milestones", header_style="bold")
    for c in ["milestone", "type", "year", "target", "achieved", "unit", "met", f"marginal cost ({cur} NPV/unit)"]:
        m.add_column(c, justify="left" if c in {"milestone", "type", "unit"} else "right")
    for r in run.milestones:
        extra = f"{r['marginal_cost']:,.1f}" if r["marginal_cost"] == r["marginal_cost"] else "-"
        if "cost_vs_without" in r:
            extra += f" (NPC +{r['cost_vs_without']:,.0f})"
        m.add_row(r["name"], r["type"], str(r["year"]), f"{r['target']:,.2f}", f"{r['achieved']:,.2f}", r["unit"],
                  "yes" if r["met"] else "NO", extra)
    out.print(m)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
