# SPDX-License-Identifier: MIT
"""`otakit device` serves ESPHome's native OTA protocol on TCP beside ArduinoOTA: each era of
ESPHome's uploader (our own era clients, tests/e2e/espeers.py, written from the reference) updates
it and the new version boots; a wrong password, a missing SHA-256, a wrong Noise key and a
plaintext client to a device that requires encryption are refused with the codes an ESPHome
device sends, the flash untouched; --protocol chooses what is served."""

import math
import os
import socket
import tempfile
import unittest

import espeers
import otk
import pyclient

KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # ESPHome's own test key, 00 .. 1f
WRONG_KEY = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="  # 01 .. 20
SIZE = 300 * 1024 + 100  # not a multiple of 8192: the last chunk ack covers a partial block


class NativeDeviceTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-native-")
        self.tmp = self._tmp.name
        self.n = 0

    def tearDown(self):
        self._tmp.cleanup()

    def image(self, version, profile="esp32"):
        self.n += 1
        return otk.make_image(os.path.join(self.tmp, "img%d.bin" % self.n), profile, version, SIZE)

    def device(self, *extra, profile="esp32", password=None):
        self.n += 1
        flash = os.path.join(self.tmp, "dev%d.flash" % self.n)
        return otk.start_device(self.tmp, profile=profile, password=password, flash=flash,
                                extra=["--no-mdns"] + list(extra) +
                                (["--protocol", "both"] if "--protocol" not in extra else []))

    def assert_boots(self, dev, version):
        """The device rebooted into `version` from the other slot."""
        dev.wait_event("end")
        boot = dev.wait_event("boot", timeout=20, where=lambda ev: ev["slot"] == 1)
        self.assertEqual(boot["version"], version)
        self.assertEqual(boot["slot"], 1)
        self.assertEqual(boot["state"], "pending-verify")
        dev.wait_event("confirm")

    def assert_untouched(self, dev):
        """No update started; the flash still boots the factory image from slot 0 and the other
        slot holds nothing."""
        self.assertEqual(dev.find("start"), [])
        dev.stop()
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_slot"], 0)
        self.assertEqual(info["slots"][0]["version"], "0.0.0")
        self.assertNotEqual(info["slots"][1].get("verify"), "ok")

    def test_listening_event_names_protocols(self):
        with self.device("--key", KEY, password="pw") as dev:
            ev = dev.find("listening")[0]
            self.assertEqual(ev["protocols"], ["arduino", "esphome"])
            self.assertEqual(ev["native"], {"version": 2, "password": True,
                                            "encryption": "offered"})

    def test_each_era_without_password(self):
        for era, reply in (("2024", 0x40), ("2025.10", 0x40), ("2026.5", 0x48),
                           ("2026.9", 0x48)):
            with self.subTest(era=era), self.device() as dev:
                data = self.image("5.%d.0" % self.n)
                r = espeers.upload("127.0.0.1", dev.port, data, era=era)
                self.assertTrue(r.ok, r)
                self.assertEqual(r.version, 2)
                self.assertEqual(r.feature_reply, reply)
                self.assertEqual(r.auth, "none")
                self.assertEqual(r.acks, math.ceil(SIZE / 8192))
                self.assertEqual([c for c in r.codes if c != 0x47][-4:], [0x42, 0x43, 0x44, 0x45])
                start = dev.wait_event("start")
                self.assertEqual(start["size"], SIZE)
                self.assert_boots(dev, "5.%d.0" % (self.n - 1))

    def test_2023_client_needs_version_1(self):
        data = self.image("1.0.1")
        with self.device() as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2023")
            self.assertFalse(r.ok)
            self.assertEqual(r.version, 2)  # a 2023 uploader only knows version 1
            self.assert_untouched(dev)
        with self.device("--native-version", "1") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2023")
            self.assertTrue(r.ok, r)
            self.assertEqual(r.version, 1)
            self.assertEqual(r.acks, 0)
            self.assert_boots(dev, "1.0.1")

    def test_sha256_password_right_and_wrong(self):
        data = self.image("2.1.0")
        with self.device(password="admin") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.5", password="nimda")
            self.assertFalse(r.ok)
            self.assertEqual(r.error_code, 0x82)
            self.assertEqual(r.auth, "sha256")
            failed = dev.wait_event("auth_failed")
            self.assertIn("Authentication invalid", failed["text"])
            # the device keeps serving: the right password goes through
            r = espeers.upload("127.0.0.1", dev.port, data, era="2025.10", password="admin")
            self.assertTrue(r.ok, r)
            self.assertEqual(r.auth, "sha256")
            self.assert_boots(dev, "2.1.0")

    def test_wrong_password_leaves_flash_untouched(self):
        data = self.image("2.2.0")
        with self.device(password="admin") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.9", password="wrong")
            self.assertEqual(r.error_code, 0x82)
            dev.wait_event("auth_failed")
            self.assert_untouched(dev)

    def test_md5_only_client_refused(self):
        data = self.image("2.3.0")
        with self.device(password="admin") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2024", password="admin")
            self.assertFalse(r.ok)
            self.assertEqual(r.error_code, 0x82)  # as ESPHome devices since 2026.1
            self.assert_untouched(dev)

    def test_noise_right_key(self):
        data = self.image("3.0.0")
        with self.device("--key", KEY, "--require-encryption") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.9", key=KEY)
            self.assertTrue(r.ok, r)
            self.assertTrue(r.encrypted)
            self.assertEqual(r.auth, "noise")
            self.assertEqual(r.server_flags & 0x04, 0x04)
            self.assertEqual(r.acks, math.ceil(SIZE / 8192))
            self.assert_boots(dev, "3.0.0")

    def test_noise_wrong_key(self):
        data = self.image("3.1.0")
        with self.device("--key", KEY, password="admin") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.9", key=WRONG_KEY)
            self.assertFalse(r.ok)
            self.assertEqual(r.reject, "Handshake MAC failure")
            failed = dev.wait_event("auth_failed")
            self.assertIn("Handshake MAC failure", failed["text"])
            self.assert_untouched(dev)

    def test_encryption_required(self):
        data = self.image("3.2.0")
        with self.device("--key", KEY, "--require-encryption") as dev:
            for era in ("2024", "2026.5"):
                r = espeers.upload("127.0.0.1", dev.port, data, era=era)
                self.assertFalse(r.ok)
                # 94 instead of the feature reply; clients before 2026.9 take it for one and
                # then meet the closed connection
                self.assertEqual(r.codes[:2], [0x00, 0x94], (era, r))
            self.assert_untouched(dev)

    def test_offered_encryption_plaintext_still_works(self):
        data = self.image("3.3.0")
        with self.device("--key", KEY, password="admin") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.5", password="admin")
            self.assertTrue(r.ok, r)
            self.assertFalse(r.encrypted)
            self.assertEqual(r.server_flags, 0x04)
            self.assert_boots(dev, "3.3.0")

    def test_wrong_chip_refused(self):
        data = self.image("4.0.0", profile="esp8266")
        with self.device() as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.5")
            self.assertFalse(r.ok)
            self.assertEqual(r.error_code, 0x84)  # an ESPHome ESP32's code for this image
            err = dev.wait_event("error")
            self.assertIn("Another Chip", err["text"])
            dev.stop()
            info = otk.inspect(dev.flash)
            self.assertEqual(info["boot_slot"], 0)

    def test_protocol_esphome_only(self):
        data = self.image("6.0.0")
        with self.device("--protocol", "esphome") as dev:
            self.assertEqual(dev.find("listening")[0]["protocols"], ["esphome"])
            r = pyclient.upload("127.0.0.1", dev.port, data, timeout=2.0)
            self.assertFalse(r.ok)  # ArduinoOTA's invitation is not heard
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.5")
            self.assertTrue(r.ok, r)
            self.assert_boots(dev, "6.0.0")

    def test_protocol_arduino_only(self):
        with self.device("--protocol", "arduino") as dev:
            self.assertEqual(dev.find("listening")[0]["protocols"], ["arduino"])
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", dev.port), timeout=5).close()

    def test_password_hash_alone_serves_arduino_only(self):
        h = "5f4dcc3b5aa765d61d8327deb882cf99"  # MD5 of "password"
        with otk.start_device(self.tmp, password_hash=h, extra=["--no-mdns"]) as dev:
            self.assertEqual(dev.find("listening")[0]["protocols"], ["arduino"])
        cp = otk.run("device", "--password-hash", h, "--protocol", "both", "--port", "0")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("the native protocol needs --password", cp.stderr)

    def test_over_the_link_model(self):
        """Native uploads cross the emulated radio like ArduinoOTA's (their own link: delays,
        lwIP's window); a fault on that connection resets it and the device keeps its image."""
        data = self.image("8.0.0")
        with self.device("--link", "wifi", "--once") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.5", timeout=60)
            self.assertTrue(r.ok, r)
            self.assertEqual(dev.wait_exit(60), 0, dev.stderr())
            logs = [ev["text"] for ev in dev.find("log") if ev["text"].startswith("link (native)")]
            self.assertEqual(len(logs), 1, dev.find("log"))
            # magic, features, type, size, MD5, the image, the final 00: all through the link
            self.assertIn("link (native): %d bytes received" % (5 + 1 + 1 + 4 + 32 + SIZE + 1),
                          logs[0])
            self.assertIn("max 5744 in flight", logs[0])  # the ESP32's lwIP window
            boots = dev.find("boot")
            self.assertEqual(boots[-1]["version"], "8.0.0")
        with self.device("--link", "lan", "--fault", "drop:20000") as dev:
            r = espeers.upload("127.0.0.1", dev.port, data, era="2026.5", timeout=30)
            self.assertFalse(r.ok)
            self.assertEqual(r.stage, "data")
            err = dev.wait_event("error")
            self.assertEqual(err["text"], "Aborted")
            self.assertEqual(err["bytes"], 20000 - (5 + 1 + 1 + 4 + 32))
            self.assert_untouched_boot(dev)

    def assert_untouched_boot(self, dev):
        dev.stop()
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_slot"], 0)
        self.assertEqual(info["slots"][0]["version"], "0.0.0")


if __name__ == "__main__":
    otk.main()
