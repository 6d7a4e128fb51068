"""Errors pvopt raises for bad input and failed plans, with documented exit codes."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

__all__ = [
    "EXIT_OK",
    "EXIT_INPUT",
    "EXIT_INFEASIBLE",
    "EXIT_SOLVER",
    "EXIT_OUTPUT",
    "EXIT_INTERRUPTED",
    "EXIT_CODES",
    "InputIssue",
    "PortfolioError",
    "WeatherError",
    "InfeasiblePlanError",
    "SolverError",
    "OutputExistsError",
    "WARNINGS_LOGGER",
    "warn_input",
    "OutputError",
    "RunLockedError",
    "RunInputError",
]

EXIT_OK = 0
EXIT_INPUT = 2  #: bad input: portfolio, site, weather or data file
EXIT_INFEASIBLE = 3  #: milestones cannot all be met
EXIT_SOLVER = 4  #: solver failure: time limit, numerical trouble, unbounded, solver missing
EXIT_OUTPUT = 5  #: output directory exists (use --force) or cannot be written
EXIT_INTERRUPTED = 130  #: interrupted (Ctrl-C, SIGINT): 128 + signal 2, as a shell reports it

EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "internal error",
    EXIT_INPUT: "bad input",
    EXIT_INFEASIBLE: "milestones infeasible",
    EXIT_SOLVER: "solver failure",
    EXIT_OUTPUT: "output exists (use --force) or cannot be written",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); run the same command again",
}
"""Every exit code of the ``pvopt`` command line with its meaning (README and docs/reliability.md list the same)."""


@dataclass(frozen=True)
class InputIssue:
    """One problem in one input file."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class PvoptError(Exception):
    """Base class of the errors pvopt reports without a traceback."""

    exit_code = 1


@dataclass
class PortfolioError(PvoptError):
    """Bad input: carries every issue found, each naming file and field."""

    issues: list[InputIssue] = field(default_factory=list)
    exit_code = EXIT_INPUT

    def __str__(self) -> str:
        n = len(self.issues)
        head = f"{n} problem{'s' if n != 1 else ''} in the input:"
        return "\n".join([head, *(f"  - {i}" for i in self.issues)])


class WeatherError(PortfolioError):
    """A weather file or table is unusable (gaps, NaN, naive stamps, wrong length)."""

    def __init__(self, file: str, field_: str, message: str):
        super().__init__([InputIssue(file, field_, message)])


@dataclass
class InfeasiblePlanError(PvoptError):
    """The milestones cannot all be met; ``shortfalls`` maps milestone name to (amount, unit, detail)."""

    shortfalls: dict[str, tuple[float, str, str]] = field(default_factory=dict)
    exit_code = EXIT_INFEASIBLE

    def __str__(self) -> str:
        lines = ["The milestones cannot all be met:"]
        for name, (amount, unit, detail) in self.shortfalls.items():
            if amount == amount:  # not NaN
                lines.append(f"  - {name}: short by {amount:,.1f} {unit}" + (f" ({detail})" if detail else ""))
            else:
                lines.append(f"  - {name}: {detail}")
        if len(lines) == 1:
            lines.append("  - the problem is infeasible, but no single milestone explains it")
        return "\n".join(lines)


class SolverError(PvoptError):
    """The solver stopped without an optimal plan (time limit, numerical trouble, unbounded, missing)."""

    exit_code = EXIT_SOLVER


class OutputExistsError(PvoptError):
    """An output file exists and ``--force`` was not given."""

    exit_code = EXIT_OUTPUT


# --------------------------------------------------------------------------- #
# Input warnings: plausible-but-odd inputs, reported without stopping
# --------------------------------------------------------------------------- #
WARNINGS_LOGGER = "pvopt.warnings"
"""Logger of input warnings; ``logging.getLogger(WARNINGS_LOGGER).setLevel(logging.ERROR)`` silences them."""


class _CurrentStderrHandler(logging.Handler):
    """Write each record as one line to the ``sys.stderr`` of the moment (so captured stderr sees it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a warning must never break a run
            self.handleError(record)


def _warnings_logger() -> logging.Logger:
    log = logging.getLogger(WARNINGS_LOGGER)
    if not any(isinstance(h, _CurrentStderrHandler) for h in log.handlers):
        log.addHandler(_CurrentStderrHandler())
        log.propagate = False  # one line per warning, whatever handlers the application has set up
    return log


def warn_input(issue: InputIssue) -> None:
    """Report a plausibility warning as one line ``warning: <file>: <field>: <message>`` on stderr.

    Warnings do not stop a run and do not change the exit code; the rules that
    raise them are listed in ``docs/reliability.md``.
    """
    _warnings_logger().warning("warning: %s", issue)


class OutputError(OutputExistsError):
    """An output cannot be written: ``--out`` is a file, the folder is read-only, the disk is full."""


class RunLockedError(OutputExistsError):
    """Another pvopt process is writing into the same output folder (its lock file is held)."""


@dataclass
class RunInputError(PortfolioError):
    """A run folder read as input (``plan.nc`` for ``report``, ``--plan``) is missing, truncated or not a plan."""
