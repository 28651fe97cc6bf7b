# SPDX-License-Identifier: MIT
"""Hostile peers against a real `otakit device`, each attacker a Python process of its own
(attacker.py) on a loopback address 127.0.0.x, the legitimate host a real `otakit upload`:
the hijack race of a process sharing the uploader's address, a squatter that never answers
its challenge, a flood of valid invitations, and a slowloris. docs/SECURITY.md lists what each
shows."""

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import otk

HERE = os.path.dirname(os.path.abspath(__file__))
KB = 1024


class Attacker:
    """attacker.py MODE as a process; result() waits for it and returns its JSON report."""

    def __init__(self, mode, device_port, bind, image, **opts):
        args = [sys.executable, os.path.join(HERE, "attacker.py"), mode, "--device",
                str(device_port), "--bind", bind, "--image", image]
        for k, v in opts.items():
            args += ["--" + k, str(v)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=dict(os.environ, PYTHONPATH=HERE))

    def result(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        lines = [l for l in out.splitlines() if l.strip()]
        if not lines:
            raise AssertionError("attacker printed nothing (%s): %s" % (self.proc.returncode, err))
        return json.loads(lines[-1])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


class AttackTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-e2e-")
        self.tmp = self._tmp.name
        self.legit = os.path.join(self.tmp, "legit.bin")
        self.evil = os.path.join(self.tmp, "evil.bin")
        otk.make_image(self.legit, version="2.0.0", size=96 * KB, project="legit")
        otk.make_image(self.evil, version="6.6.6", size=64 * KB, project="evil", seed=66)
        self.attackers = []

    def tearDown(self):
        for a in self.attackers:
            a.kill()
        self._tmp.cleanup()

    def attacker(self, *args, **kw):
        a = Attacker(*args, **kw)
        self.attackers.append(a)
        return a

    def upload(self, dev, *extra):
        t = time.monotonic()
        cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", self.legit, *extra,
                     timeout=90)
        return cp, time.monotonic() - t

    def assert_boots(self, dev, version, start=0):
        ev = dev.wait_event("boot", timeout=20, start=start, where=lambda e: e["version"] == version)
        self.assertEqual(ev["version"], version)

    def test_hijack_race(self):
        """A process on the uploader's own address floods invitations naming its own TCP port
        and image, before and during the legitimate upload: the legitimate image boots, the
        device never connects to the attacker."""
        dev = otk.start_device(self.tmp, password="pw")
        with dev:
            att = self.attacker("invite", dev.port, "127.0.0.1", self.evil, period=0.001,
                                duration=6)
            time.sleep(0.3)  # the attacker holds a challenge of its own first
            cp, took = self.upload(dev, "-a", "pw")
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assert_boots(dev, "2.0.0")
            rep = att.result()
            self.assertEqual(rep["connections"], 0, rep)
            self.assertGreater(rep["sent"], 1000, rep)
            self.assertEqual([e for e in dev.find("boot") if e["version"] == "6.6.6"], [])
        self.assertEqual(otk.inspect(dev.flash)["boot_version"], "2.0.0")
        print("hijack race: legitimate upload %.1f s, %d attacker invitations, replies %s" % (
            took, rep["sent"], rep["replies"]), file=sys.stderr)

    def test_squatter_does_not_lock_out(self):
        """Another address invites every second and never answers: every legitimate upload
        still gets through (the squatter's challenge holds off others for the 2 s grace only)."""
        dev = otk.start_device(self.tmp, password="pw")
        with dev:
            att = self.attacker("invite", dev.port, "127.0.0.2", self.evil, period=1.0,
                                duration=12)
            times = []
            for _ in range(3):
                time.sleep(1.5)  # the squatter's next invitation has a challenge out by now
                start = len(dev.events)
                cp, took = self.upload(dev, "-a", "pw")
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                self.assert_boots(dev, "2.0.0", start)
                times.append(took)
            rep = att.result()
            self.assertGreater(rep["replies"].get("AUTH", 0), 3, rep)  # it held challenges
            self.assertEqual(rep["connections"], 0, rep)
        print("squatter: 3 of 3 uploads through, in %s s; squatter replies %s" % (
            ", ".join("%.1f" % t for t in times), rep["replies"]), file=sys.stderr)

    def test_flood_does_not_lock_out(self):
        """A flood of valid invitations from another address: the legitimate upload gets
        through during it, and at once after it (not 10 s later)."""
        dev = otk.start_device(self.tmp, password="pw")
        with dev:
            att = self.attacker("invite", dev.port, "127.0.0.3", self.evil, period=0.0001,
                                duration=5)
            time.sleep(0.3)
            cp, during = self.upload(dev, "-a", "pw")
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            rep = att.result()
            start = len(dev.events)
            cp, after = self.upload(dev, "-a", "pw")
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assert_boots(dev, "2.0.0", start)
            self.assertLess(after, 6.0)
            self.assertEqual(rep["connections"], 0, rep)
        print("flood: %d invitations in 5 s (%s); upload during it %.1f s, right after %.1f s" % (
            rep["sent"], rep["replies"], during, after), file=sys.stderr)

    def test_slowloris(self):
        """An authenticated host that sends one byte every 0.9 s is cut off by the progress
        floor with "Stream Read Timeout"; the old image still boots and the next upload works."""
        dev = otk.start_device(self.tmp, password="pw")
        with dev:
            att = self.attacker("slowloris", dev.port, "127.0.0.4", self.evil, period=0.9,
                                duration=40, password="pw")
            rep = att.result(timeout=60)
            self.assertEqual(rep.get("handshake"), "OK", rep)
            self.assertTrue(rep["closed"], rep)
            self.assertLess(rep["held_s"], 12.0, rep)
            self.assertEqual(rep["tcp_text"], "Stream Read Timeout\r\n", rep)
            err = dev.wait_event("error")
            self.assertEqual((err["ota_error"], err["code"]), (3, 6), err)
            self.assertEqual(otk.inspect(dev.flash)["boot_slot"], 0)
            start = len(dev.events)
            cp, _ = self.upload(dev, "-a", "pw")
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assert_boots(dev, "2.0.0", start)
        print("slowloris: held the device %.1f s with %d bytes" % (rep["held_s"], rep["sent"]),
              file=sys.stderr)

    def test_inspect_refuses_fifo(self):
        """`otakit inspect` on a FIFO with no writer does not block: it refuses it."""
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode))
        cp = otk.run("inspect", fifo, timeout=10)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("not a regular file (a FIFO or pipe)", cp.stderr)


if __name__ == "__main__":
    otk.main()
