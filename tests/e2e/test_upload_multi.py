# SPDX-License-Identifier: MIT
"""Several devices in one `otakit upload`: one process, one event loop, uploads in parallel, a
summary table, and an exit code that reports any failure."""

import json
import os
import tempfile
import time
import unittest

import otk

KB = 1024


def upload(*args, timeout=60):
    return otk.run("upload", *args, timeout=timeout)


class UploadMulti(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-upload-multi-")
        self.tmp = self._tmp.name
        self.app = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.app, "esp32", "9.1.0", 256 * KB)

    def tearDown(self):
        self._tmp.cleanup()

    def devices(self, extra=()):
        """Three esp32 devices: PBKDF2 password, MD5 password, no password."""
        kinds = [("pbkdf2", "pw"), ("md5", "pw"), (None, None)]
        return [otk.start_device(self.tmp, profile="esp32", auth_variant=v, password=p,
                                 extra=["--once"] + list(extra),
                                 flash=os.path.join(self.tmp, "dev%d.flash" % i))
                for i, (v, p) in enumerate(kinds)]

    def test_three_devices_with_summary(self):
        devs = self.devices()
        try:
            targets = os.path.join(self.tmp, "targets.txt")
            with open(targets, "w") as f:
                f.write("# the third one\n127.0.0.1:%d\n" % devs[2].port)
            cp = upload("-i", "127.0.0.1:%d" % devs[0].port, "-i", "127.0.0.1:%d" % devs[1].port,
                        "--targets", targets, "-a", "pw", "-f", self.app)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            for d in devs:
                self.assertEqual(d.wait_exit(30), 0, d.stderr())
        finally:
            for d in devs:
                d.stop()
        rows = [line.split() for line in cp.stdout.splitlines()
                if line.startswith("127.0.0.1")]
        self.assertEqual(len(rows), 3, cp.stdout)
        for row in rows:
            self.assertEqual(row[1], "ok")
            self.assertEqual(row[2], str(256 * KB))
        self.assertIn("TARGET", cp.stdout)
        self.assertIn("3 of 3 uploads succeeded", cp.stdout)
        for d in devs:
            info = otk.inspect(d.flash)
            self.assertEqual(info["boot_version"], "9.1.0")

    def test_one_failure_fails_the_run(self):
        devs = self.devices()
        devs.pop().stop()  # two are enough here
        dead = otk.free_port("udp")
        try:
            cp = upload("-i", "127.0.0.1:%d" % devs[0].port, "-i", "127.0.0.1:%d" % dead,
                        "-i", "127.0.0.1:%d" % devs[1].port, "-a", "pw", "-t", "1",
                        "--retries", "0", "--json", "-f", self.app)
            self.assertEqual(cp.returncode, 5, cp.stdout + cp.stderr)
            for d in devs:
                self.assertEqual(d.wait_exit(30), 0, d.stderr())
        finally:
            for d in devs:
                d.stop()
        events = [json.loads(x) for x in cp.stdout.splitlines()]
        results = {e["target"] + ":%d" % i: e for i, e in
                   enumerate(e for e in events if e["event"] == "result")}
        self.assertEqual(len(results), 3)
        self.assertEqual(sorted(e["error"] or "ok" for e in results.values()),
                         ["no-answer", "ok", "ok"])
        self.assertEqual(events[-1], dict(events[-1], event="summary", targets=3, ok=2,
                                          failed=1, exit_code=5))
        # with --json the table goes to stderr, the failed row names its cause
        self.assertRegex(cp.stderr, r"127\.0\.0\.1:%d +no-answer .*nothing listens" % dead)

    def test_uploads_run_in_parallel(self):
        # with realistic flash timing an upload takes ~1.5 s; three in parallel must not take
        # three times as long
        one = otk.start_device(self.tmp, profile="esp32", extra=["--once", "--flash-timing",
                                                                   "realistic"],
                               flash=os.path.join(self.tmp, "single.flash"))
        with one:
            t0 = time.monotonic()
            cp = upload("-i", "127.0.0.1", "-p", one.port, "-f", self.app)
            single = time.monotonic() - t0
            self.assertEqual(cp.returncode, 0, cp.stderr)
        devs = self.devices(extra=["--flash-timing", "realistic"])
        try:
            t0 = time.monotonic()
            cp = upload(*sum((["-i", "127.0.0.1:%d" % d.port] for d in devs), []),
                        "-a", "pw", "-f", self.app)
            triple = time.monotonic() - t0
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        finally:
            for d in devs:
                d.stop()
        self.assertLess(triple, 2 * single, "one: %.2f s, three: %.2f s" % (single, triple))


if __name__ == "__main__":
    otk.main()
