"""From measured points to claims: where one model's tokens/s overtakes another's, and how cost grows with length."""

from __future__ import annotations

import math

from compare.benchmark.measure import length_exponents

__all__ = ["crossover", "length_exponents", "tokens_per_s_by_length"]


def tokens_per_s_by_length(points: list[dict], model: str) -> dict[int, float]:
    """Raw-loop tokens/s of ``model`` at each length it was measured at."""
    return {p["seq_len"]: p["raw_tokens_per_s"] for p in points if p["model"] == model and p.get("raw_tokens_per_s")}


def crossover(points: list[dict], model: str, baseline: str) -> dict:
    """Where ``model`` starts training more tokens/s than ``baseline``, interpolated in log-log between lengths.

    Between two measured lengths log(tokens/s) of each model is taken as linear in log(T), so their log-ratio is
    too, and its zero is the crossing. ``length`` is the first length above which ``model`` stays ahead, or None.
    """
    a, b = tokens_per_s_by_length(points, model), tokens_per_s_by_length(points, baseline)
    lengths = sorted(set(a) & set(b))
    if not lengths:
        return {"model": model, "baseline": baseline, "lengths": [], "length": None, "crossings": [],
                "statement": f"no length where both {model} and {baseline} were measured"}
    r = [math.log(a[t] / b[t]) for t in lengths]
    crossings = []
    for (t1, r1), (t2, r2) in zip(zip(lengths, r), zip(lengths[1:], r[1:])):
        if (r1 < 0 <= r2) or (r1 >= 0 > r2):
            at = math.exp(math.log(t1) + (math.log(t2) - math.log(t1)) * r1 / (r1 - r2)) if r1 != r2 else t1
            crossings.append({"length": at, "between": [t1, t2], "ahead_above": model if r2 >= 0 else baseline})
    lo, hi = lengths[0], lengths[-1]
    length = crossings[-1]["length"] if crossings and crossings[-1]["ahead_above"] == model else None
    if all(x >= 0 for x in r):
        statement = f"{model} is ahead of {baseline} at every measured length ({lo}..{hi}): the crossover is below {lo}"
    elif all(x < 0 for x in r):
        statement = f"none within the measured range: {baseline} is ahead of {model} at every length {lo}..{hi}"
    elif length is not None:
        statement = (f"{model} trains more tokens/s than {baseline} above T ~ {length:,.0f} "
                     f"(between {crossings[-1]['between'][0]:,} and {crossings[-1]['between'][1]:,})")
    else:
        last = crossings[-1]
        statement = (f"{baseline} is ahead again above T ~ {last['length']:,.0f} "
                     f"(between {last['between'][0]:,} and {last['between'][1]:,}): no length above which {model} "
                     f"stays ahead within {lo}..{hi}")
    return {"model": model, "baseline": baseline, "lengths": lengths, "log_ratio": r, "length": length,
            "crossings": crossings, "statement": statement}
