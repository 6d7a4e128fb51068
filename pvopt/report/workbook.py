"""The report workbook: one sheet per table, human headers with units, number formats people can use.

Every sheet has a bold, wrapped, frozen header row (``Capacity [kWp]``,
``LCOE [CNY/kWh]``); numbers stay numbers (finance can sum them) with a
format per column (thousands separators and a fixed number of decimals,
years as ``0``); year headers of pivoted tables are numeric cells; column
widths follow the longest formatted value and the header words.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from pvopt.report.labels import column_decimals, excel_number_format, humanize

__all__ = ["workbook_bytes", "MAX_WIDTH", "MIN_WIDTH"]

MAX_WIDTH = 48
"""Widest column [characters]."""
MIN_WIDTH = 8
"""Narrowest column [characters]."""
HEADER_FILL = "DDE7F0"


def _cell_value(v: Any) -> Any:
    if v is None or isinstance(v, (str, bool, np.bool_)):
        return bool(v) if isinstance(v, np.bool_) else v
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    return str(v)


def _width(header: Any, values: pd.Series, fmt: tuple[int, bool] | None) -> float:
    """Column width: the longest formatted value, and the header's longest word or a third of it (it wraps)."""
    if fmt is not None:
        d, year = fmt
        v = pd.to_numeric(values, errors="coerce").dropna()
        longest = max((len(str(int(x))) if year else len(f"{x:,.{d}f}") for x in v.to_numpy()), default=4)
    else:
        longest = int(max((len(str(x)) for x in values.to_numpy()), default=4))
    h = str(header)
    head = max(max((len(w) for w in h.split()), default=4), len(h) // 2 if len(h) > 24 else len(h))
    return float(min(max(longest, head, MIN_WIDTH) + 2, MAX_WIDTH))


def _write_sheet(wb, name: str, df: pd.DataFrame, currency: str) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title=name[:31])
    hdf, fmts = humanize(df, currency)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor=HEADER_FILL)
    wrap = Alignment(wrap_text=True, vertical="top", horizontal="center")
    for k, h in enumerate(hdf.columns, start=1):
        c = ws.cell(row=1, column=k, value=h if isinstance(h, int) else str(h))
        c.font, c.fill, c.alignment = bold, fill, wrap
        if isinstance(h, int):
            c.number_format = "0"
    for r, row in enumerate(hdf.itertuples(index=False), start=2):
        for k, v in enumerate(row, start=1):
            ws.cell(row=r, column=k, value=_cell_value(v))
    for k, h in enumerate(hdf.columns, start=1):
        f = fmts.get(h)
        letter = get_column_letter(k)
        if f is not None:
            nf = excel_number_format(f[0], year=f[1])
            for cell in ws[letter][1:]:
                cell.number_format = nf
        else:  # text or mixed column (e.g. a metric's value): numbers formatted by their own size
            for cell in ws[letter][1:]:
                if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    cell.number_format = excel_number_format(column_decimals(pd.Series([cell.value])))
        ws.column_dimensions[letter].width = _width(h, hdf.iloc[:, k - 1], f)
    ws.freeze_panes = "B2" if len(hdf.columns) > 6 and not pd.api.types.is_numeric_dtype(hdf.iloc[:, 0]) else "A2"
    ws.auto_filter.ref = ws.dimensions


def workbook_bytes(tables: dict[str, pd.DataFrame], order: list[str], currency: str) -> bytes:
    """Build the workbook of ``tables`` (sheets in ``order``) as xlsx bytes.

    Parameters
    ----------
    tables
        Tables with machine column names (``lcoe_cny_per_kwh``); headers are made human by
        :func:`pvopt.report.labels.header`.
    order
        Sheet names, in order (each a key of ``tables``).
    currency
        Currency code spelled in the headers (``CNY``).
    """
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name in order:
        _write_sheet(wb, name, tables[name], currency)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
