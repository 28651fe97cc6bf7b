# SPDX-License-Identifier: MIT
"""Bad uploads are refused with the text the real cores send, and the old image still boots."""

import os
import tempfile
import time
import unittest

import otk
import pyclient

KB = 1024


class ErrorTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-e2e-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def refused(self, profile, data, **client_kw):
        """Upload to a --once device that must fail: returns (client result, error event)
        after checking exit status 1 and that the factory image still boots."""
        dev = otk.start_device(self.tmp, profile=profile, extra=["--once"])
        with dev:
            client_kw.setdefault("chunk", 1460 if profile == "esp8266" else 1024)
            client_kw.setdefault("timeout", 5.0)
            r = pyclient.upload("127.0.0.1", dev.port, data, **client_kw)
            self.assertFalse(r.ok, r)
            self.assertEqual(dev.wait_exit(30), 1, dev.stderr())
            err = dev.wait_event("error")
            self.assertEqual(dev.find("end"), [])
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_slot"], 0)
        self.assertEqual(info["slots"][0]["version"], "0.0.0")
        self.assertEqual(info["slots"][0]["state"], "active")
        self.assertEqual(info["otadata"][0]["seq"], 0xFFFFFFFF)  # otadata untouched
        self.assertEqual(info["otadata"][1]["seq"], 0xFFFFFFFF)
        return r, err

    def image(self, chip, size, version="9.9.9"):
        return otk.make_image(os.path.join(self.tmp, "img-%s.bin" % chip), chip, version, size)

    def test_esp32_wrong_md5(self):
        data = self.image("esp32", 200 * KB)
        r, err = self.refused("esp32", data, md5="0" * 32)
        self.assertEqual(r.trailer, "MD5 Check Failed")
        self.assertEqual(err["ota_error"], 4)
        self.assertEqual(err["code"], 7)

    def test_esp8266_wrong_md5(self):
        data = self.image("esp8266", 200 * KB)
        r, err = self.refused("esp8266", data, md5="0" * 32)
        self.assertTrue(r.trailer.startswith("ERROR[7]: MD5 verification failed: expected: "
                                             + "0" * 32 + ", calculated: "), r.trailer)
        self.assertIn(pyclient.md5_hex(data), r.trailer)

    def test_esp32_wrong_magic(self):
        data = bytearray(self.image("esp32", 64 * KB))
        data[0] = 0x00
        r, err = self.refused("esp32", bytes(data))
        self.assertEqual(r.trailer, "Wrong Magic Byte")
        self.assertEqual(err["code"], 8)

    def test_esp8266_wrong_magic(self):
        data = bytearray(self.image("esp8266", 64 * KB))
        data[0] = 0x00
        r, err = self.refused("esp8266", bytes(data))
        self.assertEqual(r.trailer, "ERROR[10]: Magic byte is not 0xE9")

    def test_esp32_broken_checksum(self):
        data = bytearray(self.image("esp32", 128 * KB))
        data[len(data) // 2] ^= 0x55  # inside a segment: checksum and SHA-256 break
        r, err = self.refused("esp32", bytes(data))
        self.assertEqual(r.trailer, "Could Not Activate The Firmware")
        self.assertEqual(err["code"], 9)

    def test_esp8266_broken_checksum(self):
        data = bytearray(self.image("esp8266", 128 * KB))
        data[40] ^= 0x55  # inside the first segment
        r, err = self.refused("esp8266", bytes(data))
        self.assertTrue(r.trailer.startswith("ERROR["), r.trailer)

    def test_esp8266_image_on_esp32(self):
        data = self.image("esp8266", 128 * KB)
        r, err = self.refused("esp32", data)
        # refused by the image's head, before anything is erased (otakit error 23)
        self.assertEqual(r.trailer, "Image For Another Chip")
        self.assertEqual(err["code"], 23)

    def test_other_esp32_family_chips_on_esp32(self):
        # an image of another chip of the family (its header's chip id), refused by its head
        for chip in ("esp32c3", "esp32s3"):
            data = self.image(chip, 128 * KB)
            r, err = self.refused("esp32", data)
            self.assertEqual(r.trailer, "Image For Another Chip", chip)
            self.assertEqual(err["code"], 23, chip)

    def test_esp32_image_on_esp8266(self):
        data = self.image("esp32", 128 * KB)
        r, err = self.refused("esp8266", data)
        self.assertEqual(r.trailer, "ERROR[23]: Image For Another Chip")
        self.assertEqual(err["code"], 23)

    def test_esp32_too_big(self):
        # The stock ESP32 core fails Update.begin() silently (the host only sees its accept
        # time out); otakit begins before it answers, so the refusal goes back on UDP.
        r, err = self.refused("esp32", b"\xe9" * 1024, size=3 * 1024 * 1024, timeout=2.0)
        self.assertEqual(r.stage, "invite")
        self.assertTrue(r.invite_reply.startswith("ERR: "), r.invite_reply)
        self.assertIn("Bad Size Given", r.invite_reply)
        self.assertEqual(err["ota_error"], 1)
        self.assertEqual(err["code"], 5)

    def test_esp8266_too_big(self):
        # The ESP8266 core reports a failed begin on UDP.
        r, err = self.refused("esp8266", b"\xe9" * 1024, size=3 * 1024 * 1024)
        self.assertEqual(r.stage, "invite")
        self.assertEqual(r.invite_reply.strip(), "ERR: ERROR[4]: Not Enough Space")
        self.assertEqual(err["ota_error"], 1)

    def test_esp32_more_bytes_than_announced(self):
        # ESP32: a write beyond the announced size aborts with "Not Enough Space".
        data = self.image("esp32", 64 * KB)
        # Streamed, so the device's 1460-byte reads straddle the announced end.
        r, err = self.refused("esp32", data + b"\0" * 4096, size=len(data),
                              md5=pyclient.md5_hex(data), stream=True)
        self.assertEqual(r.trailer, "Not Enough Space")

    def test_esp32_host_disconnects(self):
        data = self.image("esp32", 256 * KB)
        r, err = self.refused("esp32", data, stop_after=100 * KB)
        self.assertIn(err["ota_error"], (3, 4))
        self.assertLess(err["bytes"], len(data))

    def test_esp32_host_stalls(self):
        # ESP32: 1 s without data, then up to 3 re-sent acks 1 s apart, then it gives up.
        data = self.image("esp32", 64 * KB)
        t0 = time.monotonic()
        r, err = self.refused("esp32", data, stop_after=20 * KB, stop_mode="stall",
                              timeout=10.0)
        self.assertGreater(time.monotonic() - t0, 3.5)
        self.assertEqual(err["ota_error"], 3)
        self.assertEqual(err["bytes"], 20 * KB)
        # 20 acks of the chunks, then the last ack repeated 3 times as a nudge.
        acks = r.tcp_text[:len(r.tcp_text) - len(pyclient.split_trailer(r.tcp_text))]
        self.assertEqual(acks, "1024" * 23)


if __name__ == "__main__":
    otk.main()
