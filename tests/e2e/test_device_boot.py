# SPDX-License-Identifier: MIT
"""The boot model: an image that crashes before confirming is rolled back; a power cut at any
flash operation of an update leaves a bootable device that accepts the next update."""

import os
import shutil
import tempfile
import unittest

import otk
import pyclient

KB = 1024


class BootTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-e2e-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_crash_on_boot_rolls_back(self):
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "5.0.0", 256 * KB)
        dev = otk.start_device(self.tmp, extra=["--once", "--crash-on-boot"])
        with dev:
            r = pyclient.upload("127.0.0.1", dev.port, data)
            self.assertTrue(r.ok, r)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
            boots = dev.find("boot")
            self.assertEqual([b["version"] for b in boots], ["0.0.0", "5.0.0", "0.0.0"])
            self.assertEqual(boots[1]["state"], "pending-verify")
            crash = dev.wait_event("crash")
            self.assertEqual(crash["version"], "5.0.0")
            self.assertTrue(boots[2]["rolled_back"])
            self.assertEqual(boots[2]["slot"], 0)
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_slot"], 0)
        self.assertEqual(info["slots"][0]["version"], "0.0.0")
        self.assertEqual(info["slots"][1]["version"], "5.0.0")
        self.assertEqual(info["slots"][1]["state"], "aborted")

        # Without the crash the same device takes the update again and keeps it.
        dev = otk.start_device(self.tmp, extra=["--once"])
        with dev:
            self.assertEqual(dev.wait_event("boot")["version"], "0.0.0")
            r = pyclient.upload("127.0.0.1", dev.port, data)
            self.assertTrue(r.ok, r)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
        self.assertEqual(otk.inspect(dev.flash)["boot_version"], "5.0.0")

    def test_pre_erase_between_updates(self):
        a = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "7.0.0", 200 * KB)
        b = otk.make_image(os.path.join(self.tmp, "b.bin"), "esp32", "7.1.0", 200 * KB)
        dev = otk.start_device(self.tmp, extra=["--pre-erase"])
        with dev:
            first = dev.wait_event("log", where=lambda e: e["text"].startswith("pre-erase:"))
            self.assertIn("slot 1 is erased", first["text"])
            self.assertTrue(pyclient.upload("127.0.0.1", dev.port, a).ok)
            # rebooted into 7.0.0 (slot 1), confirmed: now the factory image in slot 0 goes
            ev = dev.wait_event("log", 30, where=lambda e: e["text"].startswith("pre-erase: slot 0"))
            self.assertIn("is erased", ev["text"])
            info = otk.inspect(dev.flash)
            self.assertEqual(info["boot_version"], "7.0.0")
            self.assertTrue(info["slots"][0]["empty"], info["slots"][0])
            with open(dev.flash, "rb") as f:
                f.seek(info["slots"][0]["offset"])
                self.assertEqual(f.read(info["slots"][0]["size"]).count(b"\xff"),
                                 info["slots"][0]["size"])
            self.assertTrue(pyclient.upload("127.0.0.1", dev.port, b).ok)
            dev.wait_event("boot", 30, where=lambda e: e["version"] == "7.1.0")
        self.assertEqual(otk.inspect(dev.flash)["boot_version"], "7.1.0")

    def test_fallback_and_no_boot(self):
        data = otk.make_image(os.path.join(self.tmp, "a.bin"), "esp32", "6.0.0", 128 * KB)
        dev = otk.start_device(self.tmp, extra=["--once"])
        with dev:
            self.assertTrue(pyclient.upload("127.0.0.1", dev.port, data).ok)
            self.assertEqual(dev.wait_exit(30), 0)
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_slot"], 1)

        def corrupt(slot):
            with open(dev.flash, "r+b") as f:
                f.seek(info["slots"][slot]["offset"] + 64 * KB)
                b = f.read(1)
                f.seek(-1, 1)
                f.write(bytes([b[0] ^ 0xFF]))

        # The selected slot no longer verifies: the bootloader falls back to the other one.
        corrupt(1)
        after = otk.inspect(dev.flash)
        self.assertEqual(after["slots"][1]["state"], "corrupt")
        self.assertEqual(after["boot_slot"], 0)
        self.assertTrue(after["fallback"])
        dev = otk.start_device(self.tmp, extra=["--once"])
        with dev:
            boot = dev.wait_event("boot")
            self.assertTrue(boot["fallback"])
            self.assertEqual(boot["selected_slot"], 1)
            self.assertEqual(boot["slot"], 0)
            self.assertEqual(boot["version"], "0.0.0")
            # Updates go to the slot that is not running: the broken one.
            self.assertTrue(pyclient.upload("127.0.0.1", dev.port, data).ok)
            self.assertEqual(dev.wait_exit(30), 0)
        self.assertEqual(otk.inspect(dev.flash)["boot_version"], "6.0.0")

        # Nothing verifies: the device cannot start (status 3).
        corrupt(0)
        corrupt(1)
        self.assertEqual(otk.inspect(dev.flash)["boot_slot"], -1)
        dev = otk.start_device(self.tmp, extra=["--once"], wait=False)
        with dev:
            self.assertEqual(dev.wait_exit(30), 3)
            self.assertTrue(dev.find("no_boot"))
            self.assertEqual(dev.find("listening"), [])

    def run_cut(self, profile, flash, data, cut):
        """Upload with a power cut at flash op `cut`; returns the exit status."""
        dev = otk.start_device(self.tmp, profile=profile, flash=flash,
                               extra=["--once", "--cut-at", cut])
        with dev:
            pyclient.upload("127.0.0.1", dev.port, data, timeout=5.0,
                            chunk=1460 if profile == "esp8266" else 1024)
            code = dev.wait_exit(30)
            if code == 99:
                ex = dev.wait_event("exit")
                self.assertTrue(ex.get("power_cut"))
                self.assertEqual(ex["flash_ops"], cut)
            return code

    def check_power_cuts(self, profile, size, every=False, sample=None):
        old = otk.make_image(os.path.join(self.tmp, "old.bin"), profile, "1.0.0", size, seed=1)
        new = otk.make_image(os.path.join(self.tmp, "new.bin"), profile, "2.0.0", size, seed=2)
        after = otk.make_image(os.path.join(self.tmp, "after.bin"), profile, "3.0.0", size,
                               seed=3)

        def fresh_flash(name):
            """A flash that runs 1.0.0, confirmed, in slot 1: the next update goes to slot 0."""
            flash = os.path.join(self.tmp, name)
            dev = otk.start_device(self.tmp, profile=profile, flash=flash, extra=["--once"])
            with dev:
                self.assertTrue(pyclient.upload("127.0.0.1", dev.port, old).ok)
                self.assertEqual(dev.wait_exit(30), 0)
            return flash

        base = fresh_flash("base.flash")
        ref = os.path.join(self.tmp, "ref.flash")
        shutil.copyfile(base, ref)
        # Count the operations of a whole update (including the reboot's otadata writes).
        dev = otk.start_device(self.tmp, profile=profile, flash=ref, extra=["--once"])
        with dev:
            self.assertTrue(pyclient.upload("127.0.0.1", dev.port, new).ok)
            self.assertEqual(dev.wait_exit(30), 0)
            total = dev.wait_event("exit")["flash_ops"]
        self.assertGreater(total, 4)

        if every:
            cuts = range(1, total + 1)
        else:
            points = sample(total) if sample else (1, 2, 3, total // 3, total // 2, total - 3,
                                                   total - 2, total - 1, total)
            cuts = sorted({c for c in points if 1 <= c <= total})
        for cut in cuts:
            with self.subTest(profile=profile, cut=cut, total=total):
                flash = os.path.join(self.tmp, "cut-%d.flash" % cut)
                shutil.copyfile(base, flash)
                code = self.run_cut(profile, flash, new, cut)
                self.assertEqual(code, 99)
                # Power back on: something valid boots, and a fresh update works.
                dev = otk.start_device(self.tmp, profile=profile, flash=flash,
                                       extra=["--once"])
                with dev:
                    boot = dev.wait_event("boot")
                    self.assertIn(boot["version"], ("1.0.0", "2.0.0"), boot)
                    self.assertEqual(boot["verify"], "ok")
                    self.assertFalse(boot["fallback"], boot)
                    r = pyclient.upload("127.0.0.1", dev.port, after,
                                        chunk=1460 if profile == "esp8266" else 1024)
                    self.assertTrue(r.ok, r)
                    self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
                info = otk.inspect(flash)
                self.assertEqual(info["boot_version"], "3.0.0")
                self.assertEqual(info["slots"][info["boot_slot"]]["state"], "active")

    def test_power_cut_esp32(self):
        self.check_power_cuts("esp32", 192 * KB)

    def test_power_cut_esp32_every_op(self):
        # A small image, cut at every single flash operation of the update and the reboot.
        self.check_power_cuts("esp32", 20 * KB, every=True)

    def test_power_cut_esp8266(self):
        # Fewer points: every ESP8266 upload ends with the core's two 1 s pauses.
        self.check_power_cuts("esp8266", 160 * KB, sample=lambda t: (1, t // 2, t - 2, t - 1, t))


if __name__ == "__main__":
    otk.main()
