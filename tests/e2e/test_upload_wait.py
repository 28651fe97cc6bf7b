# SPDX-License-Identifier: MIT
"""`otakit upload --wait` against devices that are not there yet: `otakit device` started
seconds after the upload command (as a battery device wakes), over 127.0.0.1. A device that
wakes 20 s late is updated; one that never wakes ends with exit code 21 after the given time;
two devices that wake at different times are each updated as they wake; the native protocol
and --protocol auto wait the same way; the progress display names who still sleeps."""

import json
import os
import pty
import select
import subprocess
import tempfile
import threading
import time
import unittest

import otk

SIZE = 200 * 1024 + 17
OK, ASLEEP = 0, 21


def json_events(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


class Wait(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-wait-")
        self.tmp = self._tmp.name
        self.path = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.path, "esp32", "2.0.0", SIZE)
        self.devices = []

    def tearDown(self):
        for d in self.devices:
            d.stop()
        self._tmp.cleanup()

    def upload(self, *args):
        """Start `otakit upload ... --json` in the background; returns (Popen, t0)."""
        argv = [otk.OTAKIT, "upload", "-f", self.path, "--json"] + [str(a) for a in args]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True), time.monotonic()

    def wake_later(self, delay, port, name, *extra):
        """Start `otakit device` on UDP/TCP `port` after `delay` seconds (in a thread)."""
        def run():
            time.sleep(delay)
            flash = os.path.join(self.tmp, name + ".flash")
            self.devices.append(otk.start_device(self.tmp, flash=flash,
                                                 extra=["--no-mdns", "--port", port] +
                                                 list(extra)))
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th

    def finish(self, proc, timeout):
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, json_events(out), err

    def assert_boots(self, dev):
        boot = dev.wait_event("boot", timeout=20, where=lambda ev: ev["slot"] == 1)
        self.assertEqual(boot["version"], "2.0.0")

    def test_device_appears_after_20_s(self):
        port = otk.free_port()
        proc, t0 = self.upload("-i", "127.0.0.1", "-p", port, "--wait", "60")
        th = self.wake_later(20, port, "late")
        rc, events, err = self.finish(proc, 90)
        took = time.monotonic() - t0
        th.join()
        self.assertEqual(rc, OK, err)
        awake = [e for e in events if e["event"] == "awake"]
        self.assertEqual(len(awake), 1, events)
        self.assertGreaterEqual(awake[0]["after"], 19.5)
        self.assertLess(awake[0]["after"], 30)
        self.assertIn("answered the ArduinoOTA invitation", awake[0]["how"])
        # updated at once: the result follows within seconds of the wake
        result = [e for e in events if e["event"] == "result"][0]
        self.assertTrue(result["ok"])
        self.assertLess(result["t"] - awake[0]["t"], 10)
        self.assertLess(took, 45)
        # "asleep" once, not a state line per look
        asleep = [e for e in events if e.get("state") == "asleep"]
        self.assertEqual(len(asleep), 1, events)
        self.assert_boots(self.devices[0])

    def test_never_appears(self):
        port = otk.free_port()
        proc, t0 = self.upload("-i", "127.0.0.1", "-p", port, "--wait", "4")
        rc, events, err = self.finish(proc, 30)
        took = time.monotonic() - t0
        self.assertEqual(rc, ASLEEP, err)
        self.assertGreaterEqual(took, 4)
        self.assertLess(took, 10)
        self.assertIn("never showed itself within --wait 4 s", err)
        self.assertIn("fix:", err)
        result = [e for e in events if e["event"] == "result"][0]
        self.assertEqual(result["error"], "asleep")
        self.assertEqual(result["exit_code"], ASLEEP)
        self.assertFalse([e for e in events if e["event"] == "awake"])

    def test_two_targets_wake_at_different_times(self):
        p1, p2 = otk.free_port(), otk.free_port()
        while p2 == p1:
            p2 = otk.free_port()
        proc, t0 = self.upload("-i", "127.0.0.1:%d" % p1, "-i", "127.0.0.1:%d" % p2,
                               "--wait", "40")
        self.wake_later(2, p1, "early")
        th = self.wake_later(12, p2, "late")
        rc, events, err = self.finish(proc, 90)
        th.join()
        self.assertEqual(rc, OK, err)
        by = {}
        for e in events:
            if e["event"] in ("awake", "result"):
                by.setdefault(e["target"], {})[e["event"]] = e
        early, late = by["127.0.0.1:%d" % p1], by["127.0.0.1:%d" % p2]
        self.assertTrue(early["result"]["ok"] and late["result"]["ok"], events)
        self.assertLess(early["awake"]["after"], 8)
        self.assertGreaterEqual(late["awake"]["after"], 11.5)
        # the early one was updated while the late one still slept
        self.assertLess(early["result"]["t"], late["awake"]["t"])
        for d in self.devices:
            self.assert_boots(d)

    def test_native_protocol_waits(self):
        port = otk.free_port("tcp")
        proc, t0 = self.upload("-i", "127.0.0.1", "-p", port, "--protocol", "esphome",
                               "--wait", "30")
        self.wake_later(3, port, "native", "--protocol", "esphome")
        rc, events, err = self.finish(proc, 60)
        self.assertEqual(rc, OK, err)
        awake = [e for e in events if e["event"] == "awake"][0]
        self.assertIn("native OTA port", awake["how"])
        self.assertGreaterEqual(awake["after"], 2.5)
        self.assert_boots(self.devices[0])

    def test_auto_waits_and_says_what_it_found(self):
        port = otk.free_port("tcp")
        proc, t0 = self.upload("-i", "127.0.0.1", "-p", port, "--wait", "30",
                               "--http-port", otk.free_port("tcp"))
        self.wake_later(3, port, "auto", "--protocol", "esphome")
        rc, events, err = self.finish(proc, 60)
        self.assertEqual(rc, OK, err)
        found = [e for e in events if e["event"] == "detected"]
        self.assertEqual(len(found), 1, events)
        self.assertEqual(found[0]["protocol"], "esphome")
        self.assertIn("ESPHome native OTA", found[0]["found"])
        self.assert_boots(self.devices[0])

    def test_plain_output_says_who_sleeps(self):
        """Without --json: the wait is announced, the wake and the update follow."""
        port = otk.free_port()
        argv = [otk.OTAKIT, "upload", "-f", self.path, "-i", "127.0.0.1", "-p", str(port),
                "--wait=20"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.wake_later(2, port, "plain")
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, OK, err)
        self.assertIn("Waiting up to 20 s for the device to wake up", err)
        self.assertRegex(err, r"127\.0\.0\.1: awake after \d+\.\d s \(it answered the "
                              r"ArduinoOTA invitation\)")
        self.assertIn("127.0.0.1: OK:", err)

    def test_terminal_shows_who_sleeps(self):
        """On a terminal the one-line display names each device that still sleeps."""
        p1, p2 = otk.free_port(), otk.free_port()
        while p2 == p1:
            p2 = otk.free_port()
        master, slave = pty.openpty()
        argv = [otk.OTAKIT, "upload", "-f", self.path, "-i", "127.0.0.1:%d" % p1,
                "-i", "127.0.0.1:%d" % p2, "--wait", "8"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=slave)
        os.close(slave)
        self.wake_later(2, p1, "tty")
        shown = b""
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.5)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            shown += chunk
        os.close(master)
        proc.wait(timeout=10)
        text = shown.decode("utf-8", "replace")
        both = "127.0.0.1:%d asleep | 127.0.0.1:%d asleep" % (p1, p2)
        self.assertIn(both, text)
        self.assertIn("127.0.0.1:%d done | 127.0.0.1:%d asleep" % (p1, p2), text)
        self.assertIn("127.0.0.1:%d: awake after" % p1, text)
        self.assertEqual(proc.returncode, ASLEEP, text[-2000:])

    def test_wait_value_is_optional(self):
        """--wait alone means 300 s (the next argument is an option, not its value); the run
        is interrupted once its start event shows the wait (SIGTERM: exit 130)."""
        proc, t0 = self.upload("-i", "127.0.0.1", "-p", otk.free_port(), "--wait", "--retries",
                               "0")
        start = json.loads(proc.stdout.readline())
        proc.terminate()
        rc, events, err = self.finish(proc, 30)
        self.assertEqual(start["event"], "start", err)
        self.assertEqual(start["wait"], 300)
        self.assertEqual(rc, 130, err)


if __name__ == "__main__":
    otk.main()
