"""The ``pvopt diff`` command: two plans side by side (registered on :data:`pvopt.cli.main.app` on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.table import Table

from pvopt.cli.main import app, err, handle_errors, out, state

__all__ = ["diff", "diff_table"]

#: Summary metrics where a rise is good (green); for every other cost, emissions or purchase a rise is red.
HIGHER_IS_BETTER = {"npc saving", "year1 bill saving", "PV used onsite"}
#: Rows whose difference carries no direction (yellow when they differ): inputs, and volumes whose cost has its own row.
NEUTRAL = {"discount rate", "new PV", "bau npc", "certificates", "offsets", "certificates_mwh", "offsets_tco2e"}


def _fmt(v: object, unit: str = "") -> str:
    """Format a value for the terminal: thousands separators, a share as %, a year without separators."""
    if not isinstance(v, (int, float)):
        return str(v)
    if v != v:
        return "-"
    if abs(v) < 5e-3:
        return "0"
    if unit == "1":
        return f"{100 * v:.2f} %"
    if unit == "year":
        return f"{v:.0f}"
    if unit == "share":
        return f"{v:,.3f}"
    return f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:,.2f}"


def _style(diff: float, key: str, *, higher_is_better: bool | None) -> str:
    if diff != diff or abs(diff) <= 1e-6:
        return "dim"
    if higher_is_better is None or key in NEUTRAL or key.startswith("PV installed"):
        return "bold yellow"
    good = diff > 0 if higher_is_better else diff < 0
    return "bold green" if good else "bold red"


def diff_table(df: pd.DataFrame, title: str, names: tuple[str, str], *, value_cols: tuple[str, str] = ("a", "b"),
               direction: str = "lower", unit_col: str = "unit") -> Table:
    """Build a rich table of a :class:`pvopt.results.diff.PlanDiff` table, differences coloured.

    ``direction``: ``"lower"`` (a fall is green: costs, emissions), ``"higher"`` (a rise is green: margins),
    ``"none"`` (a change is yellow: builds) or ``"metric"`` (by :data:`HIGHER_IS_BETTER` per row); rows in
    :data:`NEUTRAL` are yellow whatever the direction.
    """
    t = Table(title=title, header_style="bold", title_justify="left")
    keys = list(df.index.names)
    for k in keys:
        t.add_column(str(k))
    if unit_col in df:
        t.add_column("unit")
    t.add_column(names[0], justify="right")
    t.add_column(names[1], justify="right")
    t.add_column("difference", justify="right")
    for idx, r in df.iterrows():
        ix = idx if isinstance(idx, tuple) else (idx,)
        unit = str(r.get(unit_col, "")) if unit_col in df else ""
        hib = {"lower": False, "higher": True, "none": None}.get(direction, str(ix[0]) in HIGHER_IS_BETTER)
        d = float(r["diff"])
        cells = [str(x) for x in ix] + ([unit] if unit_col in df else [])
        diff_text = "0" if abs(d) <= 1e-6 else ("+" if d > 0 else "") + _fmt(d, unit if unit != "year" else "")
        t.add_row(*cells, _fmt(r[value_cols[0]], unit), _fmt(r[value_cols[1]], unit),
                  f"[{_style(d, str(ix[0]), higher_is_better=hib)}]{diff_text}[/]")
    return t


@app.command()
def diff(
    run_a: Path = typer.Argument(..., help="Run folder (or plan.nc) of plan A."),
    run_b: Path = typer.Argument(..., help="Run folder (or plan.nc) of plan B."),
    out_file: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the tables to this .html or .csv file."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
    all_rows: bool = typer.Option(False, "--all", help="Show unchanged builds and years too (default: only rows that differ)."),
) -> None:
    """Compare two plans: NPC and its split, builds by array and year, certificates, offsets, emissions, milestone margins.

    Differences are B - A: red where B costs or emits more, saves less or keeps a milestone with
    less margin, green the other way, yellow where a change has no direction (builds moved,
    certificate and offset volumes, inputs). Warns when the
    two plans' discount rates differ (their NPCs are then not comparable).

    Examples:
      pvopt diff out/lead out/lead-gec50
      pvopt diff out/lead out/lead-gec50 --out diff.html
    """
    with handle_errors():
        from pvopt.api import diff as diff_plans
        from pvopt.io import check_target, write_text_atomic

        if out_file is not None:
            if out_file.suffix.lower() not in {".html", ".csv"}:
                raise typer.BadParameter(f"expected a .html or .csv file, got {out_file}", param_hint="--out")
            check_target(out_file, force)
        d = diff_plans(run_a, run_b, names=(str(run_a), str(run_b)))
        for w in d.warnings:
            err.print(f"[bold yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        if not state.quiet:
            changed = lambda t: t if all_rows else t[t["diff"].abs().fillna(0.0) > 1e-6]  # noqa: E731
            out.print(diff_table(d.summary, "NPC, its split and totals", d.names, direction="metric"))
            for tab, title, direction in ((d.build, "New PV by array and year (kWp)", "none"),
                                          (d.yearly, "Certificates, offsets, net emissions and cost by year", "lower")):
                shown = changed(tab)
                if len(shown):
                    out.print(diff_table(shown, title, d.names, direction=direction))
                else:
                    out.print(f"{title}: no differences", markup=False)
            ms = d.milestones.rename(columns={"margin_a": "a", "margin_b": "b"})
            out.print(diff_table(ms, "Milestone margins (positive: on the safe side)", d.names, direction="higher"))
        npc = d.summary.loc["npc"]
        cur = npc["unit"]
        out.print(f"NPC {npc['a']:,.0f} -> {npc['b']:,.0f} {cur} ({npc['diff']:+,.0f}); "
                  f"{int((d.build['diff'].abs() > 1e-6).sum())} builds differ", markup=False, soft_wrap=True)
        if out_file is not None:
            if out_file.suffix.lower() == ".html":
                write_text_atomic(d.to_html(), out_file)
            else:
                write_text_atomic(d.to_csv_text(), out_file)
            out.print(f"wrote {out_file}", markup=False)
