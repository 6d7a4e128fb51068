"""Shared pytest fixtures.

Each helper keeps its fixtures in its own clearly marked block.
"""

from __future__ import annotations

# =========================================================================== #
# Inputs layer: example portfolio copies, YAML editing, issue lookup
# (used by test_config.py, test_profiles.py, test_example.py)
# =========================================================================== #
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
LEAD_DIR = REPO_ROOT / "sites" / "lead"


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def edit_yaml(path: Path, fn: Callable[[Any], Any]) -> None:
    """Load ``path``, let ``fn`` change the data in place (its return value is ignored), write it back."""
    data = read_yaml(path)
    fn(data)
    write_yaml(path, data)


def load_issues(directory: Path):
    """Load ``directory`` expecting failure; return the list of :class:`pvopt.errors.InputIssue`."""
    from pvopt import load_portfolio
    from pvopt.errors import PortfolioError

    with pytest.raises(PortfolioError) as exc:
        load_portfolio(directory)
    return exc.value.issues


def find_issue(issues, *, file: str | None = None, field: str | None = None, contains: str | None = None):
    """The one issue matching every given part (file name suffix, exact field, message substring)."""
    hits = [
        i
        for i in issues
        if (file is None or Path(i.file).name == file)
        and (field is None or i.field == field)
        and (contains is None or contains in i.message)
    ]
    assert hits, f"no issue with file={file!r} field={field!r} containing {contains!r}; got:\n" + "\n".join(map(str, issues))
    return hits[0]


@pytest.fixture
def lead_copy(tmp_path: Path) -> Path:
    """A private copy of the example portfolio ``sites/lead`` to break one field at a time."""
    dst = tmp_path / "lead"
    shutil.copytree(LEAD_DIR, dst, ignore=shutil.ignore_patterns("*.md"))
    return dst


@pytest.fixture(scope="session")
def lead_portfolio():
    """The example portfolio, loaded once."""
    from pvopt import load_portfolio

    return load_portfolio(LEAD_DIR)


# =========================================================================== #
# (end of the inputs-layer block)
# =========================================================================== #
