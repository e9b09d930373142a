"""docs/BENCHMARKS.md is evidence: a rewrite keeps every section it does not measure again, and
keeps an older measurement of the suite it does, marked superseded; a stop while writing keeps
the file whole."""

import sys

import pytest

from tests.programs import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import benchmark  # noqa: E402
import evidence  # noqa: E402

OLD = (
    "# Benchmarks\n\nheader\n\n"
    "## `a2c`: A2C, defaults\n\n- Measured 2026-11-22 by ... at commit 42c5aba on a machine.\n\n"
    "old table\n\n"
    "## `a2c-step-costs`: written by another script\n\nits table\n\n"
    "## `a3c-threads-scaling@before`: a renamed suite, tagged\n\nkept\n\n"
    "## A section without a key\n\nkept too\n"
)
NEW = (
    "## `a2c`: A2C, defaults\n\n- Measured 2026-11-26 by ... at commit 9e4ecb6 on a machine.\n\n"
    "new table\n"
)


def test_rewriting_a_suite_keeps_unknown_and_renamed_sections_and_the_older_measurement():
    new = evidence.merge_sections(OLD, {"a2c": NEW}, order=["a2c", "a3c"])
    for text in ("written by another script", "a renamed suite, tagged", "kept too", "header"):
        assert text in new
    assert new.count("\n## ") == 5
    # The new measurement comes first, the old one right below it, marked and re-anchored.
    assert new.index("new table") < new.index("old table") < new.index("its table")
    assert "## `a2c` (superseded, measured 2026-11-22 at 42c5aba): A2C, defaults" in new
    assert '<a id="a2c"></a>' in new and '<a id="a2c--2026-11-22-42c5aba"></a>' in new
    assert '<a id="a2c-step-costs"></a>' in new
    # Writing nothing changes nothing; writing the same measurement again adds no section.
    assert evidence.merge_sections(new, {}, order=["a2c"]) == new
    assert evidence.merge_sections(new, {"a2c": NEW}, order=["a2c"]) == new
    # A third measurement keeps both older ones, newest first.
    third = NEW.replace("2026-11-26", "2026-11-27").replace("9e4ecb6", "abcdef1")
    newer = evidence.merge_sections(new, {"a2c": third.replace("new", "newest")}, order=["a2c"])
    assert newer.count("\n## ") == 6
    assert newer.index("newest table") < newer.index("new table") < newer.index("old table")


def test_a_benchmark_stopped_while_writing_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(OLD)

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(evidence.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        evidence.write_sections(path, {"a2c": NEW}, order=["a2c"])
    assert path.read_text() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["BENCHMARKS.md"]  # no temporary left


def test_every_section_of_the_benchmarks_file_has_its_anchor_and_keys_are_unique():
    text = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    _, sections = evidence.parse(text)
    assert len(sections) == text.count("\n## ")
    for section in sections.values():
        assert f'<a id="{evidence.anchor(section)}"></a>' in section
    # The file is as the writer leaves it: written again, nothing moves.
    assert evidence.merge_sections(text, {}, order=list(benchmark.SUITES)) == text


def test_a_script_section_says_its_command_date_commit_and_versions_and_merges_as_its_key():
    text = benchmark.script_section(
        "a3c-x", "a title", "What it shows.", "`python x.py`", "| t |\n"
    )
    heading, *_ = text.splitlines()
    assert heading == "## `a3c-x`: a title" and "- Command: `python x.py`." in text
    date, commit = evidence.measured(text)
    assert date and commit and "- Versions: Python" in text and text.endswith("| t |\n")
    merged = evidence.merge_sections(OLD, {"a3c-x": text}, order=["a2c"])
    assert evidence.parse(merged)[1]["a3c-x"].startswith(heading + '\n<a id="a3c-x"></a>')
