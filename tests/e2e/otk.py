# SPDX-License-Identifier: MIT
"""Shared helpers for the end-to-end tests: run `otakit` processes over 127.0.0.1.

Environment: OTAKIT = path of the otakit binary (CTest sets it), OTK_TESTDATA = the test data
directory, with firmware images built by others in firmware/ (default: ../shared/testdata beside
the repository; the repository does not carry them).

Every script ends with otk.main(), which tells ctest what ran (see main)."""

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

OTAKIT = os.environ.get("OTAKIT") or shutil.which("otakit") or "otakit"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTDATA = os.environ.get("OTK_TESTDATA") or os.path.join(os.path.dirname(ROOT), "shared",
                                                          "testdata")
SKIPPED = 77  # ctest's SKIP_RETURN_CODE (tests/CMakeLists.txt)


def firmware(name):
    """Path of a real firmware image from the test data, or None if it is not there."""
    p = os.path.join(TESTDATA, "firmware", name)
    return p if os.path.exists(p) else None


def needs_firmware(*names):
    """Decorator of a test case that needs real firmware images from the test data: the case
    gets their paths as arguments, runs in the script's ctest entry of its own (`script
    --testdata`, e2e.NAME.testdata) and is skipped, saying which file is missing, when one is."""
    def wrap(fn):
        @functools.wraps(fn)
        def case(self):
            for name in names:
                if not firmware(name):
                    # the same words as tests/unit/helper_testdata.c
                    self.skipTest("no test data: %s is missing (firmware built by others, not "
                                  "in the repository: ../shared/testdata beside it, or set "
                                  "OTK_TESTDATA)"
                                  % os.path.join(TESTDATA, "firmware", name))
            return fn(self, *[firmware(name) for name in names])
        case.otk_testdata = True
        return case
    return wrap


def _cases(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _cases(t)
        else:
            yield t


def main():
    """Run the calling script's test cases for ctest: `script` runs the cases that need nothing
    beside the repository, `script --testdata` those marked @needs_firmware (further arguments:
only the cases whose id contains one of them). The exit status
    is 1 if a case failed, else SKIPPED (ctest: skipped) if a case was skipped, each reason on a
    line "skipped: ..." (scripts/test lists them), else 0."""
    args = sys.argv[1:]
    data = "--testdata" in args
    only = [a for a in args if a != "--testdata"]  # by hand: run the cases whose id has one
    module = sys.modules["__main__"]
    suite = unittest.TestSuite(
        t for t in _cases(unittest.defaultTestLoader.loadTestsFromModule(module))
        if getattr(getattr(t, t._testMethodName, None), "otk_testdata", False) == data
        and (not only or any(o in t.id() for o in only)))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        sys.exit(1)
    if not result.skipped:
        if result.testsRun == 0:
            print("no test case ran", file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    reasons = {}
    for test, reason in result.skipped:
        reasons.setdefault(reason, []).append(getattr(test, "_testMethodName", str(test)))
    ran = result.testsRun - sum(isinstance(t, unittest.TestCase) for t, _ in result.skipped)
    for reason, names in reasons.items():
        who = ("every case" if ran == 0 and len(reasons) == 1
               else ", ".join(names))
        print("skipped: %s: %s" % (who, reason))
    sys.exit(SKIPPED)


def run(*args, timeout=60, check=False):
    """Run `otakit args...`; returns the CompletedProcess (text mode)."""
    cp = subprocess.run([OTAKIT] + [str(a) for a in args], capture_output=True, text=True,
                        timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError("otakit %s failed (%d):\n%s%s" % (
            " ".join(map(str, args)), cp.returncode, cp.stdout, cp.stderr))
    return cp


def free_port(kind="udp"):
    """A port that was free a moment ago on 127.0.0.1 (prefer --port 0 where possible)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def make_image(path, chip="esp32", version="1.0.0", size=1 << 20, project=None, seed=None):
    """Write a valid application image with `otakit image`; returns its bytes."""
    args = ["image", "--chip", chip, "--version", version, "--size", size, "-o", path]
    if project:
        args += ["--project", project]
    if seed is not None:
        args += ["--seed", seed]
    run(*args, check=True)
    with open(path, "rb") as f:
        return f.read()


def inspect(path):
    """`otakit inspect --json FILE` as a dict (the exit status is not checked: a flash with
    nothing bootable still prints its JSON)."""
    cp = run("inspect", "--json", path)
    try:
        return json.loads(cp.stdout)
    except ValueError:
        raise AssertionError("inspect %s printed no JSON (%d):\n%s%s" % (
            path, cp.returncode, cp.stdout, cp.stderr))


class Device:
    """A running `otakit device --json`. events: the JSON lines seen so far (dicts)."""

    def __init__(self, proc, stderr_path, flash):
        self.proc = proc
        self.flash = flash
        self.stderr_path = stderr_path
        self.events = []
        self.port = None
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "_garbage", "line": line}
            with self._cond:
                self.events.append(ev)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stderr(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_event(self, name, timeout=15.0, where=None, start=0):
        """The first event called `name` (from index `start`) that satisfies where(ev).
        Raises AssertionError on timeout or if the device exits first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[start:]:
                    if ev.get("event") == name and (where is None or where(ev)):
                        return ev
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    raise AssertionError(
                        "device: no %r event (%s); events: %s\nstderr:\n%s" % (
                            name, "exited" if self._eof else "timeout",
                            json.dumps(self.events)[-3000:], self.stderr()[-2000:]))
                self._cond.wait(left)

    def find(self, name):
        """All events called `name` so far."""
        with self._cond:
            return [e for e in self.events if e.get("event") == name]

    def wait_exit(self, timeout=30.0):
        """Wait for the process; returns its exit status. The reader is joined too, so
        `events` is complete afterwards."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self):
        """SIGTERM, then wait (kill if it does not end)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


_counter = [0]


def start_device(tmpdir, profile="esp32", password=None, extra=(), flash=None,
                 auth_variant=None, password_hash=None, wait=True):
    """Start `otakit device --json --port 0 --flash <tmpdir>/<profile>.flash` and wait for its
    "listening" event (unless wait=False, e.g. when it is expected to exit at once)."""
    if flash is None:
        flash = os.path.join(tmpdir, "%s.flash" % profile)
    args = [OTAKIT, "device", "--json", "--port", "0", "--profile", profile, "--flash", flash]
    if password is not None:
        args += ["--password", password]
    if password_hash is not None:
        args += ["--password-hash", password_hash]
    if auth_variant:
        args += ["--auth-variant", auth_variant]
    extra = [str(a) for a in extra]
    # the tests written for ArduinoOTA get an ArduinoOTA device: with both protocols served,
    # `otakit upload` (--protocol auto) would take the native one
    if "--protocol" not in extra:
        args += ["--protocol", "arduino"]
    args += extra
    _counter[0] += 1
    errpath = os.path.join(tmpdir, "device-%d.stderr" % _counter[0])
    errf = open(errpath, "w")
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errf, text=True,
                                bufsize=1)
    finally:
        errf.close()
    dev = Device(proc, errpath, flash)
    if wait:
        try:
            ev = dev.wait_event("listening", timeout=20)
        except BaseException:
            dev.stop()
            raise
        dev.port = ev["port"]
    return dev


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class FakeDevice:
    """Base of the tests' scripted ArduinoOTA devices: a UDP socket on 127.0.0.1 (`port`) read
    by a thread that hands each datagram to on_datagram(dg, peer), which subclasses write;
    connect_back() opens a TCP connection to the uploader, closed with the device. A subclass
    sets its own state, then calls start()."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.1)
        self.port = self.udp.getsockname()[1]
        self._stop = threading.Event()
        self._socks = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                dg, peer = self.udp.recvfrom(1500)
            except socket.timeout:
                continue
            except OSError:
                return
            self.on_datagram(dg, peer)

    def on_datagram(self, dg, peer):
        raise NotImplementedError

    def serve_in_thread(self, fn, *args):
        threading.Thread(target=fn, args=args, daemon=True).start()

    def connect_back(self, port, rcvbuf=0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._socks.append(s)
        s.connect(("127.0.0.1", port))
        return s

    def close(self):
        self._stop.set()
        self.udp.close()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class UploadCase(unittest.TestCase):
    """A test case with a temporary directory (self.tmp) and assertExit for `otakit upload`
    runs: the exit code, and phrases that must appear in its standard error."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-upload-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def assertExit(self, cp, code, *phrases):
        self.assertEqual(cp.returncode, code, "exit %d, expected %d\n%s%s" % (
            cp.returncode, code, cp.stdout, cp.stderr))
        for p in phrases:
            self.assertIn(p, cp.stderr)
