"""What the runner's outside sampling costs a plain notebook: the same CPU
notebook (notebooks/weather_pandas.ipynb, training about a minute) under
``nairrcore run`` with and without the sampler, alternating, in one run.
Prints JSON with each run's wall time, the medians and the overhead.

    python bench/runner_overhead.py --data USdata/ [--pairs 3 --epochs 4] [--out x.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from nairrcore.evidence.environment import git_state, machine
from nairrcore.execute import run_notebook
from nairrcore.files import write_text

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "weather_pandas.ipynb"


def wall(run_dir: Path) -> float:
    return json.loads((run_dir / "run_summary.json").read_text())["wall_sec"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the USdata folder")
    p.add_argument("--cities", type=int, default=10)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--out")
    args = p.parse_args()
    params = [f"data_dir={args.data}", f"cities={args.cities}", f"epochs={args.epochs}"]
    runs = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for sample in ((True, False) if i % 2 == 0 else (False, True)):
                run_dir = run_notebook(NOTEBOOK, params=params, out=Path(tmp), quiet=True, sample=sample)
                runs[sample].append(wall(run_dir))
    on, off = statistics.median(runs[True]), statistics.median(runs[False])
    result = {"benchmark": "runner_overhead", "config": vars(args), "machine": machine(), "git": git_state(REPO),
              "wall_sec_sampled": runs[True], "wall_sec_unsampled": runs[False],
              "median_sampled_sec": on, "median_unsampled_sec": off, "overhead": on / off - 1,
              "spread_unsampled": (max(runs[False]) - min(runs[False])) / off, "target_overhead": 0.01}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
