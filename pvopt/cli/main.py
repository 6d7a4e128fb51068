"""The ``pvopt`` command line.

Exit codes: 0 success; 1 internal error; 2 bad input (also a bad command-line
option); 3 milestones infeasible; 4 solver failure (time limit, numerical
trouble, unbounded, HiGHS missing); 5 output exists (use --force) or cannot be
written; 130 interrupted (Ctrl-C). Every error prints one message to stderr
(``error: ...``) and no traceback unless ``--debug``. The global options
``--quiet``, ``--verbose`` and ``--debug`` may also follow the command name.

Help texts are plain text: square brackets (units such as ``[s]``) are shown
as written, not read as Rich markup (:class:`_PlainHelpGroup`).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pvopt.cli.tables import Col, print_table
from pvopt.errors import EXIT_INTERRUPTED, PvoptError

EXIT_CODES_HELP = ("Exit codes: 0 ok, 1 internal error, 2 bad input, 3 milestones infeasible, 4 solver failure, "
                   "5 output exists (use --force) or cannot be written, 130 interrupted (Ctrl-C).")

APP_HELP = f"""Plan rooftop and carport PV, grid power, certificates and offsets for multi-site manufacturers.

{EXIT_CODES_HELP}

Examples:
  pvopt validate sites/lead
  pvopt plan sites/lead --out out/lead
  pvopt report out/lead
  pvopt --quiet plan sites/lead --out out/lead --force
  pvopt plan sites/lead --out out/lead --force --verbose
  pvopt --version
  pvopt COMMAND --help"""

GLOBAL_FLAGS = frozenset({"--quiet", "-q", "--verbose", "-v", "--debug"})
"""Options of the app that are also accepted after the command name (``pvopt plan ... --quiet``)."""


# click's own errors (bad option, missing argument) print a usage line and one message and exit 2;
# typer may vendor click, so take the class from typer rather than importing click.
_CLICK_ERRORS = tuple(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _escape_help(cmd) -> None:
    """Make a command's help plain text for Rich: escape ``[...]`` (units) once."""
    if getattr(cmd, "_pvopt_plain_help", False):
        return
    if cmd.help:
        cmd.help = escape(cmd.help)
    for p in cmd.params:
        if getattr(p, "help", None):
            p.help = escape(p.help)
    cmd._pvopt_plain_help = True  # type: ignore[attr-defined]


def _value_options(cmd) -> set[str]:
    """Option names of ``cmd`` (and of its subcommands, for a group) that take a value."""
    names: set[str] = set()
    for p in getattr(cmd, "params", []):
        if getattr(p, "param_type_name", "") == "option" and not getattr(p, "is_flag", False):
            names.update(p.opts)
    for sub in getattr(cmd, "commands", {}).values():
        names |= _value_options(sub)
    return names


def hoist_global_flags(group, args: list[str]) -> list[str]:
    """Move ``--quiet``/``--verbose``/``--debug`` found after the command name in front of it (where the app reads them).

    A flag that is the value of the preceding option (``--out -q``) and everything after ``--`` stay put.
    """
    args = list(args)
    pos = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if pos is None:
        return args
    cmd = group.commands.get(args[pos])
    takes_value = _value_options(cmd) if cmd is not None else set()
    head, tail, moved = args[:pos], [args[pos]], []
    for i in range(pos + 1, len(args)):
        a = args[i]
        if a == "--":
            tail += args[i:]
            break
        if a in GLOBAL_FLAGS and args[i - 1] not in takes_value:
            moved.append(a)
        else:
            tail.append(a)
    return head + moved + tail


class _PlainHelpGroup(typer.core.TyperGroup):
    """Typer's group, with every help text escaped so units in brackets (``[s]``, ``[CNY/MWh]``) survive Rich.

    It also accepts the global options after the command name (:func:`hoist_global_flags`).
    """

    def parse_args(self, ctx, args):
        """Parse the arguments after moving global flags given after the command in front of it."""
        if ctx.parent is None:
            args = hoist_global_flags(self, args)
        return super().parse_args(ctx, args)

    def get_command(self, ctx, cmd_name: str):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            _escape_help(cmd)
        return cmd

    def format_help(self, ctx, formatter) -> None:
        _escape_help(self)
        for c in self.commands.values():
            _escape_help(c)
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="pvopt",
    help=APP_HELP,
    cls=_PlainHelpGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _State:
    quiet = False
    verbose = False
    debug = False


state = _State()
NON_TTY_WIDTH = 170
"""Width of output written to a file or pipe when ``COLUMNS`` is not set."""
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else NON_TTY_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else NON_TTY_WIDTH)


def _console_width(tty: bool) -> int | None:
    """``COLUMNS`` when set (also for a pipe), the terminal's width on a terminal, else :data:`NON_TTY_WIDTH`."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    return None if tty else NON_TTY_WIDTH


def _version(value: bool) -> None:
    if value:
        from pvopt.constants import __version__

        print(f"pvopt {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors, warnings and the final result line: no progress, no tables."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also print the time of each phase and the solver's log."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version, help="Print the version and exit."),
) -> None:
    """Set the output options shared by every command (the app's help text is ``APP_HELP``)."""
    state.quiet, state.verbose, state.debug = quiet, verbose, debug
    out.width = _console_width(sys.stdout.isatty())  # type: ignore[assignment]
    err.width = _console_width(sys.stderr.isatty())  # type: ignore[assignment]


@contextmanager
def handle_errors(interrupted: str = "nothing was written that is not complete; run the same command again"):
    """Turn pvopt's typed errors into a message and the documented exit code (a traceback only with --debug).

    ``interrupted`` completes the one line printed on Ctrl-C (exit 130).
    """
    try:
        yield
    except PvoptError as e:
        if state.debug:
            raise
        err.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        if state.debug:
            raise
        err.print(f"interrupted (Ctrl-C): {interrupted}", markup=False, highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort, *_CLICK_ERRORS):  # type: ignore[misc]
        raise  # click reports bad options itself (usage line + one message, exit 2)
    except Exception as e:  # noqa: BLE001 - last line of defence: one message, no traceback
        if state.debug:
            raise
        err.print(f"[bold red]internal error:[/] {type(e).__name__}: {escape(str(e))}\n(run again with --debug for a traceback)", highlight=False)
        raise typer.Exit(1) from None


def print_timings(t: dict[str, float], what: str = "timings") -> None:
    """With --verbose, one line of step timings [s] on stderr (stdout stays the result)."""
    if state.verbose and not state.quiet:
        err.print(f"{what} [s]: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()), markup=False, soft_wrap=True)


def check_seconds(value: Optional[float], option: str = "--time-limit") -> Optional[float]:
    """Return ``value`` when it is a time limit pvopt can use (finite and > 0) or ``None``; else a bad-option error (exit 2)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"expected a number of seconds greater than 0 (and finite), got {value}; "
                                 f"leave {option} out for no limit", param_hint=option)
    return value


def check_outputs(force: bool, *paths: Path) -> None:
    """Refuse (exit 5) before any work when one of ``paths`` exists and ``--force`` was not given."""
    from pvopt.io import check_target

    for p in paths:
        check_target(Path(p), force)


class Phases:
    """A progress line on stderr that names the running phase and its elapsed time; the phases' times for --verbose.

    ``phase(name)`` starts a phase (ending the one before); ``step(done, total)``
    moves the bar of a phase that counts (the yield's geometries, the sweep's scenarios).
    """

    def __init__(self, prog) -> None:
        self.prog = prog
        self.task = prog.add_task("", total=None)
        self.timings: dict[str, float] = {}
        self.name: str | None = None
        self.t = time.perf_counter()

    def phase(self, name: str) -> None:
        """End the running phase (its time is recorded) and show ``name``."""
        self._end()
        self.name, self.t = name, time.perf_counter()
        self.prog.update(self.task, description=name, total=None, completed=0)

    def step(self, done: int, total: int) -> None:
        """Move the bar of the running phase to ``done`` of ``total``."""
        self.prog.update(self.task, completed=done, total=total)

    def _end(self) -> None:
        if self.name is not None:
            self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.t
            self.name = None

    def done(self) -> dict[str, float]:
        """End the running phase; return every phase's time [s]."""
        self._end()
        return self.timings


@contextmanager
def phases(first: str | None = None) -> Iterator[Phases]:
    """Show a progress line for the phases of a command (off with --quiet); print their times with --verbose."""
    with progress_bar() as prog:
        ph = Phases(prog)
        if first:
            ph.phase(first)
        try:
            yield ph
        finally:
            ph.done()
    print_timings(ph.timings, "phase timings")


def progress_bar():
    """Return a progress bar on stderr (off with --quiet)."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=state.quiet or not err.is_terminal, transient=True,  # a pipe or file gets no progress lines
    )


@app.command()
def validate(portfolio: Path = typer.Argument(..., help="Portfolio directory (portfolio.yaml + one YAML per site).")) -> None:
    """Check a portfolio and print a one-screen summary.

    Every problem found is listed with its file and field; nothing is written.
    Exit code 0 when the portfolio is valid, 2 when it is not.

    Examples:
      pvopt validate sites/lead
      pvopt --quiet validate sites/lead
    """
    with handle_errors():
        import time

        from pvopt.inputs.loading import load_portfolio
        from pvopt.cli.summary import validate_summary

        t0 = time.perf_counter()
        pf = load_portfolio(portfolio)
        text = validate_summary(pf)
        print_timings({"load and validate": time.perf_counter() - t0})
        if not state.quiet:
            out.print(text, markup=False, highlight=False)
        else:
            out.print(f"ok: {len(pf.sites)} sites, {sum(len(s.arrays) for s in pf.sites)} arrays", markup=False, soft_wrap=True)


@app.command(name="yield")
def yield_(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory; yield.nc is written there."),
    force: bool = typer.Option(False, "--force", help="Replace an existing yield.nc."),
) -> None:
    """Simulate the hourly AC yield of every array with pvlib and write DIR/yield.nc.

    Prints per array: max kWp, annual kWh/kWp and capacity factor. A progress bar
    counts the array geometries simulated (arrays of the same geometry share one run).

    Examples:
      pvopt yield sites/lead --out out/lead
      pvopt yield sites/lead --out out/lead --force
    """
    with handle_errors():
        from pvopt.pipeline import run_yield
        from pvopt.pv.yields import yield_table

        check_outputs(force, out_dir / "yield.nc")
        with phases("yield (pvlib ModelChain per geometry)") as ph:
            pf, ds = run_yield(portfolio, out_dir, force=force, progress=ph.step)
        tab = yield_table(ds)
        if not state.quiet:
            print_df(tab, "Yield per array", floatfmt={"max_kwp": "{:,.1f}", "annual_kwh_per_kwp": "{:,.0f}", "capacity_factor_pct": "{:.1f}"},
                     keys=("site", "array"))
            from pvopt.pv.weather import weather_label

            if "weather_description" in ds:
                out.print("Weather per site: " + "; ".join(f"{s}: {weather_label(d)}" for s, d in
                                                            zip(ds["sites"].values, ds["weather_description"].values)),
                          markup=False, soft_wrap=True)
            note = ds.attrs.get("weather_statement") or ""
            if note:
                out.print(note, markup=False, soft_wrap=True)
        out.print(f"wrote {Path(out_dir) / 'yield.nc'}", markup=False, soft_wrap=True)


REPORT_FILES = ("report.html", "report.xlsx")
"""The report's files checked for --force (its figures/*.png are replaced with them)."""


@app.command()
def plan(
    portfolio: Path = typer.Argument(..., help="Portfolio directory."),
    out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Output directory for plan.nc and summary.csv."),
    force: bool = typer.Option(False, "--force", help="Replace existing plan.nc / summary.csv (and, with --report, the report)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="HiGHS time limit [s] (> 0)."),
    full: bool = typer.Option(False, "--full", help="Solve the full hourly model without the exact reductions (slow; for checking)."),
    milestone_costs: str = typer.Option("dual", "--milestone-costs", help="dual | resolve | none: how to cost each milestone."),
    solver: str = typer.Option("choose", "--solver", help="HiGHS algorithm: choose | simplex | ipm."),
    no_hourly: bool = typer.Option(False, "--no-hourly", help="Do not store hourly dispatch in plan.nc."),
    report: bool = typer.Option(False, "--report", help="Also write DIR/report.html, DIR/report.xlsx and DIR/figures/*.png."),
    decompose: str = typer.Option("auto", "--decompose", help="auto | always | never: Benders decomposition of the hourly operation of battery site-years (exact to --gap; auto: when batteries make at least four site-years hourly)."),
    gap: float = typer.Option(1e-5, "--gap", help="Relative gap (UB-LB)/UB at which a decomposed solve stops."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Threads for Benders subproblems on this machine (0/1: one after another; default: one per core). --scheduler spreads them over a dask cluster instead."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Running dask scheduler for Benders subproblems, e.g. tcp://10.0.0.5:8786."),
) -> None:
    """Plan the build-out, onsite use, grid power, certificates and offsets at least net present cost.

    Runs the yield (or reuses DIR/yield.nc when the arrays are unchanged), builds the LP,
    solves it with HiGHS and writes DIR/plan.nc (every input and result) and DIR/summary.csv.

    A progress line names each phase (yield, LP inputs, build and solve, write, report);
    --verbose prints their times. Exit code 3 with the milestones that fail and by how much
    when they cannot all be met; 5 when DIR already holds a result (use --force) or another
    pvopt run is writing into DIR; 130 on Ctrl-C (the old result, if any, stays whole).

    Examples:
      pvopt plan sites/lead --out out/lead
      pvopt plan sites/lead --out out/lead --force --milestone-costs resolve
      pvopt plan sites/lead --out out/lead --force --verbose
    """
    with handle_errors("no new result was written (an old one stays whole); run the same command again"):
        from pvopt.lp.model import SolveOptions
        from pvopt.pipeline import run_plan

        _check_plan_options(milestone_costs, solver, decompose, gap, time_limit, report, no_hourly)
        check_outputs(force, out_dir / "plan.nc", out_dir / "summary.csv", *((out_dir / f for f in REPORT_FILES) if report else ()))

        bar: dict = {}

        def benders_line(row: dict) -> None:
            if "lower_bound" not in row:  # one LP: HiGHS's simplex progress on the progress line
                if "prog" in bar:
                    bar["prog"].update(bar["task"], description=f"HiGHS simplex: iteration {int(row['iteration']):,}, "
                                       f"objective {row['objective']:,.0f} ({row['time_s']:.0f} s)")
                return
            if not state.quiet:
                err.print(f"benders iteration {row['iteration']:3d}: lower {row['lower_bound']:,.0f}  upper {row['upper_bound']:,.0f}  gap {row['gap']:.2e}"
                          + (f"  (master {row['master_s']:.1f} s, subproblems {row['subproblem_s']:.1f} s)" if state.verbose else ""), markup=False)

        opts = SolveOptions(reduce=not full, time_limit_s=time_limit, milestone_costs=milestone_costs, solver=solver, log=state.verbose,  # type: ignore[arg-type]
                            decompose=decompose, gap=gap, workers=workers, scheduler=scheduler, progress=benders_line)  # type: ignore[arg-type]
        from pvopt.io import run_lock

        with run_lock(out_dir, "plan"):  # held through the report, so that nobody writes between the plan and its report
            with phases("load the portfolio") as ph:
                bar.update(prog=ph.prog, task=ph.task)
                run = run_plan(portfolio, out_dir, force=force, opts=opts, hourly=not no_hourly, progress=ph.step, phase=ph.phase)
            print_timings(run.timings_s, "plan timings")
            if not state.quiet:
                print_plan(run)  # ends with the weather per site and the weather statement
            bd = run.solution.benders
            if bd is not None:
                out.print(f"Benders: lower bound {bd.lower_bound:,.0f}, upper bound {bd.upper_bound:,.0f}, relative gap {bd.gap:.2e} "
                          f"after {bd.iterations} iterations ({bd.subproblems} site-year subproblems)", markup=False, soft_wrap=True)
                print_timings({f"benders {k}": v for k, v in bd.phases.items()})
            out.print(f"wrote {Path(out_dir) / 'plan.nc'} and {Path(out_dir) / 'summary.csv'}; NPC {float(run.plan['npc']):,.0f} {run.inputs.attrs['currency']}", markup=False, soft_wrap=True)
            if report:
                write_report_files(out_dir, plan=run.plan)


def _check_plan_options(milestone_costs: str, solver: str, decompose: str, gap: float, time_limit: Optional[float],
                        report: bool, no_hourly: bool) -> None:
    """Refuse bad `plan` options (exit 2) before any work."""
    if milestone_costs not in {"dual", "resolve", "none"}:
        raise typer.BadParameter(f"expected dual, resolve or none, got {milestone_costs!r}", param_hint="--milestone-costs")
    if solver not in {"choose", "simplex", "ipm"}:
        raise typer.BadParameter(f"expected choose, simplex or ipm, got {solver!r}", param_hint="--solver")
    if decompose not in {"auto", "always", "never"}:
        raise typer.BadParameter(f"expected auto, always or never, got {decompose!r}", param_hint="--decompose")
    if not 0 < gap < 1:
        raise typer.BadParameter(f"expected a relative gap between 0 and 1, got {gap}", param_hint="--gap")
    check_seconds(time_limit)
    if report and no_hourly:
        raise typer.BadParameter("--report needs the hourly dispatch; drop --no-hourly", param_hint="--report")


def write_report_files(run_dir: Path, plan=None) -> None:
    """Write the report of ``run_dir`` (with a progress line and its time) and print what was written."""
    from pvopt.report.report import write_report

    with phases("write report.html, report.xlsx and figures"):
        files = write_report(run_dir, plan=plan)
    out.print(f"wrote {files.html}, {files.xlsx} and {len(files.figures)} figures in {Path(run_dir) / 'figures'}", markup=False, soft_wrap=True)
    for why in files.left_out.values():
        out.print(why, markup=False, soft_wrap=True)


def print_df(df, title: str, floatfmt: dict[str, str] | None = None, keys: tuple[str, ...] | None = None) -> None:
    """Print a DataFrame as a table with thousands separators that never cuts a number (:func:`pvopt.cli.tables.print_table`).

    ``keys`` are the columns repeated when the table is split to fit the terminal (default: the first column);
    text columns wrap.
    """
    keys = keys if keys is not None else tuple(df.columns[:1])
    cols = [Col(str(c), justify="right" if df[c].dtype.kind in "fiu" else "left", key=c in keys,
                wrap=df[c].dtype.kind not in "fiub" and c not in keys) for c in df.columns]
    rows = []
    for _, row in df.iterrows():
        cells = []
        for c in df.columns:
            v = row[c]
            fmt = (floatfmt or {}).get(c)
            cells.append(fmt.format(v) if fmt and v == v else (f"{v:,.1f}" if isinstance(v, float) else str(v)))
        rows.append(cells)
    print_table(out, title, cols, rows)


def print_plan(run) -> None:
    """Concise console tables: capacity, emissions against milestones, certificates, cost, milestones."""
    p = run.plan
    cur = run.inputs.attrs["currency"]
    years = [int(y) for y in p["year"].values]
    inst = p["installed_kwp"]
    kind = p["array_kind"]
    heads = ["year", "rooftop kWp", "carport kWp", "PV MWh", "onsite MWh", "curtailed MWh", "grid MWh", "certs MWh",
             "offsets t", "S1 t", "S2 loc t", "S2 mkt t", "net t", f"cost k{cur}"]
    S = lambda k, j: float(p[k].isel(year=j).sum())  # noqa: E731
    rows = []
    for j, y in enumerate(years):
        rows.append([
            str(y),
            f"{float(inst.where(kind == 'rooftop', 0).isel(year=j).sum()):,.0f}",
            f"{float(inst.where(kind == 'carport', 0).isel(year=j).sum()):,.0f}",
            f"{S('pv_generated_mwh', j):,.0f}", f"{S('pv_onsite_mwh', j):,.0f}", f"{S('curtailed_mwh', j):,.0f}",
            f"{S('grid_import_mwh', j):,.0f}", f"{S('certificates_mwh', j):,.0f}", f"{S('offsets_tco2e', j):,.0f}",
            f"{S('scope1_after_measures_tco2e', j):,.0f}", f"{S('scope2_location_tco2e', j):,.0f}", f"{S('scope2_market_tco2e', j):,.0f}",
            f"{S('net_tco2e', j):,.0f}", f"{S('total_cost', j) / 1000:,.0f}",
        ])
    print_table(out, f"Plan for {run.inputs.attrs['portfolio_name']} — NPC {float(p['npc']):,.0f} {cur}",
                [Col(h, key=h == "year") for h in heads], rows)
    mcols = [Col("milestone", "left", key=True), Col("type", "left", wrap=True), Col("year"), Col("target"), Col("achieved"),
             Col("margin"), Col("unit", "left", wrap=True), Col("met"), Col(f"marginal cost ({cur} NPV/unit)")]
    mrows = []
    for r in run.milestones:
        extra = f"{r['marginal_cost']:,.1f}" if r["marginal_cost"] == r["marginal_cost"] else "-"
        if "cost_vs_without" in r:
            extra += f" (NPC +{r['cost_vs_without']:,.0f})"
        mrows.append([r["name"], r["type"], str(r["year"]), f"{r['target']:,.2f}", f"{r['achieved']:,.2f}", milestone_margin_text(r),
                      r["unit"], "yes" if r["met"] else "NO", extra])
    print_table(out, "Milestones", mcols, mrows)
    from pvopt.cli.summary import print_plan_outputs

    print_plan_outputs(p, out)  # against business as usual, and the build list
    _print_pillars(p, cur)
    _print_weather(p)


MIN_TYPE_MILESTONES = {"min_portfolio_kwp", "rooftop_coverage", "min_pv_onsite_mwh", "min_certificates_mwh"}
"""Milestones whose achieved value must reach the target (margin = achieved - target); for the others the
achieved value must stay at or below the target (margin = target - achieved)."""


def milestone_margin(row: dict) -> float:
    """How far a milestone is on the safe side of its target, in its unit (negative: missed)."""
    t, a = float(row["target"]), float(row["achieved"])
    return a - t if row["type"] in MIN_TYPE_MILESTONES else t - a


def milestone_margin_text(row: dict) -> str:
    """Format the margin with its share of the target, e.g. ``+551.26 (+5.5 %)``; ``-`` when not a number."""
    try:
        v = milestone_margin(row)
    except (KeyError, TypeError, ValueError):
        return "-"
    if v != v:
        return "-"
    v = 0.0 if abs(v) < 5e-3 else v
    t = float(row["target"])
    pct = f" ({100.0 * v / abs(t):+.1f} %)" if abs(t) > 1e-9 else ""
    return f"{v:+,.2f}{pct}"


def _print_weather(p) -> None:
    """One line per site: where its weather comes from (from plan.nc's attrs)."""
    import json

    try:
        sources = json.loads(str(p.attrs.get("weather_sources_json", "") or "{}"))
    except ValueError:
        sources = {}
    from pvopt.pv.weather import weather_label

    if sources:
        out.print("Weather per site: " + "; ".join(f"{s}: {weather_label(v.get('description', '')) or v.get('source', '?')}"
                                                    for s, v in sources.items()), markup=False, soft_wrap=True)
    stmt = str(p.attrs.get("weather_statement", "") or "")
    if stmt:
        out.print(stmt, markup=False, soft_wrap=True)


def _print_pillars(p, cur: str) -> None:
    """Measures, batteries and the annual-vs-hourly certificate matching comparison, when present."""
    years = [int(y) for y in p["year"].values]
    if "measure_adopted_fraction" in p:
        cols = [Col("measure", "left", key=True), Col("type", "left", key=True), *(Col(str(y)) for y in years)]
        rows = [[str(name), str(p["measure_type"].values[k]), *[f"{v:.2f}" for v in p["measure_adopted_fraction"].values[k]]]
                for k, name in enumerate(p["measure"].values)]
        print_table(out, "Efficiency and electrification measures (share of full size in place)", cols, rows)
    if "battery_energy_kwh" in p:
        for k, name in enumerate(p["battery"].values):
            e = p["battery_energy_kwh"].values[k]
            pw = p["battery_power_kw"].values[k]
            out.print(f"battery at {name}: " + ", ".join(f"{y} {e[j]:,.0f} kWh/{pw[j]:,.0f} kW" for j, y in enumerate(years) if e[j] > 0 or j == len(years) - 1),
                      markup=False, soft_wrap=True)
    if "certificates_hourly_matching_mwh" in p:
        a = float(p["certificates_annual_matching_mwh"].sum())
        h = p["certificates_hourly_matching_mwh"].values
        ca = float(p["certificate_cost_annual_matching"].sum())
        ch = p["certificate_cost_hourly_matching"].values
        if a > 0:
            hs = "not possible with the instruments given" if not (h == h).all() or not (abs(h) < float("inf")).all() else f"{h.sum():,.0f} MWh for {ch.sum():,.0f} {cur}"
            out.print(f"certificate matching over {years[0]}-{years[-1]}: annual {a:,.0f} MWh for {ca:,.0f} {cur}; "
                      f"hour by hour (GHG Protocol 2025 proposal, same dispatch) {hs}", markup=False, soft_wrap=True)
