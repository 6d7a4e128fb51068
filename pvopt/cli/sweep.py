"""``pvopt sweep``: scenario sweeps on dask.distributed (registered on the CLI app)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from pvopt.cli.main import check_seconds, handle_errors, phases, app, err, out, state
from pvopt.cli.tables import Col, print_table

@app.command()
def sweep(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    vary: List[str] = typer.Option(..., "--vary", help="NAME=V1,V2,... (repeatable); the sweep runs the Cartesian product."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Sweep store: sweep.json, index.csv, scenarios/<id>.nc."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of an existing dask scheduler, e.g. tcp://10.0.0.5:8786."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="LocalCluster workers (default: cores); 0 solves serially without dask."),
    force: bool = typer.Option(False, "--force", help="Discard a store in --out that holds a different sweep."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Solve again the scenarios stored as failed."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="HiGHS time limit per scenario [s] (> 0)."),
) -> None:
    """Run many independent plans over the Cartesian product of varied inputs.

    The yield is simulated once (DIR/yield.nc is reused when the arrays are unchanged),
    the LP inputs are built once, and every scenario is solved on dask.distributed: a
    LocalCluster by default, or the cluster of --scheduler. Each scenario is written to
    DIR/scenarios/ as it finishes; run the same command again after an interruption and
    only the missing scenarios are solved. Failed scenarios (e.g. infeasible milestones)
    are recorded with their reason. Read the results with pvopt.studies.sweep.open_sweep(DIR).

    Varied inputs: certificate_price [currency/MWh], certificate_price:<instrument> (one instrument,
    e.g. certificate_price:GEC), certificate_price_scale, capex_scale,
    grid_factor_scale, tariff_scale, discount_rate, offset_price [currency/tCO2e],
    milestone_year:<milestone name>.

    Examples:
      pvopt sweep sites/lead --vary certificate_price=2,50 --vary capex_scale=0.8,1.2 --out out/sweep
      pvopt sweep sites/lead --vary discount_rate=0.04,0.08 --out out/sweep2 --scheduler tcp://10.0.0.5:8786
    """
    with handle_errors(f"finished scenarios are stored in {out_dir}; run the same command again to solve only the rest"):
        from pvopt.io import run_lock
        from pvopt.studies.sweep import parse_vary, run_sweep, sweep_inputs, validate_grid

        spec = parse_vary(vary)
        check_seconds(time_limit)
        with run_lock(out_dir, "sweep"), phases("yield and LP inputs") as ph:
            inputs = sweep_inputs(portfolio, out_dir, progress=ph.step)
            validate_grid(inputs, spec)
            ph.phase("sweep")

            def _prog(done: int, total: int) -> None:
                ph.prog.update(ph.task, completed=done, total=total, description=f"sweep: {done} done, {total - done} left")

            res = run_sweep(inputs, spec, out_dir, scheduler=scheduler, n_workers=workers, progress=_prog, force=force,
                            retry_failed=retry_failed, time_limit_s=time_limit, portfolio=str(portfolio))
        cur = str(inputs.attrs.get("currency", ""))
        if not state.quiet:
            _print_sweep(res.index, list(spec), cur)
        from pvopt.studies.sweep import discount_rate_note

        note = discount_rate_note(res.index["discount_rate"]) if "discount_rate" in res.index else ""
        if note:
            err.print(f"[bold yellow]warning:[/] {note}", highlight=False)
        msg = (f"{res.n_scenarios} scenarios: {res.n_ok} ok, {res.n_failed} failed; solved now {res.n_computed}, "
               f"already stored {res.n_skipped}; {res.seconds:.1f} s; wrote {Path(out_dir) / 'index.csv'}")
        out.print(msg, markup=False)
        if res.not_computed:
            err.print(f"{len(res.not_computed)} scenarios were not computed (e.g. {next(iter(res.not_computed.values()))}); "
                      "run the same command again to solve only those", markup=False)
            raise typer.Exit(1)


def _print_sweep(index, names: list[str], cur: str) -> None:
    """Print one row per scenario: its readable label (the swept values), NPC, saving against business as usual, status."""
    cols = [Col("scenario", "left", key=True), Col(f"NPC ({cur})"), Col(f"saving vs BAU ({cur})"), Col("status", "left"),
            Col("reason", "left", wrap=True)]
    rows = []
    for _, r in index.iterrows():
        npc = f"{r['npc']:,.0f}" if r["status"] == "ok" else "-"
        reason = str(r["reason"]) if r["reason"] == r["reason"] else ""
        saving = f"{r['npc_saving']:,.0f}" if r["status"] == "ok" and r.get("npc_saving") == r.get("npc_saving") else "-"
        rows.append([str(r.get("label", r["scenario_id"])), npc, saving, str(r["status"]),
                     reason.splitlines()[0] + (" ..." if "\n" in reason else "") if reason else ""])
    print_table(out, "Sweep", cols, rows)
