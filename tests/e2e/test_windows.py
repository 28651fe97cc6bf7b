# SPDX-License-Identifier: MIT
"""The Windows build (`scripts/build-windows` -> build-windows/otakit.exe, mingw-w64, Winsock
port) run under wine against `otakit device` on 127.0.0.1: uploads with both password schemes,
espota's flag forms, the failures a Windows user meets first, and the commands that are not in
the Windows build.

Opt-in: runs only with OTK_WINDOWS_TESTS=1 (wine is a large install; `scripts/setup --windows`
installs it and the cross compiler, `scripts/test` does both when OTK_WINDOWS_TESTS=1). Then a
missing wine or .exe is a failure, not a skip. OTAKIT_EXE overrides the .exe's path."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import otk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENABLED = os.environ.get("OTK_WINDOWS_TESTS") == "1"
KB = 1024


def find_wine():
    for cand in (shutil.which("wine64"), "/usr/lib/wine/wine64", shutil.which("wine")):
        if cand and os.path.exists(cand):
            return cand
    return None


@unittest.skipUnless(ENABLED, "set OTK_WINDOWS_TESTS=1 to run the Windows build under wine")
class WindowsExe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wine = find_wine()
        if not cls.wine:
            raise AssertionError("OTK_WINDOWS_TESTS=1 but wine64 is not installed: "
                                 "run scripts/setup --windows")
        cls.exe = os.environ.get("OTAKIT_EXE") or os.path.join(ROOT, "build-windows",
                                                               "otakit.exe")
        if not os.environ.get("OTAKIT_EXE"):
            # always rebuild: a stale .exe would test old sources (a rebuild takes seconds)
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "build-windows")], check=True,
                           timeout=600)
        if not os.path.exists(cls.exe):
            raise AssertionError("no %s" % cls.exe)
        cls._tmp = tempfile.TemporaryDirectory(prefix="otk-win-")
        cls.tmp = cls._tmp.name
        # a prefix kept next to the .exe: creating one takes several seconds
        cls.env = dict(os.environ, WINEPREFIX=os.path.join(os.path.dirname(cls.exe), "wineprefix"),
                       WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
        # the first start creates the prefix; do it outside the tests' timing
        cls.win("--version", timeout=180)
        cls.app = os.path.join(cls.tmp, "app.bin")
        otk.make_image(cls.app, "esp32", "5.1.0", 300 * KB)
        cls.app8266 = os.path.join(cls.tmp, "app8266.bin")
        otk.make_image(cls.app8266, "esp8266", "5.2.0", 200 * KB)

    @classmethod
    def tearDownClass(cls):
        server = os.path.join(os.path.dirname(os.path.realpath(cls.wine)), "wineserver")
        if os.path.exists(server):  # stop this prefix's server, not anybody else's
            subprocess.run([server, "-k"], env=cls.env, capture_output=True, timeout=30)
        cls._tmp.cleanup()

    @classmethod
    def win(cls, *args, timeout=120):
        return subprocess.run([cls.wine, cls.exe] + [str(a) for a in args], capture_output=True,
                              text=True, timeout=timeout, env=cls.env)

    def assertExit(self, cp, code, *texts):
        self.assertEqual(cp.returncode, code, "exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s" % (
            cp.returncode, code, cp.stdout, cp.stderr))
        for t in texts:
            self.assertIn(t, cp.stdout + cp.stderr)

    def upload_to_device(self, profile, app, version, password, variant, *flags):
        flash = os.path.join(self.tmp, "%s-%s.flash" % (profile, variant))
        dev = otk.start_device(self.tmp, profile=profile, password=password,
                               auth_variant=variant, extra=["--once"], flash=flash)
        with dev:
            dev.wait_event("boot")
            t0 = time.monotonic()
            cp = self.win("upload", "-i", "127.0.0.1", *[f.format(port=dev.port)
                                                          for f in flags], "-f", app)
            self.assertExit(cp, 0, "OK: ")
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
            boots = dev.find("boot")
            self.assertEqual(boots[-1]["version"], version)
            self.assertEqual(dev.wait_event("start")["size"], os.path.getsize(app))
            return cp, time.monotonic() - t0

    def test_pbkdf2_password_esp32(self):
        cp, secs = self.upload_to_device("esp32", self.app, "5.1.0", "OTAPASSWORD", "pbkdf2",
                                         "-p", "{port}", "-a", "OTAPASSWORD", "-d", "-r")
        self.assertIn("PBKDF2-HMAC-SHA256", cp.stderr)  # the mbedTLS build does PBKDF2
        self.assertLess(secs, 30)

    def test_md5_password_esp8266_with_espota_flag_forms(self):
        # PlatformIO's upload_flags forms: --port=, --auth=, --host_port=
        hp = otk.free_port("tcp")
        cp, _ = self.upload_to_device("esp8266", self.app8266, "5.2.0", "pw8266", "md5",
                                      "--port={port}", "--auth=pw8266",
                                      "--host_port=%d" % hp, "--debug")
        self.assertIn("127.0.0.1:%d" % hp, cp.stderr)  # the device connected to -P

    def test_wrong_password(self):
        dev = otk.start_device(self.tmp, profile="esp32", password="right",
                               flash=os.path.join(self.tmp, "wrong.flash"))
        with dev:
            cp = self.win("upload", "-i", "127.0.0.1", "-p", dev.port, "--auth=wrong",
                          "-f", self.app)
            self.assertExit(cp, 6, "rejected the password", "Authentication Failed")

    def test_no_device(self):
        port = otk.free_port("udp")
        cp = self.win("upload", "-i", "127.0.0.1", "-p", port, "-t", "1", "--retries", "0",
                      "-f", self.app)
        self.assertExit(cp, 5, "UDP port %d" % port)

    def test_file_errors_and_binary_mode(self):
        cp = self.win("upload", "-i", "127.0.0.1", "-f", os.path.join(self.tmp, "nope.bin"))
        self.assertExit(cp, 3, "cannot open the image")
        # an image full of CR LF and 0x1A bytes: text-mode reading would change its size
        tricky = os.path.join(self.tmp, "tricky.bin")
        with open(self.app, "rb") as f:
            data = bytearray(f.read())
        data[64 * KB:64 * KB + 4096] = b"\r\n\x1a\r" * 1024
        with open(tricky, "wb") as f:
            f.write(data)
        dev = otk.start_device(self.tmp, profile="esp32", extra=["--once"],
                               flash=os.path.join(self.tmp, "tricky.flash"))
        with dev:
            cp = self.win("upload", "-i", "127.0.0.1", "-p", dev.port, "--json", "-f", tricky)
            # the header's SHA-256 no longer matches, so the device may refuse the image; what
            # matters is that all bytes and the right MD5 were announced
            start = dev.wait_event("start")
            self.assertEqual(start["size"], len(data))
            self.assertIn('"size":%d' % len(data), cp.stdout)
            self.assertIn('"md5":"%s"' % hashlib.md5(bytes(data)).hexdigest(), cp.stdout)
            dev.wait_exit(30)

    def test_ide2_placeholder(self):
        cp = self.win("upload", "-i", "192.0.2.10", "-p", "{upload.port.properties.port}",
                      "--auth=", "-f", self.app)
        self.assertExit(cp, 2, "arduino-ide#740", "platform.local.txt")

    def test_list_finds_device_by_mdns_on_loopback(self):
        # the device answers mDNS on its own address only (127.0.0.1); -I keeps the query there
        if "list" not in self.win("--help").stdout:
            self.skipTest("this build has no `otakit list`")
        name = "wintest-%d" % os.getpid()
        dev = otk.start_device(self.tmp, profile="esp8266", password="pw",
                               extra=["--name", name],
                               flash=os.path.join(self.tmp, "list.flash"))
        with dev:
            cp = self.win("list", "--json", "-t", "2", "-I", "127.0.0.1")
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            found = [d for d in json.loads(cp.stdout) if d["name"] == name]
            self.assertEqual(len(found), 1, cp.stdout)
            self.assertEqual(found[0]["port"], dev.port)
            self.assertEqual(found[0]["address"], "127.0.0.1")
            self.assertEqual(found[0]["board"], "esp8266")
            self.assertTrue(found[0]["auth_upload"])

    def test_posix_only_commands_say_so(self):
        cp = self.win("device", "--port", "0")
        self.assertExit(cp, 2, "not available in the Windows build")
        cp = self.win("--help")
        self.assertExit(cp, 0, "upload")


if __name__ == "__main__":
    otk.main()
