"""The product stands alone: every cited figure points to docs/sources.md, and no file refers to
material outside the repository or to a machine's absolute path."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "docs" / "sources.md"

EXEMPT_PREFIXES: tuple[str, ...] = ()
THIS_FILE = "tests/system/test_sources.py"

# The patterns are assembled from parts so that this file does not itself name the team folder or a build path.
TEAM_FOLDER = "sha" + "red"
BUILD_ROOT = "wo" + "rk"
FORBIDDEN = {
    "facts.md": re.compile(r"facts\.md", re.I),
    "../" + TEAM_FOLDER: re.compile(r"\.\./" + TEAM_FOLDER + r"\b"),
    "a machine path": re.compile(r"(?<![\w.~])(/" + BUILD_ROOT + r"/|/home/\w|/Users/\w|/tmp/pvl|[A-Z]:\\\\Users)"),
}
SOURCE_COMMENT = re.compile(r"#\s*source:\s*(.*)", re.I)
SOURCE_REF = re.compile(r"^docs/sources\.md S(\d+)\b")
CITED_DIRS = ("sites/", "weather/")


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [f for f in out.splitlines() if f and (ROOT / f).is_file()]


def _text(f: str) -> str | None:
    data = (ROOT / f).read_bytes()
    if b"\0" in data[:4096]:
        return data.decode("latin-1")  # binary (NetCDF, images): still scanned for embedded paths
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def test_no_file_refers_outside_the_product():
    bad = []
    for f in _tracked():
        if f == THIS_FILE or f.startswith(EXEMPT_PREFIXES):
            continue
        text = _text(f)
        for what, rx in FORBIDDEN.items():
            m = rx.search(text)
            if m:
                line = text[: m.start()].count("\n") + 1
                bad.append(f"{f}:{line}: refers to {what} ({m.group(0)!r})")
    assert not bad, "files must stand alone (cite docs/sources.md, no machine paths):\n" + "\n".join(bad)


def test_every_source_comment_points_to_docs_sources():
    sections = set(re.findall(r"^## S(\d+)\.", SOURCES.read_text(encoding="utf-8"), flags=re.M))
    assert {"1", "5", "8"} <= sections
    checked, bad = 0, []
    for f in _tracked():
        if f.endswith(".md") or not (f.startswith(CITED_DIRS) or (f.startswith("pvopt/") and f.endswith(".py"))):
            continue
        text = _text(f)
        for n, line in enumerate(text.splitlines(), 1):
            m = SOURCE_COMMENT.search(line)
            if not m:
                continue
            checked += 1
            ref = SOURCE_REF.match(m.group(1).strip())
            if not ref:
                bad.append(f"{f}:{n}: '# source:' does not start with 'docs/sources.md S<n>': {line.strip()[:100]}")
            elif ref.group(1) not in sections:
                bad.append(f"{f}:{n}: docs/sources.md has no section S{ref.group(1)}")
    assert checked >= 40, f"expected the example's many '# source:' comments, found {checked}"
    assert not bad, "\n".join(bad)


def test_the_scan_can_fail(tmp_path):
    """The patterns catch what they are meant to catch."""
    assert FORBIDDEN["facts.md"].search(f"see ../{TEAM_FOLDER}/facts.md §5")
    assert FORBIDDEN["../" + TEAM_FOLDER].search(f"see ../{TEAM_FOLDER}/style.md")
    assert FORBIDDEN["a machine path"].search(f"normals '/{BUILD_ROOT}/main/weather/normals/wuxi.csv'")
    assert not FORBIDDEN["a machine path"].search("weather/normals/wuxi.csv and ~/.cache/pvopt/weather")
    assert not SOURCE_REF.match("facts.md §3, Polaris")
    assert SOURCE_REF.match("docs/sources.md S3, Polaris")
