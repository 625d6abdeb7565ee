"""The Python runtime of btrq's `python` analytic: `python3 -m btrq.runner`.

A worker keeps one runner process per executor thread and sends it one task after another
over the runner's stdin and stdout (docs/analytics.md, "python"). Every frame is an 8-byte
header, the payload's length (uint32, little-endian), a kind byte and three zero bytes,
then the payload:

  worker -> runner
    T  the task: one JSON object {"function", "input", "task": {...}, "params": {...}}
    P  points: a uint64 count n, then n int64 times (ns), then n float64 values, all
       little-endian; each P frame is one batch, in time order
    E  the end of the task's points (empty)
  runner -> worker
    H  once, at start: JSON {"pid", "python", "numpy"}
    R  the result: one flat JSON object of numbers and strings
    X  a failure: JSON {"transient": 0|1, "replace": 0|1, "type", "message",
       "traceback"}; replace asks for a fresh interpreter (after a MemoryError)

The runner answers each task with exactly one R or X. It may answer before E (a batched
function that returned early, or an error); it then reads and drops frames up to E, so the
next T starts in step. Arrays reach the function without a Python object per point:
numpy views of the payload's bytes. Anything the function prints goes to stderr (the
worker's log), never into the protocol.
"""

import importlib
import inspect
import json
import os
import struct
import sys
import traceback

import numpy as np

import btrq

HEADER = struct.Struct("<IB3x")
COUNT = struct.Struct("<Q")
# The last frames of a traceback kept in a dead letter.
TRACEBACK_FRAMES = 8
# Exceptions that mean "try again later", besides btrq.Retry.
TRANSIENT = (btrq.Retry, ConnectionError, TimeoutError)
INPUT_MODES = ("numpy", "points", "pandas", "batches")


class ProtocolError(Exception):
    pass


class Channel:
    """Frames over two file descriptors."""

    def __init__(self, rfd, wfd):
        self._r = os.fdopen(rfd, "rb", buffering=0)
        self._w = os.fdopen(wfd, "wb", buffering=0)

    def _read_exact(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self._r.readinto(view[got:])
            if not k:
                raise EOFError
            got += k
        return buf

    def read(self):
        length, kind = HEADER.unpack(self._read_exact(HEADER.size))
        return chr(kind), self._read_exact(length)

    def write(self, kind, payload=b""):
        self._w.write(HEADER.pack(len(payload), ord(kind)) + payload)

    def write_json(self, kind, obj):
        self.write(kind, json.dumps(obj, allow_nan=True, separators=(",", ":")).encode())


def points_of(payload):
    """(times, values) views of a P frame's payload: no copy, no per-point objects."""
    if len(payload) < COUNT.size:
        raise ProtocolError("a P frame shorter than its count")
    (n,) = COUNT.unpack_from(payload)
    if len(payload) != COUNT.size + 16 * n:
        raise ProtocolError("a P frame of %d bytes for %d points" % (len(payload), n))
    times = np.frombuffer(payload, dtype="<i8", count=n, offset=COUNT.size)
    values = np.frombuffer(payload, dtype="<f8", count=n, offset=COUNT.size + 8 * n)
    return times, values


class Task:
    """What a function learns of its task: the stream, the chunk, what was pinned."""

    __slots__ = ("job", "stream", "collection", "name", "tags", "annotations", "start",
                 "end", "version", "earliest", "latest", "attempt", "params")

    def __init__(self, fields, params):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))
        self.params = params
        self.tags = self.tags or {}
        self.annotations = self.annotations or {}

    def __repr__(self):
        return "Task(job=%s, stream=%s, start=%s, end=%s)" % (
            self.job, self.stream, self.start, self.end)


class RawPoint:
    """A point shaped as the BTrDB Python client's: .time (ns) and .value."""

    __slots__ = ("time", "value")

    def __init__(self, time, value):
        self.time = time
        self.value = value

    def __repr__(self):
        return "RawPoint(%d, %r)" % (self.time, self.value)


class Functions:
    """Imports `module:qualname` once, and again for a new job when its file changed."""

    def __init__(self):
        self._modules = {}  # name -> (module, mtime)
        self._job = None
        self._arity = {}

    def resolve(self, spec, job):
        module_name, sep, qualname = spec.partition(":")
        if not sep or not module_name or not qualname:
            raise ValueError("function %r is not module:qualname" % spec)
        if job != self._job:
            self._job = job
            self._reload_changed()
        entry = self._modules.get(module_name)
        if entry is None:
            module = importlib.import_module(module_name)
            entry = self._modules[module_name] = (module, _mtime(module))
        obj = entry[0]
        for part in qualname.split("."):
            obj = getattr(obj, part)
        if not callable(obj):
            raise TypeError("%s is not callable" % spec)
        return obj

    def arity(self, fn):
        key = id(fn)
        if key not in self._arity:
            try:
                params = inspect.signature(fn).parameters.values()
                positional = [p for p in params
                              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
                self._arity[key] = 99 if varargs else len(positional)
            except (TypeError, ValueError):
                self._arity[key] = 99
        return self._arity[key]

    def _reload_changed(self):
        for name, (module, mtime) in list(self._modules.items()):
            now = _mtime(module)
            if now != mtime:
                module = importlib.reload(module)
                self._modules[name] = (module, now)
                self._arity.clear()


def _mtime(module):
    path = getattr(module, "__file__", None)
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


def flat_result(value):
    """The function's return as a flat dict of int, float and str (bools as 0/1)."""
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise TypeError("result key %r is a %s, not a str" % (key, type(key).__name__))
            out[key] = _scalar(key, v)
        return out
    return {"value": _scalar("value", value)}


def _scalar(key, v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, str)):
        if isinstance(v, int) and not -2**63 <= v < 2**63:
            return float(v)
        return v
    raise TypeError("result %r is a %s; a result holds numbers, strings and booleans"
                    % (key, type(v).__name__))


class Runner:
    def __init__(self, channel):
        self.ch = channel
        self.functions = Functions()
        self.ended = False  # E of the current task read

    def batches(self):
        """The current task's P frames as (times, values), up to its E."""
        while True:
            kind, payload = self.ch.read()
            if kind == "E":
                self.ended = True
                return
            if kind != "P":
                raise ProtocolError("a %r frame among the points" % kind)
            yield points_of(payload)

    def gather(self):
        parts = list(self.batches())
        if not parts:
            return np.empty(0, dtype="<i8"), np.empty(0, dtype="<f8")
        if len(parts) == 1:
            return parts[0]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    def call(self, request):
        mode = request.get("input") or "numpy"
        if mode not in INPUT_MODES:
            raise ValueError("input %r is not one of %s" % (mode, ", ".join(INPUT_MODES)))
        task = Task(request.get("task", {}), request.get("params", {}))
        fn = self.functions.resolve(request.get("function", ""), task.job)
        if mode == "batches":
            return fn(self.batches(), task)
        times, values = self.gather()
        if mode == "numpy":
            return fn(times, values, task)
        if mode == "pandas":
            import pandas as pd
            index = pd.to_datetime(times, unit="ns", utc=True)
            return fn(pd.Series(values, index=index, copy=False), task)
        version = task.version
        points = [(RawPoint(t, v), version) for t, v in zip(times.tolist(), values.tolist())]
        return fn(points, task) if self.functions.arity(fn) >= 2 else fn(points)

    def serve_one(self, payload):
        self.ended = False
        try:
            request = json.loads(bytes(payload))
            self.ch.write_json("R", flat_result(self.call(request)))
        except ProtocolError:
            raise
        except BaseException as e:  # noqa: B902: a user's SystemExit is a failure too
            if isinstance(e, KeyboardInterrupt):
                raise
            self.ch.write_json("X", failure(e))
        if not self.ended:
            for _ in self.batches():
                pass

    def serve(self):
        self.ch.write_json("H", {"pid": os.getpid(), "python": sys.version.split()[0],
                                 "numpy": np.__version__})
        while True:
            try:
                kind, payload = self.ch.read()
            except EOFError:
                return 0
            if kind != "T":
                raise ProtocolError("expected a T frame, got %r" % kind)
            self.serve_one(payload)


def failure(e):
    frames = traceback.format_exception(type(e), e, e.__traceback__)
    tail = frames[-TRACEBACK_FRAMES:] if len(frames) > TRACEBACK_FRAMES else frames
    # After a MemoryError the interpreter may be in no state to go on: the worker replaces
    # it, and the task is retried (on a fresh heap, or elsewhere).
    spent = isinstance(e, MemoryError)
    return {"transient": int(spent or isinstance(e, TRANSIENT)), "replace": int(spent),
            "type": type(e).__name__, "message": str(e), "traceback": "".join(tail)}


def main():
    # The protocol keeps fds 0 and 1 to itself; the function's prints go to stderr.
    rfd = os.dup(0)
    wfd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        return Runner(Channel(rfd, wfd)).serve()
    except ProtocolError as e:
        print("btrq.runner: protocol error: %s" % e, file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
