#!/usr/bin/python3
"""The Python baseline of the scan benchmark (docs/performance.md, benchmark 3).

The common pattern of the BTrDB Python client, done with Debian's python3-grpcio and
stubs generated from proto/btrdb/v5/btrdb.proto:

    multiprocessing.Pool(cpu_count()).imap_unordered(stream_quality, uuids)

where each process opens its own gRPC connection, pins the stream's version
(StreamInfo), finds its earliest and latest point (Nearest forward from the minimum
time, backward from the maximum), walks 12-hour chunks from the earliest to the latest
point with RawValues and computes the `quality` metrics of docs/analytics.md per chunk in
plain Python.

Usage: baseline_quality.py --endpoint HOST:PORT --collection C --stubs DIR
                           [--chunk-hours 12] [--processes N]
Prints one JSON line: {"streams", "chunks", "points", "seconds", "points_per_second",
"processes", "mean_score"}.
"""

import argparse
import json
import math
import multiprocessing
import os
import sys
import time

MIN_TIME = -(16 << 56)
MAX_TIME = (48 << 56) - 1
SECOND = 1_000_000_000

_stub = None
_pb = None
_endpoint = None


def _init(endpoint, stubs, chunk_ns):
    """Per process: its own channel (pool initializer)."""
    global _stub, _pb, _endpoint, _chunk_ns
    _chunk_ns = chunk_ns
    sys.path.insert(0, stubs)
    import grpc
    import btrdb_pb2
    import btrdb_pb2_grpc
    _pb = btrdb_pb2
    _endpoint = endpoint
    channel = grpc.insecure_channel(endpoint, options=[
        ("grpc.max_receive_message_length", 64 << 20)])
    _stub = btrdb_pb2_grpc.BTrDBStub(channel)


def _check(stat, what):
    if stat.code != 0:
        raise RuntimeError("%s: BTrDB error %d: %s" % (what, stat.code, stat.msg))


def chunk_quality(times, values, lo, hi, period, gap_factor=2.0, stuck_min=10,
                  vmin=None, vmax=None):
    """The `quality` metrics of one chunk's points (docs/analytics.md, "quality")."""
    count = len(times)
    duplicates = gaps = nonfinite = out_of_range = 0
    longest_stuck = stuck_runs = stuck_points = 0
    n_finite = 0
    total = 0.0
    total_sq = 0.0
    lo_v = math.inf
    hi_v = -math.inf
    prev_t = None
    prev_v = None
    run = 0
    threshold = gap_factor * period
    for i in range(count):
        t = times[i]
        v = values[i]
        if prev_t is not None:
            if t == prev_t:
                duplicates += 1
            elif t - prev_t > threshold:
                gaps += 1
        if v == v and v not in (math.inf, -math.inf):
            n_finite += 1
            total += v
            total_sq += v * v
            if v < lo_v:
                lo_v = v
            if v > hi_v:
                hi_v = v
            if (vmin is not None and v < vmin) or (vmax is not None and v > vmax):
                out_of_range += 1
        else:
            nonfinite += 1
        if prev_v is not None and v == prev_v:
            run += 1
        else:
            if run >= stuck_min:
                stuck_runs += 1
                stuck_points += run
            if run > longest_stuck:
                longest_stuck = run
            run = 1
        prev_t = t
        prev_v = v
    if run >= stuck_min:
        stuck_runs += 1
        stuck_points += run
    if run > longest_stuck:
        longest_stuck = run
    unique = count - duplicates
    expected = int(round((hi - lo) / period)) if hi > lo else 0
    completeness = 1.0 if expected == 0 else min(1.0, unique / expected)
    bad = duplicates + nonfinite + out_of_range + stuck_points
    out = {
        "count": count, "duplicates": duplicates, "unique": unique, "expected": expected,
        "completeness": completeness, "gaps": gaps,
        "missing_seconds": max(0, expected - unique) * period / SECOND,
        "nonfinite": nonfinite, "out_of_range": out_of_range,
        "longest_stuck": longest_stuck, "stuck_runs": stuck_runs,
        "score": completeness * max(0.0, 1.0 - bad / max(count, 1)),
    }
    if n_finite:
        mean = total / n_finite
        out.update(min=lo_v, max=hi_v, mean=mean,
                   stddev=math.sqrt(max(0.0, total_sq / n_finite - mean * mean)))
    return out


def stream_quality(uuid_bytes):
    """One stream, as the Python client's users write it. Returns (chunks, points, sum of
    scores)."""
    pb = _pb
    info = _stub.StreamInfo(pb.StreamInfoParams(uuid=uuid_bytes))
    _check(info.stat, "StreamInfo")
    version = info.versionMajor
    rate = None
    for kv in info.descriptor.annotations:
        if kv.key == "rate" and kv.val.value:
            rate = float(kv.val.value)
    first = _stub.Nearest(pb.NearestParams(uuid=uuid_bytes, time=MIN_TIME,
                                           versionMajor=version, backward=False))
    _check(first.stat, "Nearest")
    last = _stub.Nearest(pb.NearestParams(uuid=uuid_bytes, time=MAX_TIME,
                                          versionMajor=version, backward=True))
    _check(last.stat, "Nearest")
    earliest, latest = first.value.time, last.value.time
    chunk = _chunk_ns
    chunks = points = 0
    score_sum = 0.0
    t = earliest
    while t <= latest:
        times = []
        values = []
        for resp in _stub.RawValues(pb.RawValuesParams(uuid=uuid_bytes, start=t,
                                                       end=t + chunk, versionMajor=version)):
            _check(resp.stat, "RawValues")
            for p in resp.values:
                times.append(p.time)
                values.append(p.value)
        period = SECOND / rate if rate else _median_period(times)
        lo = max(t, earliest)
        hi = min(t + chunk, latest + period)
        q = chunk_quality(times, values, lo, hi, period)
        score_sum += q["score"]
        chunks += 1
        points += len(times)
        t += chunk
    return chunks, points, score_sum


def _median_period(times):
    d = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    return d[len(d) // 2] if d else SECOND


_chunk_ns = 12 * 3600 * SECOND


def main():
    global _chunk_ns
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--collection", required=True)
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--chunk-hours", type=float, default=12)
    ap.add_argument("--processes", type=int, default=multiprocessing.cpu_count())
    args = ap.parse_args()
    _chunk_ns = int(args.chunk_hours * 3600 * SECOND)

    _init(args.endpoint, args.stubs, _chunk_ns)
    uuids = []
    for resp in _stub.LookupStreams(_pb.LookupStreamsParams(collection=args.collection,
                                                            isCollectionPrefix=True)):
        _check(resp.stat, "LookupStreams")
        uuids.extend(d.uuid for d in resp.results)

    start = time.monotonic()
    # spawn, not fork: the parent already has a gRPC channel (gRPC and fork do not mix);
    # each child builds its own channel in the initializer.
    ctx = multiprocessing.get_context("spawn")
    chunks = points = 0
    score_sum = 0.0
    with ctx.Pool(args.processes, initializer=_init,
                  initargs=(args.endpoint, args.stubs, _chunk_ns)) as pool:
        for c, p, s in pool.imap_unordered(stream_quality, uuids):
            chunks += c
            points += p
            score_sum += s
    seconds = time.monotonic() - start
    print(json.dumps({"streams": len(uuids), "chunks": chunks, "points": points,
                      "seconds": round(seconds, 3),
                      "points_per_second": round(points / seconds) if seconds > 0 else 0,
                      "processes": args.processes,
                      "mean_score": score_sum / chunks if chunks else None}))


if __name__ == "__main__":
    main()
