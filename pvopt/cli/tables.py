"""Terminal tables that never cut a number.

Columns get the width their numbers need, text wraps, and a table too wide for
the terminal is split into parts that repeat the key columns (e.g. the year).

Rich shrinks every column of a table wider than the console and cuts cells with an ellipsis ("9,6…");
:func:`print_table` instead decides every column's width itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

__all__ = ["Col", "print_table", "fit_parts"]

WRAP_MIN_WIDTH = 10
"""Narrowest width a wrapping text column is given (unless its longest word is wider)."""

COLUMN_OVERHEAD = 3
"""Characters a column costs besides its content: one space of padding each side and one rule."""


@dataclass
class Col:
    """One column: header, alignment, whether it is a key (repeated in every part) and whether its text may wrap."""

    header: str
    justify: str = "right"
    key: bool = False
    wrap: bool = False


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def _widths(cols: Sequence[Col], rows: Sequence[Sequence[str]]) -> tuple[list[int], list[int]]:
    """(full, minimum) content width of every column; a number's cell is never narrower than the number."""
    full, least = [], []
    for j, c in enumerate(cols):
        cells = [str(r[j]) for r in rows]
        widest = max([cell_len(x) for x in cells] + [cell_len(c.header)])
        if c.wrap:
            words = max([_longest_word(x) for x in cells] + [_longest_word(c.header)])
            least.append(max(words, min(widest, WRAP_MIN_WIDTH)))
        else:
            least.append(max([cell_len(x) for x in cells] + [_longest_word(c.header)]))
        full.append(widest)
    return full, least


def _budget(idx: Sequence[int], least: Sequence[int]) -> int:
    return sum(least[j] for j in idx) + COLUMN_OVERHEAD * len(idx) + 1


def fit_parts(cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> list[list[int]]:
    """Split the columns into parts (lists of column indices) that each fit ``width``; key columns start every part."""
    _, least = _widths(cols, rows)
    keys = [j for j, c in enumerate(cols) if c.key]
    rest = [j for j, c in enumerate(cols) if not c.key]
    parts: list[list[int]] = []
    cur = list(keys)
    for j in rest:
        if len(cur) > len(keys) and _budget(cur + [j], least) > width:
            parts.append(cur)
            cur = list(keys)
        cur.append(j)
    parts.append(cur)
    return parts


def _part_widths(idx: Sequence[int], full: Sequence[int], least: Sequence[int], width: int) -> list[int]:
    """Widths of the columns ``idx``: their full width when it fits, else the minimum plus a fair share of what is left."""
    if _budget(idx, full) <= width:
        return [full[j] for j in idx]
    w = [least[j] for j in idx]
    spare = width - _budget(idx, least)
    while spare > 0:
        grow = [k for k, j in enumerate(idx) if w[k] < full[j]]
        if not grow:
            break
        for k in grow:
            if spare == 0:
                break
            w[k] += 1
            spare -= 1
    return w


def print_table(console: Console, title: str, cols: Sequence[Col], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``cols`` at the console's width without cutting a cell that cannot wrap.

    A column that does not wrap is at least as wide as its widest cell, so a
    number is never wrapped or cut; headers and wrapping text columns wrap at
    spaces. When the columns do not fit side by side the table is printed in
    parts, each repeating the key columns, titled "(part i of n)".
    """
    width = console.width
    full, least = _widths(cols, rows)
    parts = fit_parts(cols, rows, width)
    for p, idx in enumerate(parts):
        suffix = f" (part {p + 1} of {len(parts)})" if len(parts) > 1 else ""
        t = Table(title=(title + suffix) if title else None, header_style="bold")
        for j, w in zip(idx, _part_widths(idx, full, least, width)):
            c = cols[j]
            t.add_column(c.header, justify=c.justify, width=w, overflow="fold")  # type: ignore[arg-type]
        for r in rows:
            t.add_row(*(str(r[j]) for j in idx))
        console.print(t)
