# SPDX-License-Identifier: MIT
"""`otakit upload` against `otakit device`: every profile and auth variant, with and without a
password, app and filesystem images, espota.py command lines as PlatformIO and the Arduino IDE
write them; the device boots the new version afterwards."""

import json
import re
import os
import tempfile
import unittest

import otk

KB = 1024


def upload(*args, timeout=60):
    return otk.run("upload", *args, timeout=timeout)


class UploadProfiles(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-upload-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def app_upload(self, profile, version, password=None, auth_variant=None,
                   password_hash=None, args=None, size=400 * KB, image=None):
        """Upload an app image to a fresh --once device; returns (completed process, inspect)."""
        chip = "esp8266" if profile == "esp8266" else "esp32"
        if image is None:
            image = os.path.join(self.tmp, "app.bin")
            otk.make_image(image, chip, version, size)
        dev = otk.start_device(self.tmp, profile=profile, password=password,
                               auth_variant=auth_variant, password_hash=password_hash,
                               extra=["--once"])
        with dev:
            if args is None:
                args = ["-i", "127.0.0.1", "-p", dev.port, "-f", image]
                if password:
                    args += ["-a", password]
            else:
                args = [a.format(port=dev.port, image=image) for a in args]
            cp = upload(*args)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_version"], version, info)
        slot = info["slots"][info["boot_slot"]]
        self.assertEqual(slot["version"], version)
        self.assertEqual(slot["verify"], "ok")
        return cp, info

    # --- app images, each profile and auth variant ---

    def test_esp32_pbkdf2_password(self):
        cp, _ = self.app_upload("esp32", "3.1.0", password="OTAPASSWORD")
        self.assertIn("authenticating (PBKDF2-HMAC-SHA256)", cp.stderr)
        self.assertIn("OK: 409600 bytes", cp.stderr)

    def test_esp32_md5_password(self):
        cp, _ = self.app_upload("esp32", "3.0.9", password="admin", auth_variant="md5")
        self.assertIn("authenticating (MD5)", cp.stderr)

    def test_esp8266_md5_password(self):
        cp, _ = self.app_upload("esp8266", "2.7.4", password="OTAPASSWORD")
        self.assertIn("authenticating (MD5)", cp.stderr)

    def test_esp32_no_password(self):
        cp, _ = self.app_upload("esp32", "1.0.1")
        self.assertNotIn("authenticating", cp.stderr)

    def test_esp8266_no_password(self):
        self.app_upload("esp8266", "1.0.2")

    def test_pbkdf2_device_with_md5_hash_falls_back(self):
        # arduino-esp32 >= 3.3.1 with setPasswordHash(<MD5 hex>): SHA-256 try fails, then the
        # MD5 hash with a fresh invitation works - as the newest espota.py does
        md5_admin = "21232f297a57a5a743894a0e4a801fc3"
        cp, _ = self.app_upload("esp32", "4.0.0", password_hash=md5_admin,
                                auth_variant="pbkdf2",
                                args=["-i", "127.0.0.1", "-p", "{port}", "-a", "admin", "-d",
                                      "-f", "{image}"])
        self.assertIn("retrying with the MD5 hash", cp.stderr)
        self.assertEqual(len(re.findall(r"sent invitation \(\d+ bytes\)", cp.stderr)), 2, cp.stderr)

    def test_md5_target_goes_straight_to_md5_hash(self):
        md5_admin = "21232f297a57a5a743894a0e4a801fc3"
        cp, _ = self.app_upload("esp32", "4.0.1", password_hash=md5_admin,
                                auth_variant="pbkdf2",
                                args=["-i", "127.0.0.1", "-p", "{port}", "--auth=admin", "-m",
                                      "-d", "-f", "{image}"])
        self.assertEqual(len(re.findall(r"sent invitation \(\d+ bytes\)", cp.stderr)), 1, cp.stderr)
        self.assertIn("MD5 password hash", cp.stderr)

    def test_lockstep_like_espota(self):
        cp, _ = self.app_upload("esp32", "1.5.0", args=["-i", "127.0.0.1", "-p", "{port}",
                                                        "--lockstep", "-f", "{image}"])
        self.assertIn("OK:", cp.stderr)

    @otk.needs_firmware("esp32-arduino-idf3.3.bin")
    def test_real_esp32_firmware(self, real):
        dev = otk.start_device(self.tmp, profile="esp32", extra=["--once"])
        with dev:
            cp = upload("-i", "127.0.0.1", "-p", dev.port, "-f", real)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
        info = otk.inspect(dev.flash)
        self.assertEqual(info["slots"][info["boot_slot"]]["image_length"],
                         os.path.getsize(real))

    # --- command lines written for espota.py ---

    def test_platformio_command_line(self):
        # builder/main.py: --debug --progress -i $UPLOAD_PORT + upload_flags + -f $SOURCE
        cp, _ = self.app_upload(
            "esp8266", "5.0.0", password="OTAPASSWORD",
            args=["--debug", "--progress", "-i", "127.0.0.1", "--port={port}",
                  "--auth=OTAPASSWORD", "--host_port=0", "-f", "{image}"])
        self.assertIn("sent invitation", cp.stderr)  # --debug shows the protocol

    def test_arduino_ide_command_line(self):
        # tools.esp_ota.upload.pattern: -i ADDR -p PORT "--auth=PW" -f "FILE"
        cp, _ = self.app_upload("esp32", "5.0.1", password="pw",
                                args=["-i", "127.0.0.1", "-p", "{port}", "--auth=pw", "-f",
                                      "{image}"])
        # not a TTY: plain progress lines, ending at 100 %
        self.assertIn("100% (409600 of 409600 bytes", cp.stderr)

    def test_fixed_host_port_and_host_ip(self):
        port = otk.free_port("tcp")
        cp, _ = self.app_upload("esp32", "5.0.2",
                                args=["-i", "127.0.0.1", "-p", "{port}", "-I", "127.0.0.1",
                                      "-P%d" % port, "-d", "-f", "{image}"])
        self.assertIn("listening for its connection on 127.0.0.1:%d" % port, cp.stderr)

    # --- filesystem images ---

    def fs_upload(self, profile, password=None):
        data = bytes((i * 13 + 7) & 0xFF for i in range(300 * KB))
        path = os.path.join(self.tmp, "fs.bin")
        with open(path, "wb") as f:
            f.write(data)
        dev = otk.start_device(self.tmp, profile=profile, password=password, extra=["--once"])
        with dev:
            args = ["-i", "127.0.0.1", "-p", dev.port, "-s", "-f", path]
            if password:
                args += ["--auth", password]
            cp = upload(*args)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertIn("filesystem image", cp.stderr)
            self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
            self.assertEqual(dev.wait_event("start")["cmd"], 100)
        info = otk.inspect(dev.flash)
        self.assertFalse(info["fs"]["empty"])
        with open(dev.flash, "rb") as f:
            f.seek(info["fs"]["offset"])
            self.assertEqual(f.read(len(data)), data)
        # the app did not change
        self.assertEqual(info["boot_version"], "0.0.0")

    def test_esp32_filesystem(self):
        self.fs_upload("esp32")

    def test_esp32_filesystem_with_password(self):
        self.fs_upload("esp32", password="fs-pass")

    def test_esp8266_filesystem_with_password(self):
        self.fs_upload("esp8266", password="OTAPASSWORD")

    # --- JSON events ---

    def test_json_events(self):
        image = os.path.join(self.tmp, "app.bin")
        otk.make_image(image, "esp32", "6.0.0", 200 * KB)
        dev = otk.start_device(self.tmp, profile="esp32", password="pw", extra=["--once"])
        with dev:
            cp = upload("-i", "127.0.0.1", "-p", dev.port, "-a", "pw", "--json", "-f", image)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            dev.wait_exit(30)
        events = [json.loads(line) for line in cp.stdout.splitlines()]
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[0], "start")
        self.assertEqual(events[0]["size"], 200 * KB)
        states = [e["state"] for e in events if e["event"] == "state"]
        # --protocol auto (the default) asks the TCP port first: this device speaks ArduinoOTA
        self.assertEqual(states, ["probe", "invite", "auth", "connect", "send", "result", "done"])
        progress = [e for e in events if e["event"] == "progress"]
        self.assertTrue(progress)
        self.assertEqual(progress[-1]["bytes"], 200 * KB)
        self.assertEqual(progress[-1]["percent"], 100)
        result = [e for e in events if e["event"] == "result"][0]
        self.assertTrue(result["ok"])
        self.assertEqual(result["exit_code"], 0)
        self.assertEqual(result["attempts"], 1)
        self.assertEqual(kinds[-1], "summary")
        self.assertEqual(events[-1]["failed"], 0)


if __name__ == "__main__":
    otk.main()
