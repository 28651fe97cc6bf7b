# SPDX-License-Identifier: MIT
"""Resume over the native protocol (otakit's extension, capability RESUME): `otakit upload`
against `otakit device` through a TCP relay on 127.0.0.1 that resets the first connection after
60 % of the image. The uploader retries on its own, the device names the offset where its flash
ends, only the rest goes out again, the new image boots, and the flash ends byte for byte as
after an uninterrupted upload. With --no-resume (and for an ESPHome-era client's first try) the
bytes and the outcome are the old ones."""

import json
import os
import tempfile
import unittest

import otk
from droprelay import DropRelay

SIZE = 1300 * 1000  # the 1.3 MB
CUT = SIZE * 60 // 100
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def result_event(stdout):
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    results = [e for e in events if e.get("event") == "result"]
    return results[-1], events


class Resume(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-resume-")
        self.tmp = self._tmp.name
        self.path = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.path, "esp32", "2.0.0", SIZE)

    def tearDown(self):
        self._tmp.cleanup()

    def device(self, name, *extra):
        return otk.start_device(self.tmp, flash=os.path.join(self.tmp, name + ".flash"),
                                extra=["--no-mdns", "--protocol", "esphome"] + list(extra))

    def upload(self, port, *extra):
        return otk.run("upload", "-i", "127.0.0.1", "-p", port, "-f", self.path, "-d", "--json",
                       "--protocol", "esphome", *extra, timeout=120)

    def assert_boots(self, dev):
        boot = dev.wait_event("boot", timeout=30, where=lambda ev: ev["slot"] == 1)
        self.assertEqual(boot["version"], "2.0.0")

    def dropped_upload(self, dev, *extra):
        relay = DropRelay(dev.port, CUT)
        try:
            cp = self.upload(relay.port, *extra)
        finally:
            relay.close()
        self.assertTrue(relay.dropped, "the relay never cut the connection")
        self.assertEqual(relay.connections, 2, cp.stderr)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp

    def test_drop_at_60_percent_resumes(self):
        with self.device("resumed") as dev:
            # resume alone (otakit upload would also ask for DEFLATE: test_deflate covers both)
            cp = self.dropped_upload(dev, "--no-compress")
            self.assert_boots(dev)
        res, events = result_event(cp.stdout)
        resumed = [e for e in events if e.get("event") == "resumed"]
        self.assertEqual(len(resumed), 1, cp.stdout[-2000:])
        offset = resumed[0]["offset"]
        # whole 4 KB sectors, at most the bytes the relay let through
        self.assertEqual(offset % 4096, 0)
        self.assertLessEqual(offset, CUT)
        self.assertGreater(offset, CUT - 64 * 1024)
        self.assertIn("granted 01", cp.stderr)
        self.assertEqual(res["image_bytes"], SIZE)
        self.assertEqual(res["attempts"], 2)
        # the target: at most 5 % of the image sent again
        again = res["wire_bytes"] - SIZE
        self.assertGreaterEqual(again, 0)
        self.assertLessEqual(again, SIZE * 5 // 100, res)
        # plain output says so too
        with self.device("plain") as dev:
            relay = DropRelay(dev.port, CUT)
            try:
                cp2 = otk.run("upload", "-i", "127.0.0.1", "-p", relay.port, "-f", self.path,
                              "--protocol", "esphome", timeout=120)
            finally:
                relay.close()
            self.assertEqual(cp2.returncode, 0, cp2.stderr)
            self.assertRegex(cp2.stderr, r"resumed at (5[0-9]|60) %")
            self.assert_boots(dev)
        # the same image in one go, on a fresh device: the same flash, byte for byte
        with self.device("whole") as dev:
            cp3 = self.upload(dev.port)
            self.assertEqual(cp3.returncode, 0, cp3.stderr)
            self.assert_boots(dev)
        res3, _ = result_event(cp3.stdout)
        self.assertEqual(res3["wire_bytes"], SIZE)
        whole = otk.file_bytes(os.path.join(self.tmp, "whole.flash"))
        resumed_flash = otk.file_bytes(os.path.join(self.tmp, "resumed.flash"))
        self.assertEqual(len(whole), len(resumed_flash))
        self.assertTrue(whole == resumed_flash, "the resumed update wrote other bytes")

    def test_device_fault_drop_resumes(self):
        # the emulator's own fault stage on the native connection (otakit device --fault drop:N):
        # the reset comes from the device's side, N bytes into the connection
        with self.device("fault", "--fault", "drop:%d" % CUT) as dev:
            cp = self.upload(dev.port)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assert_boots(dev)
        res, events = result_event(cp.stdout)
        self.assertEqual(res["attempts"], 2, cp.stderr)
        self.assertEqual(len([e for e in events if e.get("event") == "resumed"]), 1, cp.stderr)
        self.assertLessEqual(res["wire_bytes"] - SIZE, SIZE * 5 // 100, res)

    def test_no_resume_restarts_from_zero(self):
        with self.device("restart") as dev:
            cp = self.dropped_upload(dev, "--no-resume", "--no-compress")
            self.assert_boots(dev)
        res, events = result_event(cp.stdout)
        self.assertEqual([e for e in events if e.get("event") == "resumed"], [])
        self.assertNotIn("otakit extension", cp.stderr)  # no 0x80 bit: ESPHome's bytes
        self.assertGreaterEqual(res["wire_bytes"], SIZE + CUT - 64 * 1024)

    def test_noise_resumes(self):
        with self.device("noise", "--key", KEY) as dev:
            cp = self.dropped_upload(dev, "--key", KEY)
            self.assert_boots(dev)
        self.assertIn("Noise handshake done", cp.stderr)
        res, events = result_event(cp.stdout)
        self.assertEqual(len([e for e in events if e.get("event") == "resumed"]), 1)
        self.assertLessEqual(res["wire_bytes"] - SIZE, SIZE * 5 // 100, res)


if __name__ == "__main__":
    otk.main()
