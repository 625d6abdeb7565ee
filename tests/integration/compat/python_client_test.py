#!/usr/bin/python3
"""Compatibility of btrdb-lite with a client that is not ours.

Talks to a real btrdb-lite process through Python gRPC stubs generated from the original
proto/btrdb/v5/btrdb.proto (Debian's python3-grpcio and python3-protobuf), calling the
RPCs the way the BTrDB Python client (btrdb-python v5.28) does: gzip on the channel,
in-band `stat` checked on every message, batches of 50000 points per Insert, KeyOptValue
tags and filters, StreamInfo with the omit flags, and so on (docs/btrdb-api.md).

Usage: python_client_test.py --server PATH/btrdb-lite --stubs DIR
Prints PASS/FAIL per check and exits 1 if any check fails (2 if the server won't start).
"""

import argparse
import math
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid as uuidlib

INSERT_BATCH_SIZE = 50000  # btrdb-python's INSERT_BATCH_SIZE
MIN_TIME = -(16 << 56)
MAX_TIME = (48 << 56) - 1
SECOND = 1_000_000_000

# BTrDB status codes (docs/btrdb-api.md, Status codes).
NO_SUCH_POINT = 401
NO_SUCH_STREAM = 404
SAME_STREAM = 417
WRONG_ARGS = 421
ANNOTATION_VERSION_MISMATCH = 423
BAD_VALUE = 425


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def expect_code(stat, code, what):
    if stat.code != code:
        raise Failure("%s: expected code %d, got %d (%s)" % (what, code, stat.code, stat.msg))


class Server:
    """Runs btrdb-lite on 127.0.0.1:0 and learns its address from the ready line
    ("btrdb-lite: ready on HOST:PORT"); stop() ends it."""

    READY = re.compile(r"btrdb-lite: ready on (\S+)")

    def __init__(self, binary, data_dir):
        self.lines = []
        self.address = None
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            m = self.READY.search(line)
            if m and not self.ready.is_set():
                self.address = m.group(1)
                self.ready.set()
        self.ready.set()  # EOF: wake the waiter, which sees no address

    def wait_ready(self, deadline_s):
        if not self.ready.wait(deadline_s) or self.address is None:
            raise Failure("btrdb-lite not ready within %ds (exit %s): %s" %
                          (deadline_s, self.proc.poll(), "\n".join(self.lines[-20:])))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)


class Compat:
    def __init__(self, pb, stub):
        self.pb = pb
        self.stub = stub
        self.collection = "compat/" + uuidlib.uuid4().hex[:8]
        self.uu = uuidlib.uuid4()
        self.other = uuidlib.uuid4()
        self.start = 1_700_000_000 * SECOND
        self.n = 120_000  # three Insert batches: 50000, 50000, 20000
        self.period = SECOND // 100

    # Helpers shaped like btrdb-python's Endpoint methods.
    def kov(self, d):
        return [self.pb.KeyOptValue(key=k) if v is None else
                self.pb.KeyOptValue(key=k, val=self.pb.OptValue(value=v))
                for k, v in d.items()]

    def create(self, uu, tags, annotations):
        params = self.pb.CreateParams(uuid=uu.bytes, collection=self.collection,
                                      tags=self.kov(tags), annotations=self.kov(annotations))
        return self.stub.Create(params).stat

    def lookup(self, collection, prefix, tags=None, annotations=None):
        params = self.pb.LookupStreamsParams(
            collection=collection, isCollectionPrefix=prefix,
            tags=self.kov(tags or {}), annotations=self.kov(annotations or {}))
        found = []
        for result in self.stub.LookupStreams(params):
            expect_code(result.stat, 0, "LookupStreams")
            found.extend(result.results)
        return found

    def stream_info(self, uu, omit_version, omit_descriptor):
        params = self.pb.StreamInfoParams(uuid=uu.bytes, omitVersion=omit_version,
                                          omitDescriptor=omit_descriptor)
        return self.stub.StreamInfo(params)

    def version(self, uu):
        r = self.stream_info(uu, False, True)
        expect_code(r.stat, 0, "StreamInfo(version)")
        return r.versionMajor

    def insert(self, uu, points, merge="never"):
        policy = {"never": self.pb.NEVER, "equal": self.pb.EQUAL,
                  "retain": self.pb.RETAIN, "replace": self.pb.REPLACE}[merge]
        version = 0
        for i in range(0, len(points), INSERT_BATCH_SIZE):
            batch = [self.pb.RawPoint(time=t, value=v) for t, v in points[i:i + INSERT_BATCH_SIZE]]
            r = self.stub.Insert(self.pb.InsertParams(uuid=uu.bytes, sync=False,
                                                      merge_policy=policy, values=batch))
            expect_code(r.stat, 0, "Insert")
            version = r.versionMajor
        return version

    def values(self, uu, start, end, version=0):
        out = []
        messages = 0
        for r in self.stub.RawValues(self.pb.RawValuesParams(
                uuid=uu.bytes, start=start, end=end, versionMajor=version)):
            expect_code(r.stat, 0, "RawValues")
            messages += 1
            out.extend((p.time, p.value) for p in r.values)
        expect(messages >= 1, "RawValues sent no message")
        return out

    def nearest(self, uu, t, backward):
        r = self.stub.Nearest(self.pb.NearestParams(uuid=uu.bytes, time=t, versionMajor=0,
                                                    backward=backward))
        return r

    def points(self):
        return [(self.start + i * self.period, math.sin(i / 100.0) * 10 + i * 1e-3)
                for i in range(self.n)]

    # The checks, in order; each builds on the previous ones.
    def check_info(self):
        r = self.stub.Info(self.pb.InfoParams())
        expect_code(r.stat, 0, "Info")
        expect(r.majorVersion == 5, "majorVersion %d != 5" % r.majorVersion)
        expect(r.minorVersion < 30, "minorVersion %d >= 30 makes clients use Arrow RPCs" %
               r.minorVersion)
        expect(len(r.proxy.proxyEndpoints) >= 1, "Info.proxy.proxyEndpoints is empty")

    def check_create(self):
        tags = {"name": "compat/voltage", "unit": "V"}
        ann = {"rate": "100", "kind": "voltage"}
        expect_code(self.create(self.uu, tags, ann), 0, "Create")
        expect_code(self.create(self.other, {"name": "compat/current", "unit": "A"}, {}), 0,
                    "Create second")
        expect_code(self.create(self.uu, tags, ann), SAME_STREAM, "Create with an existing uuid")

    def check_list_collections(self):
        found = []
        for r in self.stub.ListCollections(self.pb.ListCollectionsParams(prefix="compat/")):
            expect_code(r.stat, 0, "ListCollections")
            found.extend(r.collections)
        expect(self.collection in found, "%s not in %s" % (self.collection, found))

    def check_lookup(self):
        by_prefix = self.lookup(self.collection[:-2], True)
        uuids = {uuidlib.UUID(bytes=d.uuid) for d in by_prefix}
        expect({self.uu, self.other} <= uuids, "prefix lookup missed a stream")
        expect(not self.lookup(self.collection[:-2], False), "exact lookup matched a prefix")
        exact = self.lookup(self.collection, False, tags={"name": "compat/voltage"})
        expect(len(exact) == 1 and uuidlib.UUID(bytes=exact[0].uuid) == self.uu,
               "exact lookup with a tag filter: %d results" % len(exact))
        d = exact[0]
        expect(d.collection == self.collection, "descriptor collection")
        tags = {t.key: t.val.value for t in d.tags}
        expect(tags.get("unit") == "V", "descriptor tags %s" % tags)
        present = self.lookup(self.collection, False, annotations={"rate": None})
        expect([uuidlib.UUID(bytes=x.uuid) for x in present] == [self.uu],
               "key-present annotation filter")
        none = self.lookup(self.collection, False, tags={"unit": "Hz"})
        expect(not none, "tag filter with another value matched")

    def check_stream_info(self):
        r = self.stream_info(self.uu, False, True)
        expect_code(r.stat, 0, "StreamInfo(omitDescriptor)")
        expect(r.versionMajor > 0, "versionMajor of a new stream is 0")
        m = self.stream_info(self.uu, True, False)
        expect_code(m.stat, 0, "StreamInfo(omitVersion)")
        d = m.descriptor
        expect(d.uuid == self.uu.bytes, "descriptor uuid")
        expect(d.propertyVersion >= 1, "propertyVersion %d" % d.propertyVersion)
        ann = {a.key: a.val.value for a in d.annotations}
        expect(ann == {"rate": "100", "kind": "voltage"}, "annotations %s" % ann)
        expect_code(self.stream_info(uuidlib.uuid4(), False, False).stat, NO_SUCH_STREAM,
                    "StreamInfo of an unknown stream")
        expect_code(self.stream_info(self.uu, True, True).stat, WRONG_ARGS,
                    "StreamInfo with both omit flags")

    def check_insert_and_values(self):
        before = self.version(self.uu)
        pts = self.points()
        v = self.insert(self.uu, pts)
        expect(v >= before, "Insert version %d < %d" % (v, before))
        got = self.values(self.uu, MIN_TIME, MAX_TIME)
        expect(len(got) == self.n, "RawValues returned %d of %d points" % (len(got), self.n))
        expect(got == pts, "RawValues points differ from the inserted ones")
        part = self.values(self.uu, pts[10][0], pts[20][0])
        expect(part == pts[10:20], "RawValues [start, end) is half-open")
        bad = self.stub.Insert(self.pb.InsertParams(
            uuid=self.uu.bytes, values=[self.pb.RawPoint(time=self.start, value=float("nan"))]))
        expect_code(bad.stat, BAD_VALUE, "Insert of NaN")

    def check_merge_policies(self):
        t = self.start - 10 * SECOND
        self.insert(self.other, [(t, 1.0)])
        self.insert(self.other, [(t, 2.0)], merge="never")
        expect(sorted(v for _, v in self.values(self.other, t, t + 1)) == [1.0, 2.0],
               "merge never keeps both points")
        self.insert(self.other, [(t + 1, 1.0)])
        self.insert(self.other, [(t + 1, 3.0)], merge="replace")
        expect([v for _, v in self.values(self.other, t + 1, t + 2)] == [3.0],
               "merge replace keeps the new value")
        self.insert(self.other, [(t + 2, 1.0)])
        self.insert(self.other, [(t + 2, 4.0)], merge="retain")
        expect([v for _, v in self.values(self.other, t + 2, t + 3)] == [1.0],
               "merge retain keeps the old value")

    def check_nearest(self):
        first, second = self.start, self.start + self.period
        last = self.start + (self.n - 1) * self.period
        r = self.nearest(self.uu, first, False)
        expect_code(r.stat, 0, "Nearest forward")
        expect(r.value.time == first, "forward nearest is inclusive")
        r = self.nearest(self.uu, second, True)
        expect_code(r.stat, 0, "Nearest backward")
        expect(r.value.time == first, "backward nearest is exclusive")
        expect(self.nearest(self.uu, MIN_TIME, False).value.time == first, "earliest")
        expect(self.nearest(self.uu, MAX_TIME, True).value.time == last, "latest")
        expect_code(self.nearest(self.uu, first, True).stat, NO_SUCH_POINT,
                    "Nearest backward from the first point")
        expect_code(self.nearest(self.uu, last + 1, False).stat, NO_SUCH_POINT,
                    "Nearest forward after the last point")

    def check_windows(self):
        pw = 30  # about 1.07 s
        start, end = self.start, self.start + self.n * self.period
        total = 0
        for r in self.stub.AlignedWindows(self.pb.AlignedWindowsParams(
                uuid=self.uu.bytes, start=start, end=end, versionMajor=0, pointWidth=pw)):
            expect_code(r.stat, 0, "AlignedWindows")
            for w in r.values:
                expect(w.time % (1 << pw) == 0, "aligned window start %d" % w.time)
                expect(w.count > 0, "empty aligned window sent")
                expect(w.min <= w.mean <= w.max, "window min <= mean <= max")
                total += w.count
        lo, hi = (start >> pw) << pw, (end >> pw) << pw
        inside = sum(1 for t, _ in self.points() if lo <= t < hi)
        expect(total == inside, "aligned windows count %d != %d" % (total, inside))

        width = 10 * SECOND
        starts, total = [], 0
        for r in self.stub.Windows(self.pb.WindowsParams(
                uuid=self.uu.bytes, start=start, end=end, versionMajor=0, width=width, depth=0)):
            expect_code(r.stat, 0, "Windows")
            for w in r.values:
                starts.append(w.time)
                total += w.count
        expect(starts == [start + i * width for i in range(len(starts))],
               "windows start at `start`, every `width`")
        expect(total == self.n, "windows count %d != %d" % (total, self.n))
        bad = next(iter(self.stub.AlignedWindows(self.pb.AlignedWindowsParams(
            uuid=self.uu.bytes, start=start, end=end, pointWidth=64))))
        expect_code(bad.stat, 415, "AlignedWindows with pointwidth 64")

    def check_changes(self):
        v0 = self.version(self.uu)
        t = self.start + self.n * self.period + 100 * SECOND
        v1 = self.insert(self.uu, [(t, 1.5)])
        r = self.stub.Flush(self.pb.FlushParams(uuid=self.uu.bytes))
        expect_code(r.stat, 0, "Flush")
        v1 = max(v1, r.versionMajor, self.version(self.uu))
        expect(v1 > v0, "version did not grow after insert and flush (%d -> %d)" % (v0, v1))
        ranges = []
        for c in self.stub.Changes(self.pb.ChangesParams(uuid=self.uu.bytes, fromMajor=v0,
                                                         toMajor=v1, resolution=20)):
            expect_code(c.stat, 0, "Changes")
            ranges.extend((x.start, x.end) for x in c.ranges)
        expect(any(s <= t < e for s, e in ranges), "Changes misses the new point: %s" % ranges)
        expect(not any(s <= self.start + self.period < e for s, e in ranges),
               "Changes reports unchanged data: %s" % ranges)

    def check_annotations(self):
        d = self.stream_info(self.uu, True, False).descriptor
        pv = d.propertyVersion
        r = self.stub.SetStreamAnnotations(self.pb.SetStreamAnnotationsParams(
            uuid=self.uu.bytes, expectedPropertyVersion=pv,
            changes=self.kov({"note": "checked"}), removals=["kind"]))
        expect_code(r.stat, 0, "SetStreamAnnotations")
        d2 = self.stream_info(self.uu, True, False).descriptor
        ann = {a.key: a.val.value for a in d2.annotations}
        expect(ann == {"rate": "100", "note": "checked"}, "annotations after update %s" % ann)
        expect(d2.propertyVersion > pv, "propertyVersion did not grow")
        stale = self.stub.SetStreamAnnotations(self.pb.SetStreamAnnotationsParams(
            uuid=self.uu.bytes, expectedPropertyVersion=pv, changes=self.kov({"x": "y"})))
        expect_code(stale.stat, ANNOTATION_VERSION_MISMATCH, "stale expectedPropertyVersion")

    def check_delete(self):
        cut = self.start + 1000 * self.period
        before = self.version(self.uu)
        r = self.stub.Delete(self.pb.DeleteParams(uuid=self.uu.bytes, start=self.start, end=cut))
        expect_code(r.stat, 0, "Delete")
        expect(r.versionMajor > before, "Delete did not return a new version")
        left = self.values(self.uu, self.start, self.start + self.n * self.period)
        expect(len(left) == self.n - 1000, "after Delete %d points" % len(left))
        old = self.values(self.uu, self.start, cut, version=before)
        expect(len(old) == 1000, "the version before Delete still holds the data (%d)" % len(old))

    def check_obliterate(self):
        r = self.stub.Obliterate(self.pb.ObliterateParams(uuid=self.other.bytes))
        expect_code(r.stat, 0, "Obliterate")
        expect_code(self.stream_info(self.other, False, True).stat, NO_SUCH_STREAM,
                    "StreamInfo after Obliterate")
        expect(not self.lookup(self.collection, False, tags={"name": "compat/current"}),
               "obliterated stream still listed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--stubs", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.stubs)
    import grpc  # noqa: E402  (Debian python3-grpcio)
    import btrdb_pb2 as pb  # noqa: E402  (generated at build time)
    import btrdb_pb2_grpc as pb_grpc  # noqa: E402

    data_dir = tempfile.mkdtemp(prefix="btrq-compat-")
    server = Server(args.server, data_dir)
    failures = 0
    try:
        try:
            server.wait_ready(20)
        except Failure as e:
            print("FAIL start: %s" % e)
            return 2
        # As btrdb-python v5.28: gzip as the channel's default compression.
        channel = grpc.insecure_channel(server.address,
                                        options=[("grpc.default_compression_algorithm", 2)],
                                        compression=grpc.Compression.Gzip)
        try:
            grpc.channel_ready_future(channel).result(timeout=10)
        except grpc.FutureTimeoutError:
            print("FAIL start: no gRPC connection to %s within 10s" % server.address)
            return 2
        compat = Compat(pb, pb_grpc.BTrDBStub(channel))
        checks = [name for name in dir(Compat) if name.startswith("check_")]
        checks.sort(key=lambda n: Compat.__dict__[n].__code__.co_firstlineno)
        for name in checks:
            label = name[len("check_"):]
            try:
                getattr(compat, name)()
                print("PASS %s" % label)
            except Failure as e:
                failures += 1
                print("FAIL %s: %s" % (label, e))
            except grpc.RpcError as e:
                failures += 1
                print("FAIL %s: gRPC %s: %s" % (label, e.code(), e.details()))
            except Exception:  # a bug in a check must still be reported as a failure
                failures += 1
                print("FAIL %s: %s" % (label, traceback.format_exc()))
            sys.stdout.flush()
        channel.close()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print("%d of %d checks failed" % (failures, len(checks)) if failures else
          "all %d checks passed" % len(checks))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
