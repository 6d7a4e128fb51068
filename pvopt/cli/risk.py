"""The ``pvopt risk`` and ``pvopt actuals`` commands (registered on :data:`pvopt.cli.main.app` on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pvopt.cli.main import check_outputs, handle_errors, phases, print_df, print_timings, app, out, state
from pvopt.cli.tables import Col, print_table

__all__ = ["risk", "actuals"]


@app.command()
def risk(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    years: int = typer.Option(5, "--years", "-n", min=1, max=200, help="Number of weather years to evaluate the plan in."),
    design: str = typer.Option("p50", "--design", help="p50 | p90: plan on the typical year or on a P90 year built from the weather years."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory for risk.nc and risk.csv."),
    seed: int = typer.Option(20240101, "--seed", min=0, help="Seed of the set of weather years (same seed and --years: same years; >= 0)."),
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
        from pvopt.io import run_lock

        if design not in {"p50", "p90"}:
            raise typer.BadParameter(f"expected p50 or p90, got {design!r}", param_hint="--design")
        check_outputs(force, out_dir / "risk.nc", out_dir / "risk.csv")
        with run_lock(out_dir, "risk"):
            res = _run_risk(portfolio, years, design, seed, out_dir, force)
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


def _run_risk(portfolio: Path, years: int, design: str, seed: int, out_dir: Path, force: bool):
    """Plan and operate in the weather years (with a progress line), then write risk.nc and risk.csv."""
    from pvopt.io import check_target, write_netcdf_atomic, write_text_atomic
    from pvopt.inputs.loading import load_portfolio
    from pvopt.studies.risk import plan_with_risk

    with phases("load the portfolio") as ph:
        pf = load_portfolio(portfolio)
        ph.phase(f"weather years: yield x{years}, plan, re-solve x{years}")
        res = plan_with_risk(pf, years, design=design, first_seed=seed, progress=ph.step)  # type: ignore[arg-type]
        ph.phase("write risk.nc and risk.csv")
        for name in ("risk.nc", "risk.csv"):
            check_target(out_dir / name, force)
        write_netcdf_atomic(res.dataset, out_dir / "risk.nc")
        write_text_atomic(res.summary.to_csv(index=False), out_dir / "risk.csv")
    return res


@app.command()
def actuals(
    portfolio: Path = typer.Argument(..., help="Portfolio directory (for the sites' time zones, and to plan when --plan is not given)."),
    meter: Path = typer.Argument(..., help="Hourly meter CSV: timestamp (ISO 8601 with UTC offset), site, pv_kwh, load_kwh."),
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="Compare with this plan.nc (solved with hourly dispatch)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory; default the folder of --plan. Without --plan the plan is solved into it."),
    force: bool = typer.Option(False, "--force", help="Replace an existing actuals.csv / figures/actuals.png (and, without --plan, the plan)."),
) -> None:
    """Compare metered PV and load with the plan: performance index, IEC 61724-1 PR, yield gap, emissions gap.

    Each metered hour is matched with the plan's hourly PV and load of the same planning year
    and local hour (the site's time zone; Feb 29 dropped). Prints per site and month: expected
    and metered PV, the performance index (%) = 100 x metered / expected PV (relative to the
    plan), yield gap, load gap, and the emissions of the extra grid electricity (location-based
    and at the residual factor). Where the meter has a poa_kwh_m2 column (plane-of-array
    irradiation [kWh/m2] per hour), also the IEC 61724-1 performance ratio
    PR = (E_ac / P_0) / (H_poa / G_ref). Writes DIR/actuals.csv and DIR/figures/actuals.png
    (PV per day and the daily performance index); `pvopt report DIR` then adds a
    "Metered actuals" section.

    Examples:
      pvopt actuals sites/lead sites/lead/meter_sample.csv --plan out/lead/plan.nc
      pvopt actuals sites/lead sites/lead/meter_sample.csv --out out/lead
    """
    with handle_errors():
        from pvopt.io import run_lock

        if plan_file is None and out_dir is None:
            raise typer.BadParameter("give --plan PLAN.nc, or --out DIR to solve the plan into DIR", param_hint="--plan / --out")
        target: Path = out_dir if out_dir is not None else plan_file.parent  # type: ignore[union-attr]
        check_outputs(force, target / "actuals.csv", target / "figures" / "actuals.png",
                      *((target / "plan.nc", target / "summary.csv") if plan_file is None else ()))
        with run_lock(target, "actuals"):
            monthly, period, m = _run_actuals(portfolio, meter, plan_file, target, force)
        if not state.quiet:
            print_actuals(monthly, f"Metered actuals against the plan ({m.attrs.get('file', '')})")
        tot = period[period["site"] == "ALL"].iloc[0]
        pr = ""
        if int(tot["poa_hours"]) > 0:
            pr = f"IEC 61724-1 PR {tot['iec_performance_ratio']:.3f} over {int(tot['poa_hours']):,} site-hours with irradiance; "
        out.print(f"performance index vs plan {tot['performance_index_pct']:.1f} % over {int(tot['hours']):,} metered site-hours; {pr}"
                  f"emissions gap {tot['emissions_gap_location_tco2e']:,.1f} tCO2e location-based; "
                  f"wrote {target / 'actuals.csv'} and {target / 'figures' / 'actuals.png'}", markup=False, soft_wrap=True)


def _run_actuals(portfolio: Path, meter: Path, plan_file: Optional[Path], target: Path, force: bool):
    """Read the meter and the plan (or solve it into ``target``), compare, write actuals.csv and the figure."""
    from pvopt.cli.finance import read_plan
    from pvopt.inputs.loading import load_portfolio
    from pvopt.io import write_bytes_atomic, write_text_atomic
    from pvopt.report.report import plot_actuals
    from pvopt.studies.actuals import compare_actuals, read_meter

    with phases("read the portfolio and the meter") as ph:
        pf = load_portfolio(portfolio)
        m = read_meter(meter)
        if plan_file is not None:
            ph.phase("read the plan")
            plan = read_plan(plan_file, "--plan")
        else:
            from pvopt.pipeline import run_plan

            plan = run_plan(portfolio, target, force=force, progress=ph.step, phase=ph.phase).plan
        ph.phase("compare and write actuals.csv and figures/actuals.png")
        monthly = compare_actuals(plan, m, timezones=pf)
        daily = compare_actuals(plan, m, timezones=pf, freq="day")
        period = compare_actuals(plan, m, timezones=pf, freq="period")
        fp = str(plan.attrs.get("portfolio_fingerprint", ""))  # the inputs of the plan compared with
        write_text_atomic(monthly.assign(portfolio_fingerprint=fp).to_csv(index=False), target / "actuals.csv")
        write_bytes_atomic(plot_actuals(daily, fingerprint=fp), target / "figures" / "actuals.png")
    return monthly, period, m


ACTUALS_TABLE = {  # column -> (header, format); headers name the unit
    "site": ("site", "{}"), "year": ("year", "{}"), "month": ("month", "{}"), "hours": ("hours", "{:,}"),
    "expected_pv_mwh": ("expected PV MWh", "{:,.1f}"), "metered_pv_mwh": ("metered PV MWh", "{:,.1f}"),
    "performance_index_pct": ("performance index (%)", "{:.1f}"), "iec_performance_ratio": ("IEC 61724-1 PR", "{:.3f}"),
    "yield_gap_mwh": ("yield gap MWh", "{:+,.1f}"), "load_gap_mwh": ("load gap MWh", "{:+,.1f}"),
    "extra_grid_mwh": ("extra grid MWh", "{:+,.1f}"), "emissions_gap_location_tco2e": ("emissions gap loc. tCO2e", "{:+,.1f}"),
    "emissions_gap_market_tco2e": ("emissions gap mkt. tCO2e", "{:+,.1f}"),
}
"""The columns of the `actuals` table, in order (the IEC PR only when irradiance is metered)."""


def print_actuals(monthly, title: str) -> None:
    """Print the monthly actuals table; split to fit the terminal, every number whole (site, year and month repeat)."""
    cols = [c for c in ACTUALS_TABLE if c != "iec_performance_ratio" or monthly[c].notna().any()]
    rows = [["-" if (isinstance(r[c], float) and r[c] != r[c]) else ACTUALS_TABLE[c][1].format(r[c]) for c in cols]
            for _, r in monthly.iterrows()]
    print_table(out, title, [Col(ACTUALS_TABLE[c][0], "left" if c == "site" else "right", key=c in ("site", "year", "month"))
                             for c in cols], rows)
    if "iec_performance_ratio" not in cols:
        out.print("IEC 61724-1 performance ratio: not computed (the meter has no plane-of-array irradiation; add a poa_kwh_m2 "
                  "column [kWh/m2 per hour])", markup=False, soft_wrap=True)
