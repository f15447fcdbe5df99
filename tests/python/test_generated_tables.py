"""Tables of results in the docs are rendered from bench/results/*.json:
the committed table is what its renderer gives for the committed results."""

from __future__ import annotations

import importlib.util

from conftest import REPO


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_ladder_table_is_rendered_from_the_committed_results():
    doc = REPO / "docs" / "YOUR_WORKLOAD.md"
    ladder = _bench("ladder")
    assert list((REPO / "bench" / "results").glob("ladder-*.json")), "no committed ladder result"
    assert ladder.render(doc) == doc.read_text(), "run: python bench/ladder.py --render docs/YOUR_WORKLOAD.md"
