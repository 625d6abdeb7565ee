"""btrq.runner over its pipes, as a worker drives it (python/btrq/runner.py)."""

import json
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = struct.Struct("<IB3x")

FUNCTIONS = textwrap.dedent('''
    import numpy as np
    import btrq

    def summary(times, values, task):
        print("noise on stdout must not break the protocol")
        return {"count": len(values), "sum": np.float64(values.sum()), "first": int(times[0]),
                "stream": task.stream, "ok": True}

    def seed_shaped(values):
        return {"count": len(values), "last": values[-1][0].value, "version": values[-1][1]}

    def with_task(values, task):
        return len(values) + task.attempt

    def series(s, task):
        return {"n": int(s.size), "tz": str(s.index.tz)}

    def early(batches, task):
        for times, values in batches:
            return float(values[0])

    def total(batches, task):
        return sum(int(v.size) for _, v in batches)

    def fails(times, values, task):
        raise ValueError("bad chunk")

    def retry(times, values, task):
        raise btrq.Retry("later")

    def nested(times, values, task):
        return {"a": [1, 2]}

    class Holder:
        @staticmethod
        def method(times, values, task):
            return 7
''')


def frame(kind, payload=b""):
    return HEADER.pack(len(payload), ord(kind)) + payload


def points(times, values):
    n = len(times)
    return frame("P", struct.pack("<Q%dq%dd" % (n, n), n, *times, *values))


class RunnerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        with open(os.path.join(cls.dir.name, "userfns.py"), "w") as f:
            f.write(FUNCTIONS)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "python"), cls.dir.name])
        cls.proc = subprocess.Popen([sys.executable, "-m", "btrq.runner"], env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        kind, hello = cls.read()
        assert kind == "H", kind
        cls.hello = json.loads(hello)

    @classmethod
    def tearDownClass(cls):
        cls.proc.stdin.close()
        cls.assert_exit = cls.proc.wait(timeout=10)
        cls.proc.stdout.close()
        cls.proc.stderr.close()
        cls.dir.cleanup()

    @classmethod
    def read(cls):
        length, kind = HEADER.unpack(cls.proc.stdout.read(HEADER.size))
        return chr(kind), cls.proc.stdout.read(length)

    def run_task(self, function, batches, mode="numpy", task=None, params=None,
                 module="userfns"):
        request = {"function": module + ":" + function, "input": mode,
                   "task": task or {"job": 1, "stream": "abc", "attempt": 2, "version": 9},
                   "params": params or {}}
        data = frame("T", json.dumps(request).encode())
        for times, values in batches:
            data += points(times, values)
        data += frame("E")
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        kind, payload = self.read()
        return kind, json.loads(payload)

    def test_hello(self):
        self.assertEqual(self.hello["pid"], self.proc.pid)

    def test_numpy_across_batches(self):
        kind, r = self.run_task("summary", [([1, 2], [1.5, 2.5]), ([3], [4.0])])
        self.assertEqual(kind, "R")
        self.assertEqual(r, {"count": 3, "sum": 8.0, "first": 1, "stream": "abc", "ok": 1})

    def test_points_mode_runs_a_client_shaped_function(self):
        kind, r = self.run_task("seed_shaped", [([10, 20], [1.0, 2.0])], mode="points")
        self.assertEqual((kind, r), ("R", {"count": 2, "last": 2.0, "version": 9}))
        kind, r = self.run_task("with_task", [([10], [1.0])], mode="points")
        self.assertEqual((kind, r), ("R", {"value": 3}))

    def test_pandas(self):
        kind, r = self.run_task("series", [([0, 10**9], [1.0, 2.0])], mode="pandas")
        self.assertEqual((kind, r), ("R", {"n": 2, "tz": "UTC"}))

    def test_batches_early_return_stays_in_step(self):
        kind, r = self.run_task("early", [([1], [5.0]), ([2], [6.0]), ([3], [7.0])],
                                mode="batches")
        self.assertEqual((kind, r), ("R", {"value": 5.0}))
        kind, r = self.run_task("total", [([1], [5.0]), ([2, 3], [6.0, 7.0])], mode="batches")
        self.assertEqual((kind, r), ("R", {"value": 3}))

    def test_no_points(self):
        kind, r = self.run_task("total", [], mode="batches")
        self.assertEqual((kind, r), ("R", {"value": 0}))

    def test_exception_is_permanent_with_traceback(self):
        kind, r = self.run_task("fails", [([1], [1.0])])
        self.assertEqual(kind, "X")
        self.assertEqual((r["transient"], r["replace"]), (0, 0))
        self.assertEqual((r["type"], r["message"]), ("ValueError", "bad chunk"))
        self.assertIn("userfns.py", r["traceback"])

    def test_retry_is_transient(self):
        kind, r = self.run_task("retry", [([1], [1.0])])
        self.assertEqual((kind, r["transient"], r["type"]), ("X", 1, "Retry"))

    def test_bad_result_names_key_and_type(self):
        kind, r = self.run_task("nested", [([1], [1.0])])
        self.assertEqual((kind, r["type"]), ("X", "TypeError"))
        self.assertIn("'a' is a list", r["message"])

    def test_method_and_missing_function(self):
        self.assertEqual(self.run_task("Holder.method", []), ("R", {"value": 7}))
        kind, r = self.run_task("nope", [([1], [1.0])])
        self.assertEqual((kind, r["type"]), ("X", "AttributeError"))

    def test_a_changed_module_is_reimported_for_the_next_job(self):
        path = os.path.join(self.dir.name, "changing.py")
        with open(path, "w") as f:
            f.write("def f(batches, task):\n    return 1\n")
        request = lambda job: self.run_task("f", [], mode="batches", task={"job": job},
                                            module="changing")
        self.assertEqual(request(101), ("R", {"value": 1}))
        with open(path, "w") as f:
            f.write("def f(batches, task):\n    return 2\n")
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        self.assertEqual(request(101), ("R", {"value": 1}))  # the same job keeps its code
        self.assertEqual(request(102), ("R", {"value": 2}))

    def test_bad_input_mode(self):
        kind, r = self.run_task("summary", [([1], [1.0])], mode="text")
        self.assertEqual((kind, r["type"]), ("X", "ValueError"))


if __name__ == "__main__":
    unittest.main()
