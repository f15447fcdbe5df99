"""Tables of results in the docs are rendered from bench/results/*.json:
the committed table is what its renderer gives for the committed results."""

from __future__ import annotations

import json
import shutil

from conftest import REPO, bench_module


def test_the_ladder_table_is_rendered_from_the_committed_results():
    doc = REPO / "docs" / "YOUR_WORKLOAD.md"
    ladder = bench_module("ladder")
    assert list((REPO / "bench" / "results").glob("ladder-*.json")), "no committed ladder result"
    assert ladder.render(doc) == doc.read_text(), "run: python bench/ladder.py --render docs/YOUR_WORKLOAD.md"


def test_the_results_tables_are_rendered_from_the_committed_results():
    tables = bench_module("tables")
    for doc in tables.DOCS:
        assert tables.render(doc) == doc.read_text(), f"{doc}: run python bench/tables.py"
    rows = tables.table().splitlines()[2:]
    assert len(rows) >= len(list((REPO / "bench" / "results").glob("*.json"))) - 2  # all but profile and ladder
    assert all(row.count("|") == 7 for row in rows)


def test_a_results_table_follows_the_results(tmp_path, monkeypatch):
    tables = bench_module("tables")
    results = tmp_path / "results"
    shutil.copytree(REPO / "bench" / "results", results)
    monkeypatch.setattr(tables, "RESULTS", results)
    doc = tmp_path / "README.md"
    doc.write_text(f"intro\n{tables.BEGIN}\nold\n{tables.END}\nrest\n")
    before = tables.render(doc)
    path = results / "forecasting-cpu-amd-epyc-zen4-2core.json"
    d = json.loads(path.read_text())
    d["speedup"]["end_to_end"] = 2.5  # the run fell short of its 3x target
    d["reported_round"] = {"from": "all rounds (none steady)", "round": 0, "steady_rounds": 0}
    path.write_text(json.dumps(d))
    after = tables.render(doc)
    assert before != after and "pandas + DataLoader (no steady round) | 2.50× | ≥ 3.00× | no |" in after
    assert after.startswith("intro\n") and after.endswith("\nrest\n")
