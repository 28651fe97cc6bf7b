# SPDX-License-Identifier: MIT
"""The Arduino library OtaKit (src/port/arduino), its ESP8266 port, running the library's
BasicOTA example on otakit's stand-in of the ESP8266 core (tests/arduino/standin: sockets on
127.0.0.1, flash in a file, restart() exits): uploads by pyclient.py (ArduinoOTA as espota.py
speaks it) and by `otakit upload` over both protocols, with the image staged as the core's
Updater stages it (end of the free space after the sketch, an eboot copy command)."""

import os
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import otk
import pyclient

HOST = os.environ.get("OTK_ARDUINO_HOST")
FLASH_BYTES = 4 << 20
FS_START = 0x200000  # the stand-in's eagle.flash.4m2m layout
FS_SIZE = 0x1FA000
SKETCH_END = 0x62000  # getSketchSize() = 400000, rounded up to 4 KB
CHIP_MODE_DOUT = 3


def staged_at(size):
    return FS_START - ((size + 4095) & ~4095)


class Sketch:
    """The example sketch as a process; lines: what it printed (Serial and the stand-in)."""

    def __init__(self, tmp, flash=None, **env):
        self.port = otk.free_port("udp")
        self.flash = flash or os.path.join(tmp, "flash.bin")
        e = dict(os.environ, OTK_PORT=str(self.port), OTK_FLASH=self.flash)
        e.update({k: str(v) for k, v in env.items()})
        self.proc = subprocess.Popen([HOST], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=e, text=True)
        self.lines = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_line("Ready")

    def _read(self):
        for raw in self.proc.stdout:
            for line in raw.replace("\r", "\n").splitlines():
                with self._cond:
                    self.lines.append(line.strip())
                    self._cond.notify_all()
        with self._cond:
            self.lines.append(None)
            self._cond.notify_all()

    def wait_line(self, text, timeout=15.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if any(l is not None and text in l for l in self.lines):
                    return
                if None in self.lines or time.monotonic() > deadline:
                    raise AssertionError("sketch never printed %r; it printed:\n%s" % (
                        text, "\n".join(l for l in self.lines if l)[-3000:]))
                self._cond.wait(0.2)

    def has(self, text):
        with self._cond:
            return any(l is not None and text in l for l in self.lines)

    def exit_code(self, timeout=15.0):
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self):
        """SIGTERM: the stand-in writes its flash file and exits."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        self.proc.stdout.close()

    def eboot(self):
        """The eboot command written (magic, action, args[0..2]) or None."""
        try:
            with open(self.flash + ".eboot", "rb") as f:
                raw = f.read()
        except OSError:
            return None
        return struct.unpack_from("<IIIII", raw)


def read_flash(path):
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) == FLASH_BYTES
    return data


@unittest.skipUnless(HOST, "OTK_ARDUINO_HOST not set (ctest sets it)")
class ArduinoLib(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.sketches = []

    def tearDown(self):
        for s in self.sketches:
            s.stop()
        self.tmp.cleanup()

    def sketch(self, **env):
        s = Sketch(self.dir, **env)
        self.sketches.append(s)
        return s

    def image(self, name="app.bin", size=300000, seed=1, chip="esp8266"):
        path = os.path.join(self.dir, name)
        return path, otk.make_image(path, chip=chip, size=size, seed=seed)

    def assert_staged(self, s, img, fresh=True):
        """The eboot command copies len(img) bytes from the end of the free space to 0, and
        that place holds the image (its flash mode byte as the chip runs, as Updater writes
        it)."""
        magic, action, src, dst, size = s.eboot()
        self.assertEqual((magic, action, src, dst, size),
                         (0xEB001000, 1, staged_at(len(img)), 0, len(img)))
        flash = read_flash(s.flash)
        staged = flash[src:src + len(img)]
        self.assertEqual(staged[:2], img[:2])
        self.assertEqual(staged[2], CHIP_MODE_DOUT)
        self.assertEqual(staged[3:], img[3:])
        if fresh:  # the space between the sketch and the image is left as it was
            self.assertTrue(all(b == 0xFF for b in flash[SKETCH_END:src]))

    def test_otakit_upload_arduino_stages_and_restarts(self):
        path, img = self.image()
        s = self.sketch()
        cp = otk.run("upload", "--protocol", "arduino", "-i", "127.0.0.1", "-p", s.port,
                     "-f", path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(s.exit_code(), 0)  # ESP.restart() after the OK
        for line in ("sketch: pause", "Start updating sketch", "sketch: resume", "End",
                     "standin: restart"):
            self.assertTrue(s.has(line), line)
        self.assertFalse(s.has("Error["))
        self.assert_staged(s, img)

    def test_espota_exchange_with_password_wrong_then_right(self):
        path, img = self.image(size=150001, seed=2)
        s = self.sketch(OTK_PASSWORD="OTAPASSWORD", OTK_NO_REBOOT=1)
        r = pyclient.upload("127.0.0.1", s.port, img, password="wrong")
        self.assertFalse(r.ok, r)
        self.assertEqual(r.stage, "auth", r)
        s.wait_line("Error[0]: Auth Failed")
        self.assertIsNone(s.eboot())
        time.sleep(1.1)  # the throttle ignores the source for 1 s after a failure
        r = pyclient.upload("127.0.0.1", s.port, img, password="OTAPASSWORD")
        self.assertTrue(r.ok, r)
        s.wait_line("End")
        s.stop()
        self.assert_staged(s, img)

    def test_second_upload_right_after_the_first(self):
        first_path, first = self.image("a.bin", size=200000, seed=3)
        second_path, second = self.image("b.bin", size=260000, seed=4)
        s = self.sketch(OTK_NO_REBOOT=1)
        cp = otk.run("upload", "--protocol", "arduino", "-i", "127.0.0.1", "-p", s.port,
                     "-f", first_path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        # at once, one invitation only (as espota.py: no retry after a refusal): it waits in
        # the stack through the device's pauses around its OK and is served next
        r = pyclient.upload("127.0.0.1", s.port, second, invite_tries=1, invite_timeout=6.0)
        self.assertTrue(r.ok, r)
        # and the native protocol right after that, without retries
        cp = otk.run("upload", "--protocol", "esphome", "--retries", "0", "-i", "127.0.0.1",
                     "-p", s.port, "-f", first_path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIsNone(s.proc.poll())  # setRebootOnSuccess(false): still running
        s.stop()
        self.assert_staged(s, first, fresh=False)  # the second, bigger image lies below

    def test_filesystem_image_goes_to_the_fs_area(self):
        path = os.path.join(self.dir, "fs.bin")
        data = bytes((i * 7) & 0xFF for i in range(100000))
        with open(path, "wb") as f:
            f.write(data)
        s = self.sketch(OTK_NO_REBOOT=1)
        r = pyclient.upload("127.0.0.1", s.port, data, cmd=pyclient.SPIFFS)
        self.assertTrue(r.ok, r)
        s.wait_line("Start updating filesystem")
        s.wait_line("End")
        self.assertIsNone(s.eboot())  # nothing for eboot to copy
        s.stop()
        flash = read_flash(s.flash)
        self.assertEqual(flash[FS_START:FS_START + len(data)], data)
        self.assertTrue(all(b == 0xFF for b in flash[SKETCH_END:FS_START]))
        # and `otakit upload -s` (always ArduinoOTA) on the flash as it is now
        s2 = self.sketch()
        data2 = data[::-1]
        with open(path, "wb") as f:
            f.write(data2)
        cp = otk.run("upload", "-s", "-i", "127.0.0.1", "-p", s2.port, "-f", path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(s2.exit_code(), 0)
        self.assertEqual(read_flash(s2.flash)[FS_START:FS_START + len(data2)], data2)
        self.assertIsNone(s2.eboot())
        # an application image whose tail the engine erases by a 64 KB block reaching past
        # the free space: the filesystem right after it is left as it was
        app_path, img = self.image(size=300000, seed=8)
        s3 = self.sketch()
        cp = otk.run("upload", "--protocol", "arduino", "-i", "127.0.0.1", "-p", s3.port,
                     "-f", app_path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(s3.exit_code(), 0)
        self.assert_staged(s3, img)
        self.assertEqual(read_flash(s3.flash)[FS_START:FS_START + len(data2)], data2)

    def test_native_protocol_on_the_same_port(self):
        path, img = self.image(size=180000, seed=5)
        s = self.sketch(OTK_PASSWORD="pw")
        cp = otk.run("upload", "--protocol", "esphome", "-a", "wrong", "-i", "127.0.0.1",
                     "-p", s.port, "-f", path)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIsNone(s.eboot())
        time.sleep(1.1)
        cp = otk.run("upload", "--protocol", "esphome", "-a", "pw", "-i", "127.0.0.1", "-p",
                     s.port, "-f", path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(s.exit_code(), 0)
        self.assertTrue(s.has("Start updating sketch"))
        self.assert_staged(s, img)

    def test_password_hash_serves_arduino_ota_only(self):
        path, img = self.image(size=120000, seed=6)
        # MD5("admin"), as BasicOTA's comment has it
        s = self.sketch(OTK_PASSWORD_HASH="21232f297a57a5a743894a0e4a801fc3")
        s.wait_line("native protocol off")
        cp = otk.run("upload", "--protocol", "esphome", "-i", "127.0.0.1", "-p", s.port,
                     "-f", path)
        self.assertNotEqual(cp.returncode, 0)  # nothing listens: no password-less door
        cp = otk.run("upload", "--protocol", "arduino", "-a", "admin", "-i", "127.0.0.1",
                     "-p", s.port, "-f", path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(s.exit_code(), 0)
        self.assert_staged(s, img)

    def test_image_for_another_chip_is_refused_and_nothing_staged(self):
        path, img = self.image(size=100000, chip="esp32")
        s = self.sketch()
        cp = otk.run("upload", "--protocol", "arduino", "-i", "127.0.0.1", "-p", s.port,
                     "-f", path)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("Image For Another Chip", cp.stdout + cp.stderr)
        s.wait_line("(Image For Another Chip)")  # lastError() in the sketch's onError
        self.assertTrue(s.has("Error["))
        self.assertIsNone(s.proc.poll())  # no restart: the sketch runs on
        self.assertIsNone(s.eboot())


if __name__ == "__main__":
    otk.main()
