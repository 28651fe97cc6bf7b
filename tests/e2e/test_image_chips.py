# SPDX-License-Identifier: MIT
"""`otakit image --chip` for every chip otakit knows, read back by `otakit inspect`: the chip
its header names, a verified image with its app description; an unknown chip and a size
beyond the chip's code window are usage errors that write nothing."""

import os
import tempfile
import unittest

import otk

CHIPS = {  # name -> image chip id, as esptool writes it
    "esp32": 0, "esp32s2": 2, "esp32c3": 5, "esp32s3": 9, "esp32c2": 12, "esp32c6": 13,
    "esp32h2": 16, "esp32p4": 18, "esp32c61": 20, "esp32c5": 23,
}


class ImageChipsTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-e2e-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_every_chip(self):
        for name, chip_id in CHIPS.items():
            path = os.path.join(self.tmp, name + ".bin")
            data = otk.make_image(path, name, "4.5.6", 70000)
            self.assertEqual(len(data), 70000)
            self.assertEqual(data[12] | data[13] << 8, chip_id, name)
            info = otk.inspect(path)
            self.assertEqual(info["chip"], name)
            self.assertEqual(info["chip_id"], chip_id)
            self.assertEqual(info["verify"], "ok", info)
            self.assertEqual(info["version"], "4.5.6")
            self.assertTrue(info["hash_appended"])

    def test_refusals(self):
        out = os.path.join(self.tmp, "x.bin")
        cp = otk.run("image", "--chip", "esp32x", "--version", "1", "--size", "4096", "-o", out)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("unknown chip: esp32x", cp.stderr)
        # the ESP32-C2's code window is 4 MB
        cp = otk.run("image", "--chip", "esp32c2", "--version", "1", "--size", "5M", "-o", out)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("outside what an esp32c2 image can be", cp.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    otk.main()
