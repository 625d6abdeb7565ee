#!/usr/bin/env python3
"""The `quality` analytic as a script for btrq's `exec` analytic (docs/analytics.md).

Use it as a job's analytic `exec` with params such as
    command = "/usr/bin/python3 /opt/btrq/examples/quality.py", rate = 30, min = 0, max = 250
on workers whose config allows the interpreter (exec is off otherwise):
    worker:
      exec:
        commands: ["/usr/bin/python3"]

Protocol: line 1 of stdin is the task context as JSON; every further line is one point,
"<time ns>,<value>"; the result is one JSON object on stdout.

It follows the definitions of the built-in C++ `quality` (docs/design.md, "Analytics")
and reads the same params (rate, period_ns, gap_factor, min, max, stuck_min). It differs
from the C++ analytic in these ways:
  * `expected` is computed in floating point, so with a fractional period (e.g. 30 Hz)
    it may differ by one where (hi - lo) / P lies within rounding error of a half; the
    C++ analytic uses exact integer arithmetic whenever P is a rational number of ns.
  * mean and stddev are accumulated point by point (Welford), so they may differ from the
    C++ results in the last few bits.
  * It is about two orders of magnitude slower (about 1 us per point against a few ns).
  * Params are checked only as far as needed to run: a bad param raises and the task
    fails permanently instead of being rejected when the job is submitted.
"""

import json
import math
import statistics
import sys


def main():
    ctx = json.loads(sys.stdin.readline())
    params = ctx.get("params", {})
    rate = float(params["rate"]) if "rate" in params else None
    period_ns = int(params["period_ns"]) if "period_ns" in params else None
    gap_factor = float(params.get("gap_factor", 2))
    lower = float(params["min"]) if "min" in params else -math.inf
    upper = float(params["max"]) if "max" in params else math.inf
    stuck_min = int(params.get("stuck_min", 10))

    period = float(period_ns) if period_ns else (1e9 / rate if rate else None)
    gap_limit = gap_factor * period if period else None
    intervals = [] if period is None else None  # kept only to find the median period

    count = duplicates = gaps = nonfinite = out_of_range = 0
    run = longest_stuck = stuck_runs = stuck_points = 0
    finite = 0
    mean = m2 = 0.0
    vmin, vmax = math.inf, -math.inf
    prev_t = prev_v = None

    for line in sys.stdin:
        t_text, v_text = line.split(",")
        t, v = int(t_text), float(v_text)
        count += 1
        if prev_t is not None:
            dt = t - prev_t
            if dt == 0:
                duplicates += 1
            elif intervals is not None:
                intervals.append(dt)
            elif dt > gap_limit:
                gaps += 1
        if prev_t is not None and v == prev_v:  # NaN never equals NaN
            run += 1
        else:
            longest_stuck = max(longest_stuck, run)
            if run >= stuck_min:
                stuck_runs += 1
                stuck_points += run
            run = 1
        prev_t, prev_v = t, v
        if math.isfinite(v):
            if v < lower or v > upper:
                out_of_range += 1
            vmin, vmax = min(vmin, v), max(vmax, v)
            finite += 1
            delta = v - mean
            mean += delta / finite
            m2 += delta * (v - mean)
        else:
            nonfinite += 1
    longest_stuck = max(longest_stuck, run)
    if run >= stuck_min:
        stuck_runs += 1
        stuck_points += run

    unique = count - duplicates
    if intervals:
        period = statistics.median(intervals)
        gaps = sum(1 for dt in intervals if dt > gap_factor * period)

    missing_seconds = 0.0
    if period is None:
        expected = unique  # no rate and fewer than two distinct times: P is unknown
    else:
        lo, hi = ctx["start"], ctx["end"]
        earliest, latest = ctx["stream_earliest"], ctx["stream_latest"]
        if not (earliest == 0 and latest == 0) and latest >= earliest:
            lo = max(lo, earliest)
            hi = min(hi, latest + period)
        expected = math.floor((hi - lo) / period + 0.5) if hi > lo else 0
        missing_seconds = max(0, expected - unique) * period / 1e9

    completeness = 1.0 if expected == 0 else min(1.0, unique / expected)
    bad = duplicates + nonfinite + out_of_range + stuck_points
    score = completeness * max(0.0, 1.0 - bad / max(count, 1))

    result = {
        "count": count,
        "expected": expected,
        "completeness": completeness,
        "gaps": gaps,
        "missing_seconds": missing_seconds,
        "duplicates": duplicates,
        "unique": unique,
        "nonfinite": nonfinite,
        "out_of_range": out_of_range,
        "longest_stuck": longest_stuck,
        "stuck_runs": stuck_runs,
    }
    if finite:
        result.update(min=vmin, max=vmax, mean=mean, stddev=math.sqrt(m2 / finite))
    result["score"] = score
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
