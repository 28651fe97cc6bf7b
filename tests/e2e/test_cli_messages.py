# SPDX-License-Identifier: MIT
"""Messages a newcomer meets first: a mistyped command or flag gets "did you mean ...", a busy
port names the fix, and the device's status line shows real units (bytes below 1 KB) and a
rate only when one could be measured."""

import os
import re
import socket
import tempfile
import unittest

import otk
import pyclient


class Typos(unittest.TestCase):
    def assertUsage(self, args, text):
        cp = otk.run(*args)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn(text, cp.stderr)
        return cp

    def test_subcommand(self):
        self.assertUsage(["uplaod"], "unknown command 'uplaod'; did you mean 'upload'?")
        self.assertUsage(["devcie"], "did you mean 'device'?")
        self.assertUsage(["--verison"], "did you mean '--version'?")
        cp = self.assertUsage(["frobnicate"], "unknown command 'frobnicate'")
        self.assertNotIn("did you mean", cp.stderr)

    def test_every_subcommands_flags(self):
        cases = [
            (["upload", "--auht", "pw", "-i", "127.0.0.1", "-f", "x.bin"], "'--auth'"),
            (["upload", "-i", "127.0.0.1", "-f", "x.bin", "--retires=3"], "'--retries'"),
            (["device", "--auth-varaint", "md5"], "'--auth-variant'"),
            (["device", "--prot", "0"], "'--port'"),
            (["list", "--jsno"], "'--json'"),
            (["image", "--chp", "esp32"], "'--chip'"),
            (["inspect", "--jsn", "x.flash"], "'--json'"),
        ]
        for args, hint in cases:
            self.assertUsage(args, "did you mean %s?" % hint)
        # nothing close: no guess
        cp = self.assertUsage(["device", "--frobnicate"], "unknown option '--frobnicate'")
        self.assertNotIn("did you mean", cp.stderr)


class DeviceMessages(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-msg-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name

    def test_busy_port_names_the_fix(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        with s:
            port = s.getsockname()[1]
            cp = otk.run("device", "--port", port, "--flash", os.path.join(self.tmp, "d.flash"))
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("cannot bind UDP 127.0.0.1:%d: Address already in use" % port, cp.stderr)
        self.assertIn("--port N, or --port 0 for any free one", cp.stderr)

    def status_lines(self, dev):
        return [l for l in dev.stderr().splitlines() if l.startswith("OTA ")]

    def test_status_line_units_and_rate(self):
        dev = otk.start_device(self.tmp, profile="esp32")
        with dev:
            # a 28-byte filesystem image: bytes, not "0/0 KB"
            start = len(dev.events)
            r = pyclient.upload("127.0.0.1", dev.port, bytes(range(28)), cmd=pyclient.SPIFFS)
            self.assertTrue(r.ok, r)
            dev.wait_event("boot", start=start)  # rebooted: ready for the next upload
            lines = self.status_lines(dev)
            self.assertTrue(lines, dev.stderr())
            self.assertRegex(lines[-1], r"^OTA 100%  (\d+ B/s  )?28/28 B$")
            # a 1 MB image: KB; a rate, if any, is a measured one
            n = len(lines)
            data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "2.0.0", 1 << 20)
            r = pyclient.upload("127.0.0.1", dev.port, data, stream=True)
            self.assertTrue(r.ok, r)
            dev.wait_event("boot", where=lambda e: e["version"] == "2.0.0")
            lines = self.status_lines(dev)[n:]
            self.assertRegex(lines[-1], r"^OTA 100%  (\d+ K?B/s  )?1024/1024 KB$")
        for line in self.status_lines(dev):
            self.assertNotRegex(line, r"  0 K?B/s|0/0 KB")
        for ev in dev.find("progress"):
            self.assertTrue(ev["rate_kbs"] is None or ev["rate_kbs"] > 0, ev)

    def test_status_line_rate_once_measurable(self):
        # realistic flash timing: a 64 KB block erase alone takes 150 ms, so the rate shows
        dev = otk.start_device(self.tmp, profile="esp32", extra=["--flash-timing", "realistic"])
        with dev:
            data = otk.make_image(os.path.join(self.tmp, "b.bin"), "esp32", "2.1.0", 64 * 1024)
            r = pyclient.upload("127.0.0.1", dev.port, data, stream=True)
            self.assertTrue(r.ok, r)
            dev.wait_event("end")
        last = self.status_lines(dev)[-1]
        m = re.match(r"^OTA 100%  (\d+) KB/s  64/64 KB$", last)
        self.assertTrue(m, last)
        self.assertGreater(int(m.group(1)), 0)
        self.assertGreater(dev.find("progress")[-1]["rate_kbs"], 0)


if __name__ == "__main__":
    otk.main()
