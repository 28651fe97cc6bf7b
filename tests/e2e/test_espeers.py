# SPDX-License-Identifier: MIT
"""The tests' own ESPHome peers (espeers.py) against each other over 127.0.0.1: every client era
against every device era gives what the reference's era tables say; the auth answers are the
reference's vectors; chunk acks follow ESPHome's rule; Noise offered, required and with a wrong
key; every injected failure reaches the client as the device sent it. The uploader's and the
device's own tests rely on these peers behaving as the reference says; this is where that is
checked."""

import hashlib
import os
import unittest

import espeers as E
import otk

KEY = bytes(range(32))
KEY_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
DATA = bytes((i * 7 + i // 251) & 0xFF for i in range(20480))


def run(device_kw, client_kw, data=DATA):
    """One upload; returns (client result, the device's session, the device)."""
    with E.FakeEspDevice(**device_kw) as dev:
        r = E.upload("127.0.0.1", dev.port, data, **dict(dict(timeout=10), **client_kw))
        (s,) = dev.wait_sessions(1, timeout=15)
        return r, s, dev


def expected(dera, cera, password):
    """The outcome the reference's tables give: "ok", or the reason a pair fails."""
    if cera == "2023" and dera != "v1":
        return "version"  # 2023-era CLIs accept version 1 only
    if password and cera == "2024" and E._era_at_least(dera, "2026.1"):
        return "82"  # MD5 is gone from devices since 2026.1
    return "ok"


class EraMatrix(unittest.TestCase):
    def test_every_client_era_against_every_device_era(self):
        for dera in E.DEVICE_ERAS:
            for cera in E.CLIENT_ERAS:
                for pw in (None, "admin"):
                    with self.subTest(device=dera, client=cera, password=pw):
                        self.pair(dera, cera, pw)

    def pair(self, dera, cera, pw):
        r, s, dev = run(dict(era=dera, password=pw), dict(era=cera, password=pw))
        want = expected(dera, cera, pw)
        if want == "version":
            self.assertFalse(r.ok)
            self.assertIn("Unsupported OTA version 2", r.error)
            return
        if want == "82":
            self.assertEqual((r.ok, r.error_code, r.stage), (False, 0x82, "auth"))
            self.assertEqual(dev.images, [])
            return
        self.assertTrue(r.ok, r)
        self.assertEqual(dev.images, [DATA])
        self.assertTrue(s.end_ack)
        self.assertEqual(s.features, E.CLIENT_FEATURES[cera])
        extended = E._era_at_least(dera, "2026.5") and E._era_at_least(cera, "2026.5")
        self.assertEqual(r.feature_reply, 0x48 if extended else 0x40)
        self.assertEqual(s.ota_type, 0 if extended else None)
        acks = 0 if dera == "v1" else 3  # ceil(20480 / 8192)
        self.assertEqual((r.acks, s.acks), (acks, acks))
        if not pw:
            auth = "none"
        elif dera in ("v1", "2024") or cera == "2024":
            auth = "md5"  # 2024 devices challenge with MD5 whatever the client says
        else:
            auth = "sha256"
        self.assertEqual((r.auth, s.auth), (auth, auth))
        challenge = {"none": [], "md5": [0x01], "sha256": [0x02]}[auth]
        codes = ([0x00, r.feature_reply] + challenge + [0x41, 0x42, 0x43] + [0x47] * acks
                 + [0x44, 0x45])
        self.assertEqual(s.sent, codes)


class Auth(unittest.TestCase):
    NONCE64 = "0123456789abcdef" * 4
    CNONCE64 = "fedcba9876543210" * 4

    def test_sha256_vector(self):
        r, s, _ = run(dict(era="2026.5", password="admin", nonce=self.NONCE64),
                      dict(era="2026.5", password="admin", cnonce=self.CNONCE64))
        self.assertTrue(r.ok, r)
        self.assertEqual(s.response,
                         "f49678dde2c53010a902bcd8e0ed6547f03991a0f454ad16270c0d11f9aadad6")

    def test_sha256_empty_password_vector(self):
        # a device with the empty password does not challenge; the answer is checked alone
        self.assertEqual(
            hashlib.sha256((self.NONCE64 + self.CNONCE64).encode()).hexdigest(),
            "6d4fff3af2a78b85c721c6b8ae395eb25026b56d13abebe2cdab1d56e84b2180")

    def test_md5_vector(self):
        r, s, _ = run(dict(era="2024", password="admin", nonce=self.NONCE64[:32]),
                      dict(era="2024", password="admin", cnonce=self.CNONCE64[:32]))
        self.assertTrue(r.ok, r)
        self.assertEqual(s.response, "3e87f922714876a15d7d758b081c3dc8")

    def test_wrong_password(self):
        for dera, cera in (("2024", "2024"), ("2026.5", "2026.5")):
            r, s, dev = run(dict(era=dera, password="admin"), dict(era=cera, password="nope"))
            self.assertEqual((r.ok, r.error_code, r.stage), (False, 0x82, "auth"))
            self.assertEqual((s.auth_ok, dev.images), (False, []))

    def test_2025_10_device_gives_md5_to_old_clients(self):
        r, s, _ = run(dict(era="2025.10", password="pw"), dict(era="2024", password="pw"))
        self.assertEqual((r.ok, s.auth, len(s.nonce)), (True, "md5", 32))


class Acks(unittest.TestCase):
    def test_ceil_of_size_over_8192(self):
        for size, acks in ((1, 1), (8192, 1), (8193, 2), (16384, 2), (20480, 3)):
            r, s, _ = run(dict(era="2026.5"), dict(era="2026.5"), data=DATA[:size] or b"x")
            self.assertEqual((r.ok, r.acks, s.acks), (True, acks, acks), size)


class Features(unittest.TestCase):
    def test_compression_for_clients_that_can(self):
        for cera in ("2024", "2026.5"):
            r, s, dev = run(dict(era="2026.5", compression=True), dict(era=cera))
            self.assertTrue(r.ok, r)
            self.assertEqual(dev.images, [DATA])
            self.assertEqual(s.received[:2], b"\x1f\x8b")  # the gzip stream on the wire
            self.assertLess(s.size, len(DATA))
            self.assertEqual(r.feature_reply, 0x48 if cera == "2026.5" else 0x46)

    def test_other_ota_types_refused(self):
        r, s, dev = run(dict(era="2026.5"), dict(era="2026.5", ota_type=1))
        self.assertEqual((r.ok, r.error_code, r.stage), (False, 0x8E, "size"))
        self.assertEqual((s.ota_type, dev.images), (1, []))

    def test_too_big(self):
        r, _, dev = run(dict(era="2026.5", max_size=1000), dict(era="2026.5"))
        self.assertEqual((r.ok, r.error_code, r.stage), (False, 0x89, "size"))
        self.assertEqual(dev.images, [])


class Noise(unittest.TestCase):
    def test_offered_and_used(self):
        r, s, dev = run(dict(era="2026.9", key=KEY_B64, password="pw"),
                        dict(era="2026.9", key=KEY))
        self.assertTrue(r.ok, r)
        self.assertEqual((r.encrypted, s.encrypted, r.auth, s.auth), (True, True, "noise", "noise"))
        self.assertEqual((r.server_flags, s.features), (0x04, 0x0F))
        self.assertEqual(dev.images, [DATA])
        # every data frame carries 1024 bytes; control units one frame each
        self.assertEqual(s.frames_in, [1, 4, 32] + [1024] * 20 + [1])

    def test_offered_plaintext_still_challenged(self):
        r, s, _ = run(dict(era="2026.9", key=KEY, password="pw"),
                      dict(era="2026.5", password="pw"))
        self.assertEqual((r.ok, r.encrypted, s.auth, r.server_flags), (True, False, "sha256", 4))

    def test_required(self):
        for cera, code, words in (("2026.9", 0x94, "requires an encrypted upload"),
                                  ("2026.5", None, "Device closed connection"),
                                  ("2024", 0x94, "Unexpected response from ESP: 0x94")):
            r, s, dev = run(dict(era="2026.9", key=KEY, require_encryption=True),
                            dict(era=cera))
            self.assertFalse(r.ok)
            self.assertEqual(r.error_code, code, r)
            self.assertIn(words, r.error)
            self.assertEqual((s.sent, dev.images), ([0x00, 0x94], []))

    def test_wrong_key(self):
        r, s, dev = run(dict(era="2026.9", key=KEY, require_encryption=True),
                        dict(era="2026.9", key=bytes(range(1, 33))))
        self.assertEqual((r.ok, r.reject, s.handshake), (False, "Handshake MAC failure",
                                                          "mac failure"))
        self.assertIn("is the OTA encryption key correct?", r.error)
        self.assertEqual(dev.images, [])

    def test_keyed_client_fails_closed(self):
        for dera in ("2026.5", "2024"):
            r, s, dev = run(dict(era=dera), dict(era="2026.9", key=KEY))
            self.assertFalse(r.ok)
            self.assertIn("does not offer encryption", r.error)
            self.assertEqual(dev.images, [])
        r, s, dev = run(dict(era="2026.5"), dict(era="2026.9", key=KEY, fallback_plaintext=True))
        self.assertEqual((r.ok, r.encrypted), (True, False))

    def test_errors_inside_noise(self):
        r, s, dev = run(dict(era="2026.9", key=KEY, errors={"end": 0x93}),
                        dict(era="2026.9", key=KEY))
        self.assertEqual((r.ok, r.error_code, r.stage, r.encrypted), (False, 0x93, "end", True))


class Injection(unittest.TestCase):
    STEPS = {"magic": "magic", "features": "features", "auth": "auth", "prepare": "size",
             "md5": "md5", "receive": "receive", "end": "end"}

    def test_code_at_each_step(self):
        for step, stage in self.STEPS.items():
            r, s, dev = run(dict(era="2026.5", errors={step: 0x84}), dict(era="2026.5"))
            self.assertEqual((r.ok, r.error_code, r.stage), (False, 0x84, stage), step)
            self.assertEqual(dev.images, [])

    def test_code_mid_data(self):
        r, s, dev = run(dict(era="2026.5", data_error=(9000, 0x83)), dict(era="2026.5"))
        self.assertEqual((r.ok, r.error_code, r.stage), (False, 0x83, "data"))
        self.assertEqual((s.acks, dev.images), (1, []))

    def test_close_mid_data(self):
        r, s, dev = run(dict(era="2026.5", close_mid_data=9000), dict(era="2026.5"))
        self.assertEqual((r.ok, r.stage), (False, "data"))
        self.assertIn("Device closed connection", r.error)
        self.assertEqual(dev.images, [])

    def test_close_after_last_byte_commits(self):
        r, s, dev = run(dict(era="2026.5", close_after_last_byte=True), dict(era="2026.5"))
        self.assertEqual((r.ok, r.sent, dev.images), (False, len(DATA), [DATA]))
        self.assertIn("Device closed connection", r.error)

    def test_no_end_ack(self):
        r, s, dev = run(dict(era="2026.5", no_end_ack=True), dict(era="2026.5"))
        self.assertEqual((r.ok, r.stage, r.codes[-1], dev.images), (False, "end", 0x44, [DATA]))

    def test_unknown_version(self):
        r, s, dev = run(dict(era="2026.5", version=3), dict(era="2026.5"))
        self.assertEqual((r.ok, r.stage, r.version), (False, "magic", 3))
        self.assertIn("Unsupported OTA version 3", r.error)

    def test_delay_before_an_answer(self):
        import time
        t0 = time.monotonic()
        r, s, dev = run(dict(era="2026.5", delays={"prepare": 0.5}), dict(era="2026.5"))
        self.assertTrue(r.ok, r)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        r, s, dev = run(dict(era="2026.5", delays={"prepare": 3}), dict(era="2026.5", timeout=1))
        self.assertEqual((r.ok, r.stage, dev.images), (False, "size", []))

    def test_wrong_magic(self):
        import socket
        with E.FakeEspDevice(era="2026.5") as dev:
            with socket.create_connection(("127.0.0.1", dev.port), timeout=5) as c:
                c.sendall(b"\x6c\x26\xf7\x5c\x46")
                self.assertEqual(c.recv(10), b"\x80")
                self.assertEqual(c.recv(10), b"")


class CommandLine(unittest.TestCase):
    def test_client_against_device_processes(self):
        import json
        import subprocess
        import sys
        import tempfile
        d = tempfile.TemporaryDirectory(prefix="espeers-")
        self.addCleanup(d.cleanup)
        tmp = os.path.join(d.name, "img.bin")
        with open(tmp, "wb") as f:
            f.write(DATA)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "espeers.py")
        dev = subprocess.Popen([sys.executable, script, "device", "--era", "2026.9", "--key",
                                KEY_B64], stdout=subprocess.PIPE, text=True)
        try:
            port = int(dev.stdout.readline().split()[-1])
            cp = subprocess.run([sys.executable, script, "client", "--era", "2026.9", "--key",
                                 KEY_B64, "127.0.0.1", str(port), tmp], capture_output=True,
                                text=True, timeout=30)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assertTrue(json.loads(cp.stdout)["encrypted"])
            session = json.loads(dev.stdout.readline())
            self.assertEqual((session["committed"], session["auth"]), (True, "noise"))
        finally:
            dev.terminate()
            dev.wait(timeout=10)
            dev.stdout.close()


if __name__ == "__main__":
    otk.main()
