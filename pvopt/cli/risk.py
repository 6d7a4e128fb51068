"""The ``pvopt risk`` and ``pvopt actuals`` commands (registered on :data:`pvopt.cli.main.app` on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pvopt.cli.main import handle_errors, print_df, progress_bar, print_timings, app, out, state

__all__ = ["risk", "actuals"]


@app.command()
def risk(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    years: int = typer.Option(5, "--years", "-n", min=1, max=200, help="Number of weather years to evaluate the plan in."),
    design: str = typer.Option("p50", "--design", help="p50 | p90: plan on the typical year or on a P90 year built from the weather years."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory for risk.nc and risk.csv."),
    seed: int = typer.Option(20240101, "--seed", help="Seed of the set of weather years (same seed and --years: same years)."),
    force: bool = typer.Option(False, "--force", help="Replace existing risk.nc / risk.csv."),
) -> None:
    """Plan, then operate the plan's fixed investments in other weather years.

    Plans on the typical year (--design p50) or on a P90 year (per array, the typical profile
    scaled to the 10th percentile of the weather years' annual energy), fixes the PV build,
    measures and batteries, and re-solves onsite use, grid, certificates and offsets in each of
    N synthetic weather years (new daily-cloudiness seed and monthly GHI x an inter-annual factor
    drawn from the year-to-year sd of annual GHI stored in each site's normals file, 4.5 % when a
    file has none; sites on weather files keep their one year). Prints P50/P90 onsite PV per
    planning year and per onsite-PV milestone.
    Writes DIR/risk.nc (per weather year and planning year) and DIR/risk.csv (the summary:
    min, P50, P90 and max per metric; P90 = no worse than this in 90 % of the years) and prints it.
    A weather year in which the fixed plan misses a milestone is listed with the reason.

    Examples:
      pvopt risk sites/lead --years 5 --out out/lead
      pvopt risk sites/lead --years 10 --design p90 --out out/lead-p90 --force
    """
    with handle_errors():
        from pvopt.errors import OutputExistsError
        from pvopt.io import write_netcdf_atomic, write_text_atomic as _write_text_atomic
        from pvopt.inputs.loading import load_portfolio
        from pvopt.studies.risk import plan_with_risk

        if design not in {"p50", "p90"}:
            raise typer.BadParameter(f"expected p50 or p90, got {design!r}", param_hint="--design")
        for name in ("risk.nc", "risk.csv"):
            if (out_dir / name).exists() and not force:
                raise OutputExistsError(f"{out_dir / name} exists; pass --force to replace it")
        pf = load_portfolio(portfolio)
        with progress_bar() as prog:
            task = prog.add_task(f"weather years: yield x{years}, plan, re-solve x{years}", total=2 * years + 1)
            res = plan_with_risk(pf, years, design=design, first_seed=seed,  # type: ignore[arg-type]
                                 progress=lambda d, t: prog.update(task, completed=d, total=t))
        out_dir.mkdir(parents=True, exist_ok=True)
        write_netcdf_atomic(res.dataset, out_dir / "risk.nc")
        _write_text_atomic(res.summary.to_csv(index=False), out_dir / "risk.csv")
        ds = res.dataset
        if not state.quiet:
            tab = ds[["ghi_factor", "pv_generated_mwh", "pv_onsite_mwh", "grid_import_mwh", "scope2_market_tco2e", "npc",
                      "feasible"]].to_dataframe().reset_index()
            print_df(tab, f"Plan designed on {design.upper()} operated in {years} weather years (means per planning year)",
                      floatfmt={"ghi_factor": "{:.3f}", "npc": "{:,.0f}", "feasible": "{:d}"})
            print_df(res.summary.drop(columns=["spread_pct"]), "Spread across weather years (p90: no worse in 90 % of years)",
                      floatfmt={c: "{:,.0f}" for c in ("design", "min", "p50", "p90", "max")})
            from pvopt.studies.risk import milestone_risk_table

            mt = milestone_risk_table(ds)
            if len(mt):
                print_df(mt, "Onsite-PV milestones across weather years (lowest year from the milestone year on; P90 = reached in 90 % of years)",
                          floatfmt={c: "{:,.0f}" for c in ("target_mwh", "design_mwh", "p50_mwh", "p90_mwh")} | {"p90_margin_pct": "{:+.1f}"})
            if "pv_onsite_p50_mwh" in ds:
                out.print("onsite PV P50 / P90 per year [MWh]: " + ", ".join(
                    f"{int(y)} {a:,.0f}/{b:,.0f}" for y, a, b in zip(ds["year"].values, ds["pv_onsite_p50_mwh"].values, ds["pv_onsite_p90_mwh"].values)),
                    markup=False, soft_wrap=True)
            if ds.attrs.get("variability_model"):
                out.print(str(ds.attrs["variability_model"]), markup=False, soft_wrap=True)
            for wy, ok, why in zip(ds["weather_year"].values, ds["feasible"].values, ds["reason"].values):
                if not ok:
                    out.print(f"{wy}: INFEASIBLE with the plan fixed: {why}", markup=False, soft_wrap=True)
            if ds.attrs.get("file_weather_note"):
                out.print(ds.attrs["file_weather_note"], markup=False, soft_wrap=True)
        print_timings(res.timings_s)
        n_bad = int((ds["feasible"].values == 0).sum())
        s = res.summary.set_index("metric")
        out.print(f"wrote {out_dir / 'risk.nc'} and {out_dir / 'risk.csv'}; NPC {s.loc['npc', 'min']:,.0f} to {s.loc['npc', 'max']:,.0f} "
                  f"{ds.attrs.get('currency', '')}, onsite PV {s.loc['pv_onsite_mwh', 'min']:,.0f} to {s.loc['pv_onsite_mwh', 'max']:,.0f} MWh/yr; "
                  f"{n_bad} of {years} weather years miss a milestone", markup=False, soft_wrap=True)


@app.command()
def actuals(
    portfolio: Path = typer.Argument(..., help="Portfolio directory (for the sites' time zones, and to plan when --plan is not given)."),
    meter: Path = typer.Argument(..., help="Hourly meter CSV: timestamp (ISO 8601 with UTC offset), site, pv_kwh, load_kwh."),
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="Compare with this plan.nc (solved with hourly dispatch)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory; default the folder of --plan. Without --plan the plan is solved into it."),
) -> None:
    """Compare metered PV and load with the plan: performance ratio, yield gap, emissions gap.

    Each metered hour is matched with the plan's hourly PV and load of the same planning year
    and local hour (the site's time zone; Feb 29 dropped). Prints per site and month: expected
    and metered PV, performance ratio (metered/expected), yield gap, load gap, and the emissions
    of the extra grid electricity (location-based and at the residual factor). Writes
    DIR/actuals.csv and DIR/figures/actuals.png (PV per day and daily performance ratio);
    `pvopt report DIR` then adds a "Metered actuals" section.

    Examples:
      pvopt actuals sites/lead sites/lead/meter_sample.csv --plan out/lead/plan.nc
      pvopt actuals sites/lead sites/lead/meter_sample.csv --out out/lead
    """
    with handle_errors():
        from pvopt.report.report import plot_actuals
        from pvopt.studies.actuals import ACTUALS_UNITS, compare_actuals, read_meter
        from pvopt.io import write_text_atomic as _write_text_atomic
        from pvopt.inputs.loading import load_portfolio
        from pvopt.io import write_bytes_atomic as _atomic_bytes
        from pvopt.report.report import load_plan

        if plan_file is None and out_dir is None:
            raise typer.BadParameter("give --plan PLAN.nc, or --out DIR to solve the plan into DIR", param_hint="--plan / --out")
        pf = load_portfolio(portfolio)
        m = read_meter(meter)
        if plan_file is not None:
            from pvopt.errors import PortfolioError, InputIssue

            if not plan_file.is_file():
                raise PortfolioError([InputIssue(str(plan_file), "", "the plan file does not exist; run `pvopt plan` first")])
            plan = load_plan(plan_file)
            target: Path | None = out_dir if out_dir is not None else plan_file.parent
        else:
            from pvopt.pipeline import run_plan

            with progress_bar() as prog:
                task = prog.add_task("yield, build, solve", total=None)
                run = run_plan(portfolio, out_dir, force=True, progress=lambda d, t: prog.update(task, completed=d, total=t))
            plan, target = run.plan, out_dir
        monthly = compare_actuals(plan, m, timezones=pf)
        daily = compare_actuals(plan, m, timezones=pf, freq="day")
        assert target is not None
        target.mkdir(parents=True, exist_ok=True)
        fp = str(plan.attrs.get("portfolio_fingerprint", ""))  # the inputs of the plan compared with
        _write_text_atomic(monthly.assign(portfolio_fingerprint=fp).to_csv(index=False), target / "actuals.csv")
        _atomic_bytes(plot_actuals(daily, fingerprint=fp), target / "figures" / "actuals.png")
        if not state.quiet:
            cols = ["site", "year", "month", "hours", "expected_pv_mwh", "metered_pv_mwh", "performance_ratio", "yield_gap_mwh",
                    "yield_gap_pct", "load_gap_mwh", "extra_grid_mwh", "emissions_gap_location_tco2e", "emissions_gap_market_tco2e"]
            tab = monthly[cols].rename(columns={c: f"{c} [{ACTUALS_UNITS[c]}]" for c in cols if c in ACTUALS_UNITS and ACTUALS_UNITS[c] not in ("h",)})
            fmt = {c: "{:,.1f}" for c in tab.columns if c.endswith("[MWh]") or c.endswith("[tCO2e]") or c.endswith("[%]")}
            fmt["performance_ratio [1]"] = "{:.3f}"
            print_df(tab, f"Metered actuals against the plan ({m.attrs.get('file', '')})", floatfmt=fmt)
        tot = monthly[monthly["site"] == "ALL"]
        pr = tot["metered_pv_mwh"].sum() / tot["expected_pv_mwh"].sum() if tot["expected_pv_mwh"].sum() > 0 else float("nan")
        out.print(f"performance ratio vs plan {pr:.3f} over {int(tot['hours'].sum()):,} metered site-hours; "
                  f"emissions gap {tot['emissions_gap_location_tco2e'].sum():,.1f} tCO2e location-based; "
                  f"wrote {target / 'actuals.csv'} and {target / 'figures' / 'actuals.png'}", markup=False, soft_wrap=True)
