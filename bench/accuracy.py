"""Whether the two sides of a forecasting comparison reach the same accuracy,
and whether their agreement says anything.

Two models that have barely trained agree closely and prove nothing: with the
spec's learning rate (3e-4) and this bench's short schedule (20 epochs of 42
steps), both sides ended four times worse than forecasting tomorrow as today
(tmax MAE 19.5 °F against 4.99) and "agreed within 1.4%". So each side's test
MAE is set against that persistence forecast on the same rows, and the gap
between the sides against the range of nairrcore's own MAE over a few seeds:
on 10 cities at lr 1e-3 the prcp MAE moved by 8% over three seeds while tmax
and tmin moved by about 1.5% (at 3e-3 prcp moved by 33%).
"""

from __future__ import annotations

WITHIN = 0.03
HEADLINE = "tmax"


def verdict(baseline: dict, nairrcore: dict, persistence: dict, other_seeds: dict[int, dict]) -> dict:
    """Test MAEs per target of the baseline, nairrcore (the reported run and
    runs at other seeds, by seed) and persistence, judged: meaningful only if
    both sides beat persistence on the headline target; the same if every
    target is within 3% of the reported run, or, for a target that is not,
    if the baseline lies within 3% of the range of nairrcore's MAE over seeds
    (an accuracy belongs to an implementation, not to one seed)."""
    targets = list(persistence)
    sides = {"baseline": baseline, "nairrcore": nairrcore}
    runs = [nairrcore, *other_seeds.values()]
    beats = {side: {t: mae[t] < persistence[t] for t in targets} for side, mae in sides.items()}
    rel = {t: nairrcore[t] / baseline[t] - 1 for t in targets}
    low = {t: min(m[t] for m in runs) for t in targets}
    high = {t: max(m[t] for m in runs) for t in targets}
    over = [t for t in targets if abs(rel[t]) > WITHIN]
    apart = [t for t in over if not low[t] * (1 - WITHIN) <= baseline[t] <= high[t] * (1 + WITHIN)]
    not_beating = [f"{side} on {t}" for side in sides for t in targets if not beats[side][t]]
    if not all(beats[side][HEADLINE] for side in sides):
        text = f"not meaningful: not better than persistence ({', '.join(not_beating)})"
    elif not over:
        text = f"same accuracy: every target within {WITHIN:.0%}"
    elif not apart:
        text = (f"same accuracy within nairrcore's range over {len(runs)} seeds: "
                + ", ".join(f"{t} {rel[t]:+.1%} (its range {low[t]:.4g}-{high[t]:.4g}, baseline {baseline[t]:.4g})"
                            for t in over))
    else:
        text = "differs: " + ", ".join(f"{t} {rel[t]:+.1%}" for t in apart)
    if not_beating and not text.startswith("not meaningful"):
        text += f"; not better than persistence: {', '.join(not_beating)}"
    return {"verdict": text, "persistence_mae": persistence, "beats_persistence": beats,
            "mae_skill_over_persistence": {side: {t: 1 - mae[t] / persistence[t] for t in targets}
                                           for side, mae in sides.items()},
            "mae_rel_diff": rel, "within": WITHIN,
            "nairrcore_other_seeds": {str(s): m for s, m in other_seeds.items()},
            "nairrcore_mae_range": {t: [low[t], high[t]] for t in targets},
            # (largest / smallest MAE) - 1 over runs that differ only in seed
            "nairrcore_seed_spread": {t: high[t] / low[t] - 1 for t in targets} if len(runs) > 1 else None}
