# SPDX-License-Identifier: MIT
"""`otakit upload` against `otakit device` over the native protocol (ESPHome's): with a
password (SHA-256), with Noise (the right key, a wrong one, none to a device that requires it),
--protocol auto choosing it, and the new version boots; refused uploads leave the flash as it
was."""

import os
import tempfile
import unittest

import otk

KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # ESPHome's own test key, 00 .. 1f
WRONG_KEY = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="  # 01 .. 20
SIZE = 300 * 1024 + 100
OK, AUTH, ENCRYPTION = 0, 6, 19


class UploadToOtakitDevice(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-natup-")
        self.tmp = self._tmp.name
        self.path = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.path, "esp32", "2.0.0", SIZE)

    def tearDown(self):
        self._tmp.cleanup()

    def device(self, *extra, password=None):
        # Both protocols unless a test names one (otk.start_device alone serves ArduinoOTA only).
        if "--protocol" not in extra:
            extra = ("--protocol", "both") + extra
        return otk.start_device(self.tmp, password=password, extra=["--no-mdns"] + list(extra))

    def upload(self, dev, *extra):
        return otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", self.path, "-d",
                       *extra)

    def assertExit(self, cp, code, *phrases):
        self.assertEqual(cp.returncode, code, cp.stderr)
        for p in phrases:
            self.assertIn(p, cp.stderr)

    def assert_boots(self, dev):
        boot = dev.wait_event("boot", timeout=20, where=lambda ev: ev["slot"] == 1)
        self.assertEqual(boot["version"], "2.0.0")

    def assert_untouched(self, dev):
        self.assertEqual(dev.find("start"), [])

    def test_sha256_password(self):
        with self.device("--protocol", "esphome", password="pw") as dev:
            cp = self.upload(dev, "--protocol", "esphome", "-a", "pw")
            self.assertExit(cp, OK, "authenticated (SHA-256)")
            self.assert_boots(dev)

    def test_wrong_password(self):
        with self.device("--protocol", "esphome", password="pw") as dev:
            cp = self.upload(dev, "--protocol", "esphome", "-a", "nope")
            self.assertExit(cp, AUTH, "82 ERROR_AUTH_INVALID")
            self.assert_untouched(dev)

    def test_auto_chooses_native(self):
        with self.device(password="pw") as dev:  # both protocols
            cp = self.upload(dev, "-a", "pw")
            self.assertExit(cp, OK, "answered the native magic", "protocol: esphome")
            self.assert_boots(dev)

    def test_noise(self):
        with self.device("--key", KEY, "--require-encryption") as dev:
            cp = self.upload(dev, "--key", KEY)
            self.assertExit(cp, OK, "Noise handshake done", "authenticated (by the Noise key)")
            self.assert_boots(dev)

    def test_noise_wrong_key_and_none(self):
        with self.device("--key", KEY, "--require-encryption") as dev:
            cp = self.upload(dev, "--key", WRONG_KEY)
            self.assertExit(cp, AUTH, "Handshake MAC failure")
            cp = self.upload(dev, "--protocol", "esphome")
            self.assertExit(cp, ENCRYPTION, "requires encryption")
            self.assert_untouched(dev)

    def test_arduino_still_there(self):
        with self.device(password="pw") as dev:
            cp = self.upload(dev, "--protocol", "arduino", "-a", "pw")
            self.assertExit(cp, OK, "protocol: arduino")
            self.assert_boots(dev)


if __name__ == "__main__":
    otk.main()
