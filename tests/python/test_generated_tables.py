"""Tables of results in the docs are rendered from bench/results/*.json:
the committed table is what its renderer gives for the committed results."""

from __future__ import annotations

from conftest import REPO, bench_module


def test_the_ladder_table_is_rendered_from_the_committed_results():
    doc = REPO / "docs" / "YOUR_WORKLOAD.md"
    ladder = bench_module("ladder")
    assert list((REPO / "bench" / "results").glob("ladder-*.json")), "no committed ladder result"
    assert ladder.render(doc) == doc.read_text(), "run: python bench/ladder.py --render docs/YOUR_WORKLOAD.md"
