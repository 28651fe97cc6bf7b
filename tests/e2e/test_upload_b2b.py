# SPDX-License-Identifier: MIT
"""Uploads back to back (PlatformIO's `uploadfs` then `upload`), and images for another chip:
real `otakit device` and `otakit upload` processes over 127.0.0.1."""

import hashlib
import os
import socket
import time

import otk
import pyclient

KB = 1024


def upload(*args, timeout=60):
    return otk.run("upload", *args, timeout=timeout)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class BackToBack(otk.UploadCase):
    def run_in_a_row(self, profile, count=10):
        """count uploads to one device without a pause, app and filesystem images alternating:
        each one starts while the device is still rebooting from (or finishing) the last."""
        fs = os.path.join(self.tmp, "fs.bin")
        with open(fs, "wb") as f:
            f.write(os.urandom(28))
        dev = otk.start_device(self.tmp, profile=profile)
        with dev:
            t0 = time.monotonic()
            for i in range(count):
                if i % 2:
                    args = ["-s", "-f", fs]
                else:
                    app = os.path.join(self.tmp, "app%d.bin" % i)
                    otk.make_image(app, profile, "1.0.%d" % i, 64 * KB)
                    args = ["-f", app]
                cp = upload("-i", "127.0.0.1", "-p", dev.port, "-q", *args)
                self.assertEqual(cp.returncode, 0, "upload %d: %s" % (i, cp.stderr))
            spent = time.monotonic() - t0
            # every upload ends in a reboot: the app images boot in turn, the last one last
            want = ["0.0.0"] + ["1.0.%d" % (i - i % 2) for i in range(count)]
            dev.wait_event("boot", where=lambda e: len(dev.find("boot")) == len(want))
            self.assertEqual([b["version"] for b in dev.find("boot")], want)
        self.assertEqual(otk.inspect(dev.flash)["boot_version"], want[-1])
        return spent

    def test_ten_uploads_in_a_row_esp32(self):
        self.assertLess(self.run_in_a_row("esp32"), 30)

    def test_uploads_in_a_row_esp8266(self):
        # the ESP8266 pauses 1 s before and after its "OK" and answers "already running" in
        # the second pause: four uploads show it (each costs about 3 s)
        self.assertLess(self.run_in_a_row("esp8266", 4), 30)

    def test_busy_device_named_when_giving_up(self):
        """A device that stays busy: the uploader keeps inviting within -t, then says what it
        saw (exit 13), not "no answer"."""
        app = os.path.join(self.tmp, "app.bin")
        otk.make_image(app, "esp32", "2.0.0", 64 * KB)
        dev = otk.start_device(self.tmp, password="pw")
        with dev:
            # another host (another loopback address) authenticates and sends a first byte: its
            # update runs, busy for everyone else, until the idle limit ends it (1 s and 3
            # nudges); an unanswered challenge would not do: it holds others off for 2 s only
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.bind(("127.0.0.2", 0))
            tcp.listen(1)
            tcp.settimeout(5)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.2", 0))
            s.settimeout(5)
            s.sendto(b"0 %d 1000 00000000000000000000000000000000\n" % tcp.getsockname()[1],
                     ("127.0.0.1", dev.port))
            nonce = s.recv(200).decode().split()[1]
            cnonce = "c" * len(nonce)
            s.sendto(("200 %s %s\n" % (cnonce, pyclient.auth_response("pw", nonce, cnonce)))
                     .encode(), ("127.0.0.1", dev.port))
            self.assertEqual(s.recv(200), b"OK")
            conn, _ = tcp.accept()
            conn.sendall(b"\xe9")  # data moved: the device is receiving
            cp = upload("-i", "127.0.0.1", "-p", dev.port, "-a", "pw", "-t", "2", "-d", "-f",
                        app)
            for sock in (conn, tcp, s):
                sock.close()
        self.assertEqual(cp.returncode, 13, cp.stderr)
        # -d quotes the device's reply on one line, its newline escaped
        self.assertIn('"ERR: ERROR[15]: Update already running\\n"', cp.stderr)
        self.assertRegex(cp.stderr, r'answered "ERROR\[15\]: Update already running" \d+ times')
        self.assertIn("another upload to it is in progress", cp.stderr)


class WrongChip(otk.UploadCase):
    def refused(self, profile, image, port=None):
        """Upload image to a device of profile; return the upload's result after checking that
        the flash file did not change by a byte."""
        dev = otk.start_device(self.tmp, profile=profile)
        with dev:
            before = digest(dev.flash)
            cp = upload("-i", "127.0.0.1", "-p", port or dev.port, "-f", image)
            time.sleep(0.2)
            self.assertEqual(digest(dev.flash), before, "the flash changed")
        return cp

    def s3_image(self, size):
        path = os.path.join(self.tmp, "s3.bin")
        data = bytearray(otk.make_image(path, "esp32", "3.0.0", size))
        data[12] = 9  # the ESP32-S3's chip id in the extended header
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_esp32_image_to_esp8266_device(self):
        e32 = os.path.join(self.tmp, "e32.bin")
        # 800 KB fits the ESP8266's slot: the device's writer refuses it by its header
        otk.make_image(e32, "esp32", "3.0.0", 800 * KB)
        cp = self.refused("esp8266", e32)
        self.assertEqual(cp.returncode, 17, cp.stderr)
        self.assertIn("this is an ESP32 image; the device is an ESP8266", cp.stderr)
        self.assertIn("Image For Another Chip", cp.stderr)
        # 1 MB does not fit: the device refuses the size at once, the uploader names the chips
        otk.make_image(e32, "esp32", "3.0.0", 1000 * KB)
        cp = self.refused("esp8266", e32)
        self.assertEqual(cp.returncode, 17, cp.stderr)
        self.assertIn("this is an ESP32 image; the device is an ESP8266", cp.stderr)

    def test_s3_image_to_esp8266_and_esp32(self):
        s3 = self.s3_image(300 * KB)
        cp = self.refused("esp8266", s3)
        self.assertEqual(cp.returncode, 17, cp.stderr)
        self.assertIn("this is an ESP32-S3 image; the device is an ESP8266", cp.stderr)
        cp = self.refused("esp32", s3)
        self.assertEqual(cp.returncode, 17, cp.stderr)
        self.assertIn("this is an ESP32-S3 image; the device is an ESP32", cp.stderr)

    def test_port_convention_refuses_before_sending(self):
        """-p 8266 says ESP8266: an ESP32 image is refused before any datagram goes out (no
        device listens here at all), and --force sends it anyway."""
        e32 = os.path.join(self.tmp, "e32.bin")
        otk.make_image(e32, "esp32", "3.0.0", 64 * KB)
        cp = upload("-i", "127.0.0.1", "-p", "8266", "-d", "-f", e32)
        self.assertEqual(cp.returncode, 17, cp.stderr)
        self.assertIn("this is an ESP32 image; the device is an ESP8266", cp.stderr)
        self.assertNotIn("sent invitation", cp.stderr)
        cp = upload("-i", "127.0.0.1", "-p", "8266", "-t", "0.5", "--retries", "0", "--force",
                    "-d", "-f", e32)
        self.assertIn("sent invitation", cp.stderr)

    def test_esp8266_image_without_port_goes_to_8266(self):
        e82 = os.path.join(self.tmp, "e82.bin")
        otk.make_image(e82, "esp8266", "3.0.0", 64 * KB)
        cp = upload("-i", "127.0.0.1", "-t", "0.5", "--retries", "0", "-f", e82)
        self.assertIn("to 127.0.0.1 port 8266", cp.stderr)

    def test_mdns_names_port_and_board(self):
        """NAME.local without -p: the port comes from the device's SRV record, and its TXT board
        refuses an image for another chip before a byte is sent."""
        name = "otkb2b%d" % os.getpid()
        e32 = os.path.join(self.tmp, "e32.bin")
        e82 = os.path.join(self.tmp, "e82.bin")
        otk.make_image(e32, "esp32", "3.0.0", 64 * KB)
        otk.make_image(e82, "esp8266", "3.1.0", 64 * KB)
        dev = otk.start_device(self.tmp, profile="esp8266", extra=["--name", name])
        with dev:
            before = digest(dev.flash)
            cp = upload("-i", name + ".local", "-d", "-f", e32)
            self.assertEqual(cp.returncode, 17, cp.stderr)
            self.assertIn("this is an ESP32 image; the device is an ESP8266 (its mDNS TXT record "
                          "says board=esp8266", cp.stderr)
            self.assertNotIn("sent invitation", cp.stderr)
            self.assertEqual(digest(dev.flash), before)
            cp = upload("-i", name + ".local", "-d", "-f", e82)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertIn("to 127.0.0.1:%d" % dev.port, cp.stderr)
            dev.wait_event("boot", where=lambda e: e.get("version") == "3.1.0")

    @otk.needs_firmware("esp32-arduino-idf3.3.bin", "esp8266-arduino.bin")
    def test_real_images_still_accepted(self, real32, real8266):
        for path, profile in ((real32, "esp32"), (real8266, "esp8266")):
            dev = otk.start_device(self.tmp, profile=profile,
                                   flash=os.path.join(self.tmp, profile + "-real.flash"))
            with dev:
                cp = upload("-i", "127.0.0.1", "-p", dev.port, "-q", "-f", path)
                self.assertEqual(cp.returncode, 0, cp.stderr)


if __name__ == "__main__":
    otk.main()
