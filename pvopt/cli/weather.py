"""The ``pvopt weather`` commands (registered on :data:`pvopt.cli.main.app` on import)."""

from __future__ import annotations

from pathlib import Path

import typer

from pvopt.cli.main import handle_errors, print_df, app, out, state

__all__ = ["weather_app", "fetch"]

weather_app = typer.Typer(help="Weather data: fetch online weather (PVGIS, NASA POWER) into the local cache ahead of planning.",
                          no_args_is_help=True)
app.add_typer(weather_app, name="weather")


@weather_app.command()
def fetch(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    force: bool = typer.Option(False, "--force", help="Fetch again even when the cache already holds the file."),
) -> None:
    """Fetch the weather of every site whose weather.source is pvgis or nasa_power into the cache.

    Needs network once; afterwards validate / yield / plan read the cache offline. The cache
    folder is $PVOPT_CACHE_DIR, else ~/.cache/pvopt/weather; files are named by source and
    coordinates (pvgis_tmy_<lat>_<lon>.csv, nasa_power_<year>_<lat>_<lon>.csv).
    Sites on synthetic weather or a weather file are listed and skipped.

    Examples:
      pvopt weather fetch sites/my-portfolio
      PVOPT_CACHE_DIR=/data/pvopt-weather pvopt weather fetch sites/my-portfolio --force
    """
    with handle_errors():
        from pvopt.inputs.files import weather_cache_dir
        from pvopt.inputs.loading import load_portfolio
        from pvopt.pv.fetch import fetch_portfolio_weather

        import pandas as pd

        pf = load_portfolio(portfolio)
        rows = fetch_portfolio_weather(pf, force=force)
        if not state.quiet:
            print_df(pd.DataFrame(rows), f"Weather cache ({weather_cache_dir()})")
        n = sum(1 for r in rows if r["status"] == "fetched")
        k = sum(1 for r in rows if r["status"] == "in cache")
        out.print(f"fetched {n}, already in cache {k}, not online {len(rows) - n - k} site(s)", markup=False, soft_wrap=True)
