"""Fingerprint of a loaded portfolio: which inputs a run-folder artefact came from.

``yield.nc``, ``plan.nc``, ``risk.nc`` (attribute ``portfolio_fingerprint``) and
``actuals.csv`` (column ``portfolio_fingerprint``) / ``figures/actuals.png``
(PNG text ``portfolio_fingerprint``) carry the fingerprint of the portfolio they
were computed from; the report includes an artefact only when its fingerprint
equals the plan's (:func:`pvopt.report.report.write_report`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pvopt.inputs.schema import Portfolio

__all__ = ["portfolio_fingerprint", "FINGERPRINT_ATTR"]

FINGERPRINT_ATTR = "portfolio_fingerprint"
"""Name of the attribute (and CSV column / PNG text key) holding the fingerprint."""


def _paths(node: Any) -> list[str]:
    """Every ``path`` string in a dumped model (weather, load and tariff files)."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "path" and isinstance(v, str):
                out.append(v)
            else:
                out += _paths(v)
    elif isinstance(node, list):
        for v in node:
            out += _paths(v)
    return out


def portfolio_fingerprint(portfolio: Portfolio) -> str:
    """Hash (16 hex digits) of the loaded portfolio: every setting and site, and the bytes of every file they name.

    The portfolio folder's own location is left out, so the same inputs copied
    elsewhere give the same fingerprint.
    """
    dump = portfolio.model_dump(mode="json", exclude={"directory"})
    h = hashlib.sha256(json.dumps(dump, sort_keys=True, default=str).encode())
    base = Path(portfolio.directory)
    for rel in sorted(set(_paths(dump))):
        p = base / rel
        h.update(rel.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest() if p.is_file() else b"missing")
    return h.hexdigest()[:16]
