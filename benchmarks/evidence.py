"""docs/BENCHMARKS.md as evidence that is never lost: the one reader and writer of that file.

Every benchmark script (benchmark.py, step_costs.py, thread_costs.py, ray_costs.py) writes its
sections through :func:`write_sections`. A section is a ``## `key`: title`` heading and what
follows up to the next ``## ``; its key is the suite's name (``name@tag`` for a run of another
checkout). Writing a section of a key that the file already holds keeps the older measurement,
renamed ``## `key` (superseded, measured DATE at COMMIT): title``, right below the new one; a
section of a key nobody writes any more (a renamed suite, another script's) stays where it was.
Each section carries an anchor ``<a id="key"></a>`` so that the README, docs and presets cite it
as ``BENCHMARKS.md#<key>``; tests/test_docs.py checks that every cited key exists.

The file is replaced in one step (written beside it, then renamed), so a benchmark stopped while
writing leaves the previous file whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

SUPERSEDED = " (superseded, measured "


def section_key(section: str) -> str:
    """The key of one section (its text from ``## ``): the first backquoted name of the heading;
    a superseded one's whole heading (each older measurement is its own key); a heading without
    a backquoted name is its own key."""
    heading = section.split("\n", 1)[0]
    if heading.count("`") < 2 or SUPERSEDED in heading:
        return heading
    return heading.split("`")[1]


def current_key(section: str) -> str:
    """The suite a section measures, superseded or not (the first backquoted name)."""
    heading = section.split("\n", 1)[0]
    return heading.split("`")[1] if heading.count("`") >= 2 else heading


def anchor(section: str) -> str:
    """The anchor id of a section: its key for the current one; ``key--DATE-COMMIT`` for a
    superseded one, from its heading."""
    heading = section.split("\n", 1)[0]
    name = current_key(section)
    if SUPERSEDED not in heading:
        return name
    when = heading.split(SUPERSEDED, 1)[1].split(")", 1)[0]  # "DATE at COMMIT"
    return name + "--" + re.sub(r"[^\w.-]+", "-", when.replace(" at ", "-")).strip("-")


def measured(section: str) -> tuple[str, str]:
    """(date, commit) of a section's measurement, from its ``- Measured ...`` line ("" where it
    does not say)."""
    line = next((line for line in section.splitlines() if line.startswith("- Measured")), "")
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", line)
    commits = re.findall(r"at (?:commit )?([0-9a-f]{7,40})\b", line)
    return (dates[0] if dates else "", commits[0] if commits else "")


def with_anchor(section: str) -> str:
    """The section with exactly one anchor line, right below its heading."""
    heading, _, body = section.partition("\n")
    body = re.sub(r'\A\s*<a id="[^"]*"></a>\n', "", body)
    return f'{heading}\n<a id="{anchor(section)}"></a>\n{body}'


def supersede(section: str, taken: Iterable[str] = ()) -> str:
    """An older measurement of a suite, renamed as superseded (date and commit from its
    ``Measured`` line) and re-anchored; where ``taken`` (keys already in the file) holds that
    name, another measurement of the same day and commit, it is numbered (``, 2``, ...)."""
    heading, _, body = section.partition("\n")
    date, commit = measured(section)
    name = current_key(section)
    rest = heading.split(f"`{name}`", 1)[1].lstrip(":").strip()
    when = f"{date or 'undated'} at {commit or 'an unrecorded commit'}"
    taken, number = set(taken), 1
    older = f"## `{name}`{SUPERSEDED}{when}): {rest}\n{body}"
    while section_key(older) in taken:
        number += 1
        older = f"## `{name}`{SUPERSEDED}{when}, {number}): {rest}\n{body}"
    return with_anchor(older)


def same_measurement(one: str, other: str) -> bool:
    """Whether two sections of a suite hold the same measurement: the same date, commit and
    table rows (a section written again, not the suite measured again on the same day)."""

    def rows(section: str) -> list[str]:
        return [line for line in section.splitlines() if line.startswith("|")]

    return measured(one) == measured(other) and rows(one) == rows(other)


def parse(text: str) -> tuple[str, dict[str, str]]:
    """(header, sections by key, in the file's order) of a BENCHMARKS.md text."""
    header, *chunks = text.split("\n## ")
    sections = {}
    for chunk in chunks:
        section = "## " + chunk.rstrip() + "\n"
        sections[section_key(section)] = section
    return header.rstrip() + "\n", sections


def merge_sections(
    old_text: str, new_sections: dict[str, str], order: list[str], header: str = ""
) -> str:
    """``old_text`` with ``new_sections`` (key -> section text) written in.

    No section is dropped. A new section replaces the old one of its key when both hold the
    same measurement (``same_measurement``: same date, commit and table); otherwise the old
    one stays below the new one as superseded. Current sections of the keys in ``order`` come
    in that order, then every other one in the order it had; each suite's superseded sections
    follow it, newest first. ``header`` replaces the file's header where given (and starts a
    new file)."""
    old_header, sections = parse(old_text) if old_text.strip() else ("", {})
    just_superseded = []
    for key, section in new_sections.items():
        previous = sections.get(key)
        if previous is not None and not same_measurement(previous, section):
            older = supersede(previous, sections)
            if section_key(older) not in sections:
                sections[section_key(older)] = older
                just_superseded.append(section_key(older))
        sections[key] = section
    sections = {key: with_anchor(section) for key, section in sections.items()}
    known = sorted(
        (key for key in sections if key.split("@")[0] in order),
        key=lambda key: (order.index(key.split("@")[0]), key),
    )
    current = known + [key for key in sections if key not in known and SUPERSEDED not in key]
    by_suite: dict[str, list[str]] = {}  # newest first: those just superseded, then file order
    for key in [*reversed(just_superseded), *sections]:
        suite = by_suite.setdefault(current_key(sections[key]), [])
        if SUPERSEDED in key and key not in suite:
            suite.append(key)
    ordered = []
    for key in current:
        ordered += [key, *by_suite.pop(key, [])]
    for older in by_suite.values():  # superseded sections whose suite has no current section
        ordered += older
    head = (header or old_header).strip()
    return (head + "\n\n" if head else "") + "\n".join(sections[k] for k in ordered)


def write_sections(
    path: Path, new_sections: dict[str, str], order: list[str] = (), header: str = ""
) -> None:
    """Merges ``new_sections`` into the file at ``path`` (see :func:`merge_sections`) and
    replaces it in one step: a stop while writing leaves the previous file whole."""
    path = Path(path)
    old = path.read_text() if path.exists() else ""
    text = merge_sections(old, new_sections, list(order), header)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
