# SPDX-License-Identifier: MIT
"""Signed images end to end, keys and signatures made by `otakit image` (mbedTLS; no openssl):
the tampered-image corpus - unsigned, another key's, a flipped bit in the image and in the
signature, a truncated signature - is named by `otakit upload --trusted-key` before anything is
sent (exit 23), and refused by `otakit device --trusted-key` on both protocols and both profiles
when sent anyway (--force): ArduinoOTA's "Signature Verification Failed" (ESP32, 14) /
"ERROR[12]: Signature verification failed" (ESP8266), the native protocol's 0x8D. The old image
keeps booting, and the signed image is taken right after (lock and throttle released)."""

import os
import struct
import tempfile
import unittest
import zlib

import otk

OK, USAGE, REJECTED, SIGNATURE = 0, 2, 12, 23
ESP32_SIZE = 200000  # not 4 KiB aligned: the signer pads it with FF
ESP8266_SIZE = 100008  # 8 bytes of FF filler after the image proper


def read(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def write(path, data):
    with open(path, "wb") as f:
        f.write(bytes(data))
    return path


def fix_crc(data):
    """Recompute the CRC-32 of the SBv2 block at the start of the file's last sector."""
    b = len(data) - 4096
    data[b + 1196:b + 1200] = struct.pack("<I", zlib.crc32(bytes(data[b:b + 1196])))
    return data


class SignedImages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="otk-signed-")
        cls.tmp = cls._tmp.name
        cls.keys = {}
        for name, kind in (("p256", "p256"), ("p256b", "p256"), ("rsa2048", "rsa2048"),
                           ("rsa2048b", "rsa2048"), ("rsa3072", "rsa3072")):
            cls.keys[name] = cls.path(name + ".pem")
            cls.image("--gen-key", kind, "-o", cls.keys[name])
        # devices and the host are given the public half only
        for name in ("p256", "rsa2048"):
            cls.keys[name + ".pub"] = cls.path(name + ".pub")
            cls.image("--public-key", cls.keys[name], "-o", cls.keys[name + ".pub"])
        cls.corpus = {"esp32": cls.make_corpus("esp32", ESP32_SIZE, "p256", "p256b"),
                      "esp8266": cls.make_corpus("esp8266", ESP8266_SIZE, "rsa2048",
                                                 "rsa2048b")}

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp, name)

    @classmethod
    def image(cls, *args):
        cp = otk.run("image", *args)
        assert cp.returncode == 0, cp.stderr

    @classmethod
    def make_corpus(cls, chip, size, key, other):
        """{name: (path, what the host names, True if only the signature can tell)}; "good" is
        the correctly signed image."""
        plain = cls.path(chip + ".bin")
        otk.make_image(plain, chip, "2.0.0", size)
        good, wrong = cls.path(chip + ".signed"), cls.path(chip + ".other")
        cls.image("--input", plain, "--sign", cls.keys[key], "-o", good)
        cls.image("--input", plain, "--sign", cls.keys[other], "-o", wrong)
        g = read(good)
        c = {"good": (good, None, True), "unsigned": (plain, "no signature", True),
             "other-key": (wrong, "signed with another key" if chip == "esp32" else
                           "bad signature", True)}
        t = bytearray(g)
        # past the image proper (ESP32: the FF padding to 4 KiB; ESP8266: the image's own
        # filler): the image check passes, only the signature can tell
        t[size + 4 if chip == "esp32" else size - 4] ^= 0x01
        c["filler-bit"] = (write(cls.path(chip + ".filler"), t), "image changed after signing",
                           True)
        t = bytearray(g)
        t[size // 2] ^= 0x20  # inside a segment: the image's own checksum breaks too
        c["image-bit"] = (write(cls.path(chip + ".imgbit"), t), "image changed after signing",
                          False)
        t = bytearray(g)
        if chip == "esp32":
            t[len(t) - 4096 + 101 + 7] ^= 0x04  # in r of the ECDSA signature, CRC fixed
            fix_crc(t)
            c["sig-bit"] = (write(cls.path(chip + ".sigbit"), t), "bad signature", True)
            t = bytearray(g)
            t[len(t) - 4096 + 101 + 7] ^= 0x04  # CRC left as it was
            c["sig-bit-crc"] = (write(cls.path(chip + ".sigcrc"), t), "signature block damaged",
                                True)
            c["truncated"] = (write(cls.path(chip + ".trunc"), g[:len(g) - 3000]),
                              "signature block damaged", True)
        else:
            t[size + 100] ^= 0x04
            c["sig-bit"] = (write(cls.path(chip + ".sigbit"), t), "bad signature", True)
            t = bytearray(g)
            t[-3] = 0x02  # the trailer announces a 512-byte signature: another key size
            c["trailer"] = (write(cls.path(chip + ".trailer"), t), "signed with another key",
                            True)
            c["truncated"] = (write(cls.path(chip + ".trunc"), g[:len(g) - 1]), "no signature",
                              True)
        return c

    def upload(self, port, path, *extra):
        return otk.run("upload", "-i", "127.0.0.1", "-p", port, "-f", path, "--retries", "0",
                       *extra)

    def test_host_names_each_case_before_sending(self):
        # port 9 (discard): nothing is sent, the check comes first
        for chip, pub in (("esp32", "p256.pub"), ("esp8266", "rsa2048.pub")):
            for name, (path, says, _) in self.corpus[chip].items():
                if name == "good":
                    continue
                with self.subTest(chip=chip, case=name):
                    cp = self.upload(9, path, "--trusted-key", self.keys[pub])
                    self.assertEqual(cp.returncode, SIGNATURE, cp.stderr)
                    self.assertIn(says, cp.stderr)
                    self.assertIn("checked with --trusted-key", cp.stderr)
                    self.assertNotIn("Uploading", cp.stderr)

    def test_host_without_key_checks_what_it_can(self):
        # SBv2 carries its key: flipped bits and a damaged block are found without one
        for name in ("filler-bit", "image-bit", "sig-bit", "sig-bit-crc", "truncated"):
            path, says, _ = self.corpus["esp32"][name]
            with self.subTest(case=name):
                cp = self.upload(9, path)
                self.assertEqual(cp.returncode, SIGNATURE, cp.stderr)
                self.assertIn(says, cp.stderr)
                self.assertIn("checked without a key", cp.stderr)

    def test_host_key_of_the_wrong_kind(self):
        cp = self.upload(9, self.corpus["esp32"]["good"][0], "--trusted-key",
                         self.keys["rsa2048.pub"])
        self.assertEqual(cp.returncode, SIGNATURE, cp.stderr)
        self.assertIn("signed with another key", cp.stderr)
        cp = self.upload(9, self.corpus["esp32"]["good"][0], "--trusted-key",
                         self.path("missing.pem"))
        self.assertEqual(cp.returncode, USAGE, cp.stderr)
        self.assertIn("cannot read the key file", cp.stderr)

    def device_refuses_corpus(self, chip, protocol, pub):
        extra = ["--no-mdns", "--protocol", protocol, "--trusted-key", self.keys[pub]]
        with otk.start_device(self.tmp, profile=chip, extra=extra,
                              flash=self.path("%s-%s.flash" % (chip, protocol))) as dev:
            refused = 0
            for name, (path, says, sig_only) in self.corpus[chip].items():
                if name == "good":
                    continue
                with self.subTest(chip=chip, protocol=protocol, case=name):
                    start = len(dev.events)
                    cp = self.upload(dev.port, path, "--force", "--protocol",
                                     "arduino" if protocol == "arduino" else "esphome")
                    self.assertEqual(cp.returncode, REJECTED, cp.stderr)
                    err = dev.wait_event("error", start=start)
                    if sig_only:
                        self.assertIn("signature", err, err)
                        if protocol == "arduino":
                            self.assertIn("Signature", cp.stderr)
                        else:
                            self.assertIn("8D ERROR_SIGNATURE_INVALID", cp.stderr)
                    refused += 1
            # nothing was activated: the factory image still runs
            self.assertEqual([b["slot"] for b in dev.find("boot")], [0])
            self.assertGreaterEqual(refused, 6)
            # the signed image goes through at once: the lock and the throttle are free
            cp = self.upload(dev.port, self.corpus[chip]["good"][0], "--trusted-key",
                             self.keys[pub])
            self.assertEqual(cp.returncode, OK, cp.stderr)
            self.assertIn("valid, made with the trusted key", cp.stderr)
            boot = dev.wait_event("boot", timeout=20, where=lambda ev: ev["slot"] == 1)
            self.assertEqual(boot["version"], "2.0.0")

    def test_device_esp32_arduino(self):
        self.device_refuses_corpus("esp32", "arduino", "p256.pub")

    def test_device_esp32_native(self):
        self.device_refuses_corpus("esp32", "esphome", "p256.pub")

    def test_device_esp8266_arduino(self):
        self.device_refuses_corpus("esp8266", "arduino", "rsa2048.pub")

    def test_device_esp8266_native(self):
        self.device_refuses_corpus("esp8266", "esphome", "rsa2048.pub")

    def test_device_error_texts(self):
        """The profile's number and words, and the finding in the device's own report."""
        for chip, pub, text in (("esp32", "p256.pub", "Signature Verification Failed"),
                                ("esp8266", "rsa2048.pub", "Signature verification failed")):
            extra = ["--no-mdns", "--protocol", "arduino", "--trusted-key", self.keys[pub]]
            with otk.start_device(self.tmp, profile=chip, extra=extra,
                                  flash=self.path("%s-texts.flash" % chip)) as dev:
                cp = self.upload(dev.port, self.corpus[chip]["unsigned"][0], "--force")
                self.assertEqual(cp.returncode, REJECTED, cp.stderr)
                self.assertIn(text, cp.stderr)
                err = dev.wait_event("error")
                self.assertEqual(err["code"], 14 if chip == "esp32" else 12)
                self.assertEqual(err["text"], text)
                if chip == "esp8266":
                    self.assertIn("ERROR[12]: " + text, cp.stderr)
                self.assertEqual(err["signature"], "no signature")

    def test_device_refuses_key_of_the_wrong_kind(self):
        cp = otk.run("device", "--profile", "esp32", "--trusted-key", self.keys["rsa2048.pub"],
                     "--port", "0", "--flash", self.path("wk.flash"))
        self.assertEqual(cp.returncode, USAGE)
        self.assertIn("Secure Boot V2", cp.stderr)


if __name__ == "__main__":
    otk.main()
