# SPDX-License-Identifier: MIT
"""`otakit upload --protocol esphome|auto` against the tests' fake ESPHome devices (espeers.py)
over 127.0.0.1: every device era, passwords right, wrong and missing, Noise offered, required and
with a wrong key, a keyed upload to a device without Noise (fails closed), compression where the
device announces it, the device's error codes, a drop mid-data (retried) and a drop after the
last byte (not re-sent: checked and reported), and --protocol auto telling the two apart."""

import base64
import gzip
import json
import os
import subprocess
import threading

import espeers as E
import otk

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
OTHER_KEY_B64 = base64.b64encode(bytes(range(1, 33))).decode()

# exit codes (docs/CLI.md)
OK, NO_ANSWER, AUTH, TOO_BIG, MD5, REJECTED, DEVICE = 0, 5, 6, 9, 11, 12, 13
STALLED, DROPPED, ENCRYPTION, UNCONFIRMED = 14, 15, 19, 20


class NativeCase(otk.UploadCase):
    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.tmp, "app.bin")
        self.image = otk.make_image(self.path, size=100 * 1024 + 123, seed=7)

    def upload(self, dev, *extra, protocol="esphome", timeout=60):
        args = ["upload", "-i", "127.0.0.1", "-p", dev.port, "-f", self.path,
                "--protocol", protocol, "-d", *extra]
        return otk.run(*args, timeout=timeout)

    def assertCommitted(self, dev):
        dev.wait_sessions(len(dev.sessions))  # the device records its end after the host's
        self.assertEqual(len(dev.images), 1, dev.sessions)
        self.assertEqual(dev.images[0], self.image)


class Eras(NativeCase):
    def test_every_device_era_without_password(self):
        for era in ("2024", "v1", "2025.10", "2026.1", "2026.5", "2026.9"):
            with self.subTest(era=era), E.FakeEspDevice(era=era) as dev:
                cp = self.upload(dev)
                self.assertExit(cp, OK, "protocol: esphome")
                self.assertCommitted(dev)
                (s,) = dev.wait_sessions(1)
                # SHA-256 auth and the extended protocol, gzip offered (the build has zlib), and
                # otakit's 0x80 (RESUME and DEFLATE asked), which an ESPHome device ignores: the rest of
                # the exchange is ESPHome's
                self.assertEqual(s.features, 0x87)
                self.assertEqual(s.extended, era in ("2026.5", "2026.9"))
                self.assertEqual(s.ota_type, 0 if s.extended else None)
                self.assertEqual(s.acks, 0 if era == "v1" else 13)  # ceil(102523 / 8192)
                self.assertTrue(s.end_ack)

    def test_no_resume_sends_esphome_features(self):
        # asking for nothing of otakit's (neither RESUME nor DEFLATE): no 0x80 at all
        with E.FakeEspDevice(era="2026.5") as dev:
            cp = self.upload(dev, "--no-resume", "--no-compress")
            self.assertExit(cp, OK)
            self.assertCommitted(dev)
            self.assertEqual(dev.wait_sessions(1)[0].features, 0x07)

    def test_passwords_of_each_era(self):
        for era, method in (("2024", "md5"), ("2025.10", "sha256"), ("2026.5", "sha256")):
            with self.subTest(era=era), E.FakeEspDevice(era=era, password="s3cret") as dev:
                cp = self.upload(dev, "-a", "s3cret")
                self.assertExit(cp, OK)
                self.assertCommitted(dev)
                self.assertEqual(dev.wait_sessions(1)[0].auth, method)

    def test_wrong_and_missing_password(self):
        with E.FakeEspDevice(era="2026.5", password="s3cret") as dev:
            cp = self.upload(dev, "-a", "wrong")
            self.assertExit(cp, AUTH, "rejected the password", "82 ERROR_AUTH_INVALID")
            cp = self.upload(dev)
            self.assertExit(cp, AUTH, "requires a password", "-a/--auth")
            self.assertEqual(dev.images, [])
            # a wrong password is never retried
            self.assertEqual(len(dev.sessions), 2)


class Noise(NativeCase):
    def test_offered_and_used(self):
        with E.FakeEspDevice(era="2026.9", key=KEY) as dev:
            cp = self.upload(dev, "--key", KEY_B64)
            self.assertExit(cp, OK, "Noise handshake done")
            self.assertCommitted(dev)
            (s,) = dev.wait_sessions(1)
            self.assertTrue(s.encrypted)
            self.assertEqual(s.features, 0x8F)  # otakit's 0x80 in the prologue too
            self.assertEqual(s.auth, "noise")
            # one control unit a frame, data in frames of at most 1024 bytes (+ 16 tag)
            self.assertTrue(all(n <= 1024 + 16 for n in s.frames_in))

    def test_offered_without_a_key_goes_plaintext_with_the_password(self):
        with E.FakeEspDevice(era="2026.9", key=KEY, password="pw") as dev:
            cp = self.upload(dev, "-a", "pw")
            self.assertExit(cp, OK)
            s = dev.wait_sessions(1)[0]
            self.assertFalse(s.encrypted)
            self.assertEqual(s.auth, "sha256")

    def test_wrong_key(self):
        with E.FakeEspDevice(era="2026.9", key=KEY, require_encryption=True) as dev:
            cp = self.upload(dev, "--key", OTHER_KEY_B64)
            self.assertExit(cp, AUTH, "refused the encryption handshake",
                            "Handshake MAC failure")
            self.assertEqual(dev.images, [])
            self.assertEqual(dev.wait_sessions(1)[0].received, b"")

    def test_required_and_no_key(self):
        with E.FakeEspDevice(era="2026.9", key=KEY, require_encryption=True) as dev:
            cp = self.upload(dev)
            self.assertExit(cp, ENCRYPTION, "requires encryption", "--key")
            self.assertEqual(dev.images, [])

    def test_key_to_a_device_without_noise_fails_closed(self):
        for era in ("2024", "2026.5"):
            with self.subTest(era=era), E.FakeEspDevice(era=era) as dev:
                cp = self.upload(dev, "--key", KEY_B64)
                self.assertExit(cp, ENCRYPTION, "does not offer encryption",
                                "does not send the image in plaintext")
                (s,) = dev.wait_sessions(1)
                self.assertIsNone(s.size)  # not even the size went out
                self.assertEqual(s.received, b"")

    def test_bad_key_text(self):
        cp = otk.run("upload", "-i", "127.0.0.1", "-f", self.path, "--key", "abc")
        self.assertExit(cp, 2, "--key", "44 characters of base64")


class Compression(NativeCase):
    def test_gzip_only_where_announced(self):
        with E.FakeEspDevice(era="2024", compression=True) as dev:
            cp = self.upload(dev)
            self.assertExit(cp, OK, "sending the gzip stream")
            self.assertCommitted(dev)  # the device inflated it back
            s = dev.wait_sessions(1)[0]
            self.assertEqual(s.received[:2], b"\x1f\x8b")
            self.assertEqual(gzip.decompress(s.received), self.image)
            self.assertLess(s.size, len(self.image))
        with E.FakeEspDevice(era="2026.5") as dev:
            self.assertExit(self.upload(dev), OK)
            self.assertEqual(dev.wait_sessions(1)[0].size, len(self.image))


class DeviceErrors(NativeCase):
    def test_codes_map_to_causes(self):
        cases = [
            ({"errors": {"prepare": 0x89}}, TOO_BIG, "no room for the image"),
            ({"max_size": 1000}, TOO_BIG, "89 ERROR_ESP32_NOT_ENOUGH_SPACE"),
            ({"errors": {"end": 0x93}}, REJECTED, "downgrade protection"),
            ({"errors": {"end": 0x8D}}, REJECTED, "not signed"),
            ({"errors": {"prepare": 0x8A}}, DEVICE, "no OTA partition"),
            ({"errors": {"receive": 0x83}}, DEVICE, "writing to its flash failed"),
        ]
        for kw, code, phrase in cases:
            with self.subTest(kw=kw), E.FakeEspDevice(era="2026.5", **kw) as dev:
                cp = self.upload(dev, "--retries", "0")
                self.assertExit(cp, code, phrase)
                self.assertEqual(dev.images, [])

    def test_every_code_has_its_exit_code_and_words(self):
        # reference §2: what each code means for the upload; sent instead of 42 (after the size)
        expect = {0x80: DEVICE, 0x81: DEVICE, 0x82: DEVICE, 0x83: DEVICE, 0x84: REJECTED,
                  0x85: DEVICE, 0x86: REJECTED, 0x87: REJECTED, 0x88: TOO_BIG, 0x89: TOO_BIG,
                  0x8A: DEVICE, 0x8B: MD5, 0x8C: TOO_BIG, 0x8D: REJECTED, 0x8E: DEVICE,
                  0x8F: REJECTED, 0x90: DEVICE, 0x91: REJECTED, 0x92: DEVICE, 0x93: REJECTED,
                  0x94: DEVICE, 0xFF: DEVICE}
        with E.FakeEspDevice(era="2026.5") as dev:
            for code, exit_code in expect.items():
                with self.subTest(code="%02X" % code):
                    dev.errors = {"prepare": code}
                    cp = self.upload(dev, "--retries", "0")
                    self.assertExit(cp, exit_code, "%02X" % code)
                    self.assertRegex(cp.stderr, "\n  fix: .{20,}")
            self.assertEqual(dev.images, [])
        # FF while the data flows: the device waited for data in vain (retried)
        with E.FakeEspDevice(era="2026.5", data_error=(20000, 0xFF)) as dev:
            cp = self.upload(dev, "--retries", "0")
            self.assertExit(cp, STALLED, "gave up waiting for data")

    def test_md5_mismatch_is_retried(self):
        with E.FakeEspDevice(era="2026.5", errors={"end": 0x8B}) as dev:
            cp = self.upload(dev, "--retries", "1")
            self.assertExit(cp, MD5, "8B ERROR_MD5_MISMATCH", "attempt 2 of 2")
            # the device said it did not commit: the image went out again
            self.assertEqual(len([s for s in dev.sessions if s.size]), 2)

    def test_json_names_protocol_and_code(self):
        with E.FakeEspDevice(era="2026.5", errors={"prepare": 0x81}) as dev:
            cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", self.path,
                         "--protocol", "esphome", "--json", "--retries", "0")
            result = [json.loads(l) for l in cp.stdout.splitlines()
                      if json.loads(l)["event"] == "result"][0]
            self.assertEqual(result["protocol"], "esphome")
            self.assertEqual(result["error"], "device-error")
            self.assertEqual(result["device_text"], "81 ERROR_UPDATE_PREPARE")


class Drops(NativeCase):
    def test_drop_mid_data_is_retried(self):
        with E.FakeEspDevice(era="2026.5", close_mid_data=40000) as dev:
            def heal():
                dev.wait_sessions(1)
                dev.close_mid_data = None
            t = threading.Thread(target=heal, daemon=True)
            t.start()
            cp = self.upload(dev)
            t.join(5)
            self.assertExit(cp, OK, "attempt 1 of 3 failed (dropped)")
            self.assertCommitted(dev)

    def test_drop_after_the_last_byte_is_not_resent(self):
        with E.FakeEspDevice(era="2026.5", close_after_last_byte=True) as dev:
            cp = self.upload(dev, "--result-timeout", "5")
            self.assertExit(cp, UNCONFIRMED, "had the whole image",
                            "did not send the image again")
            with_data = [s for s in dev.sessions if s.received]
            self.assertEqual(len(with_data), 1)  # no second copy, whatever --retries says
            self.assertEqual(len(dev.images), 1)
            # the check: a probe that the fake device answered (it does not restart)
            self.assertGreaterEqual(len(dev.sessions), 2)
            self.assertIn("answering again", cp.stderr)

    def test_no_verdict_after_receive_ok(self):
        with E.FakeEspDevice(era="2024", no_end_ack=True) as dev:
            cp = self.upload(dev, "--result-timeout", "5")
            self.assertExit(cp, UNCONFIRMED, "without its verdict")
            self.assertEqual(len([s for s in dev.sessions if s.received]), 1)

    def test_nothing_listens(self):
        port = otk.free_port("tcp")
        cp = otk.run("upload", "-i", "127.0.0.1", "-p", port, "-f", self.path,
                     "--protocol", "esphome", "--retries", "0")
        self.assertExit(cp, NO_ANSWER, "refused the TCP connection", "--protocol arduino")


class Several(NativeCase):
    def test_two_devices_in_one_run(self):
        with E.FakeEspDevice(era="2026.9", key=KEY) as a, E.FakeEspDevice(era="2024") as b:
            cp = otk.run("upload", "-i", "127.0.0.1:%d" % a.port, "-i", "127.0.0.1:%d" % b.port,
                         "-f", self.path, "--key", KEY_B64, "--json")
            # the key goes to both: the 2024 device offers no encryption and gets nothing
            results = {e["target"]: e for e in map(json.loads, cp.stdout.splitlines())
                       if e["event"] == "result"}
            self.assertTrue(results["127.0.0.1:%d" % a.port]["ok"])
            self.assertEqual(results["127.0.0.1:%d" % b.port]["error"], "encryption")
            self.assertCommitted(a)
            self.assertEqual(b.images, [])
        with E.FakeEspDevice(era="2026.5") as a, E.FakeEspDevice(era="v1") as b:
            cp = otk.run("upload", "-i", "127.0.0.1:%d" % a.port, "-i", "127.0.0.1:%d" % b.port,
                         "-f", self.path, "--protocol", "esphome")
            self.assertEqual(cp.returncode, OK, cp.stderr)
            self.assertCommitted(a)
            self.assertCommitted(b)


class Auto(NativeCase):
    def test_auto_finds_the_native_port(self):
        with E.FakeEspDevice(era="2026.5") as dev:
            cp = self.upload(dev, protocol="auto")
            self.assertExit(cp, OK, "answered the native magic with version 2",
                            "protocol: esphome")
            self.assertCommitted(dev)

    def test_auto_falls_back_to_arduino(self):
        # no TCP listener on the port: ArduinoOTA's UDP invitation goes out
        with otk.start_device(self.tmp) as dev:
            cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", self.path,
                         "--protocol", "auto", "-d")
            self.assertExit(cp, OK, "protocol: arduino", "sent invitation")

    def test_spiffs_needs_arduino(self):
        with E.FakeEspDevice(era="2026.5") as dev:
            cp = self.upload(dev, "-s")
            self.assertExit(cp, 2, "application images only")


if __name__ == "__main__":
    otk.main()
