"""Tests of the documentation: self-contained, and every section anchor of docs/model.md it is cited by exists.

The model's mathematics lives in ``docs/model.md``; README, docstrings and
comments point there by section anchor.  A reference to a file outside the
repository would leave a clone without the definitions it needs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from sim import analysis, game, theory

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "docs" / "model.md"
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yaml", ".yml", ".json", ".csv"}
# Built from pieces so that this file does not match its own patterns.
_NAME = "DE" "SIGN"  # the outside design note's name, in two pieces so that a grep for it finds nothing here
OUTSIDE = re.compile("|".join([re.escape("../" "sha" "red"), re.escape(_NAME + ".md"), rf"\b{_NAME}\b"]))
ANCHOR_REF = re.compile(r"docs/model\.md#([A-Za-z0-9_-]+)")


def tracked_files() -> list[Path]:
    """Files under version control (every file but the virtual environment and caches outside git)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True).stdout
        paths = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        skip = {".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache"}
        paths = [p for p in ROOT.rglob("*") if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts)]
    return [p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def model_anchors() -> set[str]:
    text = MODEL.read_text(encoding="utf-8")
    in_code = False
    anchors = set()
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"#{1,6}\s+(.*)", line)):
            anchors.add(github_slug(m.group(1)))
    return anchors


def test_github_slug_by_hand():
    assert github_slug("What is exact") == "what-is-exact"
    assert github_slug("Developers, capability and effort") == "developers-capability-and-effort"
    assert github_slug("Power-law growth of the threshold") == "power-law-growth-of-the-threshold"


def test_no_tracked_file_refers_outside_the_repository():
    files = tracked_files()
    assert ROOT / "README.md" in files and MODEL in files and ROOT / "sim" / "theory" / "__init__.py" in files
    offenders = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_every_model_anchor_cited_exists():
    anchors = model_anchors()
    assert {"theory", "stabilising-threshold", "what-is-exact", "repeated-play", "outcomes"} <= anchors
    cited = {}
    for path in tracked_files():
        for anchor in ANCHOR_REF.findall(path.read_text(encoding="utf-8", errors="replace")):
            cited.setdefault(anchor, []).append(str(path.relative_to(ROOT)))
    # README and the theory module point here; so must the code that reports round-off.
    assert "what-is-exact" in cited and "README.md" in cited["what-is-exact"]
    assert any(p.startswith("sim/") for refs in cited.values() for p in refs)
    missing = {a: refs for a, refs in cited.items() if a not in anchors}
    assert not missing, missing


def test_internal_links_of_the_model_exist():
    anchors = model_anchors()
    links = re.findall(r"\]\(#([A-Za-z0-9_-]+)\)", MODEL.read_text(encoding="utf-8"))
    assert links, "the contents line links the sections"
    assert sorted(set(links) - anchors) == []


@pytest.mark.parametrize(
    ("stated", "value"),
    [
        ("4 ulps of `max(|t|, |U_i|)` (`ROUND_OFF_ULPS`)", theory.ROUND_OFF_ULPS == 4),
        ("within 1000 ulps of its limit", theory.SATURATION_ULPS == 1000),
        ("more than 2,000,000 levels", theory.MAX_GRID_LEVELS == 2_000_000),
        ("or for all pairs together", theory.MAX_TOTAL_GRID_LEVELS == 2_000_000),
        ("(default `1e12`", theory.DEFAULT_TAU_MAX == 1e12),
        ("cell = 1e-12 + 1e-9 * max(1, effort scale)", (analysis.RECURRENCE_ATOL, analysis.RECURRENCE_RTOL)
         == (1e-12, 1e-9)),
        ("`1e-9 * max(1, max_k |r_k|)`", game.UTILITY_RTOL == 1e-9),
    ],
)
def test_numbers_stated_in_the_model_are_the_code_s(stated, value):
    """The document states these constants; if the code changes one, the document must change with it."""
    assert stated in MODEL.read_text(encoding="utf-8")
    assert value
