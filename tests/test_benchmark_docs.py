"""docs/BENCHMARKS.md is evidence: rewriting one suite's section keeps every other section."""

import importlib.util

from tests.programs import ROOT


def load_benchmark_script():
    spec = importlib.util.spec_from_file_location("benchmark", ROOT / "benchmarks/benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rewriting_a_suite_keeps_unknown_and_renamed_sections():
    benchmark = load_benchmark_script()
    old = (
        "# Benchmarks\n\nheader\n\n"
        "## `a2c`: the old measurement\n\nold table\n\n"
        "## `a2c-step-costs`: written by another script\n\nits table\n\n"
        "## `a3c-threads-scaling@before`: a renamed suite, tagged\n\nkept\n\n"
        "## A section without a key\n\nkept too\n"
    )
    new = benchmark.merge_sections(old, {"a2c": "## `a2c`: measured again\n\nnew table\n"})
    assert "new table" in new and "old table" not in new
    for text in ("written by another script", "a renamed suite, tagged", "kept too"):
        assert text in new
    assert new.count("\n## ") == 4
    # A second rewrite changes nothing else.
    assert benchmark.merge_sections(new, {}) == new
