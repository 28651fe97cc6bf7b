# SPDX-License-Identifier: MIT
"""Network faults injected by `otakit device --fault` against `otakit upload`: the CI form of
bench/faults (a dozen seeded trials covering every kind), plus the failures the uploader cannot
overcome, which it must report with the right exit code while the device stays usable."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

import otk

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_CONNECT = 8
DROPPED = 15
# magic, features, otakit's caps ("01 01": RESUME asked), type, size, MD5: before the image
NATIVE_HEADER = 5 + 1 + 2 + 1 + 4 + 32


class FaultMatrix(unittest.TestCase):
    def test_seeded_trials(self):
        """18 trials (each fault kind twice, random profile, link and password) and 8 native
        ones with resume (bench/faults --native): every upload
        completes or reports its failure, none claims a success the device did not boot, no
        device ends up with a partial image, every device takes the next upload."""
        cp = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "faults"), "18",
                             "--native", "8", "--seed", "7", "--jobs", "4", "--otakit",
                             otk.OTAKIT], capture_output=True, text=True, timeout=300)
        out = cp.stdout + cp.stderr
        m = re.search(r"^faults: (\d+) trials, (\d+) completed, (\d+) reported failures, "
                      r"(\d+) false successes$", cp.stdout, re.M)
        self.assertIsNotNone(m, out)
        trials, completed, failed, false_ok = map(int, m.groups())
        self.assertEqual(trials, 18 + 8, out)
        self.assertEqual(false_ok, 0, out)
        self.assertEqual(cp.returncode, 0, out)  # no corrupt boot, no device left stuck
        self.assertIn("faults fired in 26 of 26 trials", out)
        # the native trials (a relay drops or corrupts the connection): resumed, never a false
        # success
        m = re.search(r"^native protocol: 8 trials, (\d+) resumed at least once .* (\d+) false "
                      r"successes$", cp.stdout, re.M)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(int(m.group(1)), 1, out)
        self.assertEqual(int(m.group(2)), 0, out)
        # every fault here is transient: the default retries get through them
        self.assertGreaterEqual(completed, 17, out)


class Unrecoverable(unittest.TestCase):
    def test_refused_connections_reported_then_ready(self):
        """The device cannot connect back (3 refusals: all its tries): the uploader reports
        "no-connect-back" (exit 8) without retrying, the device still runs its old image, and
        the next upload goes through."""
        with tempfile.TemporaryDirectory() as tmp:
            img = os.path.join(tmp, "fw.bin")
            otk.make_image(img, version="4.5.6", size=100000)
            dev = otk.start_device(tmp, extra=["--fault", "refuse-connect:3", "--link", "lan"])
            with dev:
                cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", img, "-t", "3",
                             timeout=60)
                self.assertEqual(cp.returncode, NO_CONNECT, cp.stderr)
                self.assertIn("never connected back", cp.stderr)
                errs = dev.find("error")
                self.assertEqual(len(errs), 1, dev.events)
                self.assertEqual(errs[0]["ota_error"], 2)  # OTA_CONNECT_ERROR
                fired = [e for e in dev.find("log") if e["text"].startswith("fault refuse")]
                self.assertEqual(len(fired), 3)
                cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", img, timeout=60)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                dev.wait_event("confirm", where=lambda e: e["version"] == "4.5.6")
            info = otk.inspect(dev.flash)
            self.assertEqual(info["boot_version"], "4.5.6")

    def test_long_stall_device_gives_up_uploader_retries(self):
        """The link goes silent for 6 s: the device gives up after about 4 s ("Stream Read
        Timeout"), the uploader takes that as a stall and uploads again, which works."""
        with tempfile.TemporaryDirectory() as tmp:
            img = os.path.join(tmp, "fw.bin")
            otk.make_image(img, version="4.5.7", size=100000)
            dev = otk.start_device(tmp, extra=["--fault", "stall:6:30000", "--link", "wifi"])
            with dev:
                cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", img, "--json",
                             timeout=60)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertIn('"event":"retry"', cp.stdout)
                self.assertIn("stalled", cp.stdout)
                errs = dev.find("error")
                self.assertEqual([e["text"] for e in errs], ["Stream Read Timeout"], dev.events)
                self.assertEqual(errs[0]["bytes"], 30000)  # exactly the bytes before the stall
                dev.wait_event("confirm", where=lambda e: e["version"] == "4.5.7")


    def test_native_drop_reported_old_image_boots(self):
        """The native protocol's connection goes through the fault stage too (its own byte
        count): a drop at byte 50000 of `otakit upload --protocol esphome` without retries is
        reported as "dropped" (exit 15) with the byte the device had acknowledged, the device
        stops at the bytes before N and keeps booting its old image."""
        with tempfile.TemporaryDirectory() as tmp:
            img = os.path.join(tmp, "fw.bin")
            size = 300 * 1024
            otk.make_image(img, version="4.5.8", size=size)
            dev = otk.start_device(tmp, extra=["--protocol", "esphome", "--no-mdns", "--link",
                                               "lan", "--fault", "drop:50000"])
            with dev:
                cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", img,
                             "--protocol", "esphome", "--retries", "0",
                             # the image as it is (no deflate stream): the bytes counted below
                             "--no-compress", timeout=60)
                self.assertEqual(cp.returncode, DROPPED, cp.stderr)
                m = re.search(r"closed the connection during the image \(at byte (\d+) of %d\)"
                              % size, cp.stderr)
                self.assertIsNotNone(m, cp.stderr)
                acked = int(m.group(1))
                self.assertTrue(0 < acked <= 50000 - NATIVE_HEADER, cp.stderr)
                err = dev.wait_event("error")
                self.assertEqual(err["text"], "Aborted")
                self.assertEqual(err["bytes"], 50000 - NATIVE_HEADER)  # the bytes before N
                fired = [e["text"] for e in dev.find("log") if e["text"].startswith("fault")]
                self.assertEqual(fired, ["fault drop: TCP connection reset at byte 50000"])
                self.assertEqual(dev.find("end"), [])
                dev.stop()
            info = otk.inspect(dev.flash)
            self.assertEqual(info["boot_slot"], 0)
            self.assertEqual(info["slots"][0]["version"], "0.0.0")


if __name__ == "__main__":
    otk.main()
