# SPDX-License-Identifier: MIT
"""`otakit device` accepts good uploads: without and with a password (MD5 and PBKDF2), on both
profiles, firmware and filesystem images, synthetic and real ones; the new image boots."""

import hashlib
import os
import tempfile
import unittest

import otk
import pyclient

MB = 1 << 20


class UploadTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-e2e-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def upload_and_boot(self, profile, data, version, password=None, client_kw=None,
                        dev_kw=None, project="otakit-demo"):
        """Upload data to a fresh --once device; check it exits 0 and boots `version`."""
        dev_kw = dict(dev_kw or {})
        if "password_hash" not in dev_kw:
            dev_kw["password"] = password
        dev = otk.start_device(self.tmp, profile=profile, extra=["--once"], **dev_kw)
        with dev:
            first = dev.wait_event("boot")
            self.assertEqual(first["version"], "0.0.0")
            self.assertEqual(first["slot"], 0)
            r = pyclient.upload("127.0.0.1", dev.port, data, password=password,
                                **(client_kw or {}))
            self.assertTrue(r.ok, r)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
            start = dev.wait_event("start")
            self.assertEqual(start["size"], len(data))
            self.assertEqual(start["cmd"], 0)
            dev.wait_event("end")
            boots = dev.find("boot")
            self.assertEqual(len(boots), 2, boots)
            self.assertEqual(boots[1]["slot"], 1)
            self.assertEqual(boots[1]["version"], version)
            self.assertEqual(boots[1]["state"], "pending-verify")
            self.assertFalse(boots[1]["rolled_back"])
            dev.wait_event("confirm")
            ex = dev.wait_event("exit")
            self.assertEqual(ex["code"], 0)
            self.assertGreater(ex["flash_ops"], 0)
            progress = dev.find("progress")
            self.assertTrue(progress)
            self.assertEqual(progress[-1]["bytes"], len(data))
            self.assertEqual(progress[-1]["percent"], 100)
        info = otk.inspect(dev.flash)
        self.assertEqual(info["type"], "flash")
        self.assertEqual(info["boot_slot"], 1)
        self.assertEqual(info["slots"][1]["version"], version)
        self.assertEqual(info["slots"][1]["state"], "active")
        self.assertEqual(info["slots"][1]["verify"], "ok")
        self.assertEqual(info["slots"][0]["version"], "0.0.0")
        self.assertEqual(info["slots"][0]["state"], "valid")
        # The slot holds exactly the bytes sent.
        off = info["slots"][1]["offset"]
        with open(dev.flash, "rb") as f:
            f.seek(off)
            self.assertEqual(f.read(len(data)), data)
        return info

    def test_esp32_no_password_1mb(self):
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "1.2.3", MB)
        self.upload_and_boot("esp32", data, "1.2.3")

    def test_esp32_pbkdf2_password(self):
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "2.0.0", MB)
        self.upload_and_boot("esp32", data, "2.0.0", password="OTAPASSWORD")

    def test_esp32_md5_password(self):
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "2.0.1", MB)
        self.upload_and_boot("esp32", data, "2.0.1", password="admin",
                             dev_kw={"auth_variant": "md5"})

    def test_esp32_pbkdf2_with_md5_hash_stored(self):
        # A sketch that kept an MD5 hash in setPasswordHash() on a PBKDF2 core.
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "2.0.2", 256 * 1024)
        h = hashlib.md5(b"admin").hexdigest()
        self.upload_and_boot("esp32", data, "2.0.2", password="admin",
                             client_kw={"pbkdf2_secret": "md5"},
                             dev_kw={"password_hash": h})

    def test_esp8266_md5_password(self):
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp8266", "3.1.0", 512 * 1024)
        self.upload_and_boot("esp8266", data, "3.1.0", password="OTAPASSWORD",
                             client_kw={"chunk": 1460})

    def test_wrong_password_changes_nothing(self):
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "4.0.0", 128 * 1024)
        dev = otk.start_device(self.tmp, profile="esp32", password="right")
        with dev:
            before = otk.file_bytes(dev.flash)
            r = pyclient.upload("127.0.0.1", dev.port, data, password="wrong")
            self.assertFalse(r.ok)
            self.assertEqual(r.stage, "auth")
            self.assertEqual(r.auth_reply, "Authentication Failed")
            dev.wait_event("auth_failed")
            self.assertEqual(otk.file_bytes(dev.flash), before)
            self.assertEqual(dev.find("start"), [])
            # The device keeps waiting: the right password still works afterwards.
            r = pyclient.upload("127.0.0.1", dev.port, data, password="right")
            self.assertTrue(r.ok, r)
            dev.wait_event("boot", where=lambda e: e["version"] == "4.0.0")

    def test_right_password_in_the_other_scheme_is_named(self):
        # The default ESP32 expects PBKDF2; espota.py before arduino-esp32 3.3.1 reads 37 bytes
        # of "AUTH <64 digits>" and answers the first 32 in the MD5 scheme, the ESP8266's
        # espota.py reads the whole nonce and answers it in the MD5 scheme too.
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "4.1.0", 64 * 1024)
        dev = otk.start_device(self.tmp, profile="esp32", password="right")

        def refused(password, **kw):
            start = len(dev.events)
            r = pyclient.upload("127.0.0.1", dev.port, data, password=password, **kw)
            self.assertEqual(r.auth_reply, "Authentication Failed", (kw, r))
            return dev.wait_event("auth_failed", start=start)

        with dev:
            for kw in ({"invite_read": 37}, {"scheme": "md5"}):
                ev = refused("right", **kw)
                self.assertEqual((ev["scheme"], ev["password_right"]), ("md5", True), ev)
                for words in ("password is right", "MD5 scheme", "before 3.3.1",
                              "expects the PBKDF2 scheme", "--auth-variant md5"):
                    self.assertIn(words, ev["text"])
            # a wrong password in the other scheme is called wrong, and the scheme named
            ev = refused("wrong", invite_read=37)
            self.assertEqual((ev["scheme"], ev["password_right"]), ("md5", False), ev)
            self.assertIn("wrong password", ev["text"])
            # a wrong password in the device's own scheme: which scheme it did not match
            ev = refused("wrong")
            self.assertEqual((ev["scheme"], ev["password_right"]), ("pbkdf2", False), ev)
            self.assertIn("does not match it in the PBKDF2 scheme", ev["text"])
        # the advice works: the same old uploader updates a device started with it
        self.upload_and_boot("esp32", data, "4.1.0", password="right",
                             client_kw={"invite_read": 37}, dev_kw={"auth_variant": "md5"})

    def test_filesystem_upload_lands_in_spiffs(self):
        blob = bytes(hashlib.sha256(b"%d" % i).digest()[i % 32] for i in range(300 * 1024))
        dev = otk.start_device(self.tmp, profile="esp32", extra=["--once"])
        with dev:
            r = pyclient.upload("127.0.0.1", dev.port, blob, cmd=pyclient.SPIFFS)
            self.assertTrue(r.ok, r)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
            self.assertEqual(dev.wait_event("start")["cmd"], 100)
        info = otk.inspect(dev.flash)
        spiffs = [p for p in info["partitions"] if p["subtype"] == "spiffs"][0]
        with open(dev.flash, "rb") as f:
            f.seek(spiffs["offset"])
            self.assertEqual(f.read(len(blob)), blob)
        # The application is untouched.
        self.assertEqual(info["boot_slot"], 0)
        self.assertEqual(info["slots"][0]["version"], "0.0.0")
        self.assertFalse(info["fs"]["empty"])

    @otk.needs_firmware("esp32-arduino-idf3.3.bin")
    def test_real_esp32_image(self, path):
        data = otk.file_bytes(path)
        info = self.upload_and_boot("esp32", data, "9036908-dirty")
        self.assertEqual(info["slots"][1]["project"], "esp32-arduino-lib-builder")

    @otk.needs_firmware("esp8266-arduino.bin")
    def test_real_esp8266_image(self, path):
        data = otk.file_bytes(path)
        dev = otk.start_device(self.tmp, profile="esp8266", extra=["--once"])
        with dev:
            r = pyclient.upload("127.0.0.1", dev.port, data, chunk=1460)
            self.assertTrue(r.ok, r)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_slot"], 1)
        self.assertEqual(info["slots"][1]["verify"], "ok")
        self.assertEqual(info["slots"][1]["chip"], "esp8266")


if __name__ == "__main__":
    otk.main()
