"""The documentation holds together: every link in README.md and docs/ resolves (the file, and
the anchor in it), every measured claim names a section of docs/BENCHMARKS.md that exists, and
the README stays a front door (at most 200 lines)."""

import re
from pathlib import Path

import pytest

from tests.programs import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# A citation of a benchmark section: a link's target or plain text, in docs and in code.
CITATION = re.compile(r"BENCHMARKS\.md#([\w@.-]+)")


def anchors(page: Path) -> set[str]:
    """The anchors a page offers: explicit ``<a id="...">`` and GitHub's slug of each heading
    (lower case, punctuation but ``-`` and ``_`` dropped, spaces to ``-``, ``-1`` on repeats)."""
    text = page.read_text()
    found = set(re.findall(r'<a id="([^"]+)"', text))
    seen: dict[str, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        heading = line.lstrip("#").strip()
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks are not links
    return LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_resolves_to_a_file_and_an_anchor(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ... are not checked offline
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no file {path}")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no anchor #{fragment} in {resolved.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_every_cited_benchmark_section_exists():
    sections = anchors(ROOT / "docs" / "BENCHMARKS.md")
    sources = [*PAGES, *ROOT.glob("*.py"), *ROOT.glob("[a-z]*/*.py")]
    missing = [
        f"{source.relative_to(ROOT)}: {key}"
        for source in sources
        for key in CITATION.findall(source.read_text())
        if key not in sections
    ]
    assert not missing, missing


def test_every_preset_cites_where_it_was_measured():
    from config.presets import PRESETS

    sections = anchors(ROOT / "docs" / "BENCHMARKS.md")
    for algorithm, presets in PRESETS.items():
        for env, preset in presets.items():
            assert all(key in sections for key in preset.evidence), (algorithm, env)


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    # Each page under docs/ is one click away.
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in readme, page.name
