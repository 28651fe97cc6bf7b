# SPDX-License-Identifier: MIT
"""Every failure `otakit upload` diagnoses, provoked on purpose, with its exit code and the
message that names the cause and the fix. Failures `otakit device` does not produce (a device
that never connects back, stalls, drops the connection, reports an MD5 mismatch, never answers
the authentication) come from a small scripted device in this file."""

import json
import os
import re
import socket
import time

import otk

KB = 1024

# exit codes (docs/CLI.md)
USAGE, FILE, RESOLVE, NO_ANSWER, AUTH, AUTH_NO_ANSWER, NO_CONNECT = 2, 3, 4, 5, 6, 7, 8
TOO_BIG, NOT_FIRMWARE, MD5, REJECTED, DEVICE, STALLED, DROPPED = 9, 10, 11, 12, 13, 14, 15


def upload(*args, timeout=60):
    return otk.run("upload", *args, timeout=timeout)


class ScriptedDevice(otk.FakeDevice):
    """A minimal ArduinoOTA device (no password) that misbehaves as told:
    no-connect: answers OK, never connects back;  stall: connects, takes `after` bytes, stops
    reading;  drop: connects, closes after `after` bytes (the first `times` connections);
    md5: takes everything, answers "MD5 Check Failed";  silent-auth: sends an AUTH challenge
    and ignores the answer;  babble: answers the invitation with nonsense."""

    def __init__(self, mode, after=0, times=1):
        super().__init__()
        self.mode, self.after, self.times = mode, after, times
        self.invites = 0
        self.answers = 0
        self.invites_after_challenge = 0
        self.connections = 0
        self.received = []
        self.challenged = False
        self.start()

    def on_datagram(self, dg, peer):
        fields = dg.decode(errors="replace").split()
        if fields and fields[0] == "200":
            self.answers += 1
            return
        self.invites += 1
        if self.challenged:
            self.invites_after_challenge += 1
        if self.mode == "silent-auth":
            self.udp.sendto(b"AUTH " + b"0123456789abcdef" * 2, peer)
            self.challenged = True
            return
        if self.mode == "babble":
            self.udp.sendto(b"HELLO", peer)
            return
        self.udp.sendto(b"OK", peer)
        if self.mode == "no-connect":
            return
        self.serve_in_thread(self._serve, int(fields[1]), int(fields[2]))

    def _serve(self, port, size):
        s = self.connect_back(port, rcvbuf=4096 if self.mode == "stall" else 0)
        self.connections += 1
        got = 0
        s.settimeout(5)
        try:
            while got < size:
                if self.mode == "stall" and got >= self.after:
                    self._stop.wait(30)
                    return
                if (self.mode == "drop" and got >= self.after and
                        self.connections <= self.times):
                    s.close()
                    return
                d = s.recv(1460)
                if not d:
                    return
                got += len(d)
                s.sendall(str(len(d)).encode())
            self.received.append(got)
            if self.mode == "md5":
                s.sendall(b"MD5 Check Failed\r\n")
            else:
                s.sendall(b"OK")
        except OSError:
            pass
        finally:
            s.close()


class UploadErrors(otk.UploadCase):
    def setUp(self):
        super().setUp()
        self.app = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.app, "esp32", "7.0.0", 200 * KB)
        self.app8266 = os.path.join(self.tmp, "app8266.bin")
        otk.make_image(self.app8266, "esp8266", "7.0.0", 200 * KB)

    # --- local problems ---

    def test_usage_errors(self):
        self.assertExit(upload("-f", self.app), USAGE, "-i/--ip")
        self.assertExit(upload("-i", "127.0.0.1"), USAGE, "-f/--file")
        self.assertExit(upload("-i", "127.0.0.1", "-f", self.app, "--nonsense"), USAGE,
                        "--nonsense")
        self.assertExit(upload("-i", "127.0.0.1", "-p", "x", "-f", self.app), USAGE,
                        "invalid int value")

    def test_help_lists_options_and_exit_codes(self):
        cp = upload("--help")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        for opt in ("--ip", "--host_ip", "--port", "--host_port", "--auth", "--md5-target",
                    "--file", "--spiffs", "--debug", "--progress", "--timeout", "--retries",
                    "--targets", "--json", "--lockstep", "--force", "--quiet"):
            self.assertIn(opt, cp.stdout)
        for code in range(0, 19):
            self.assertRegex(cp.stdout, r"(^|\s)%d [A-Za-z]" % code)

    def test_ide_placeholder(self):
        cp = upload("-i", "10.0.0.5", "-p", "{upload.port.properties.port}", "--auth=",
                    "-f", self.app)
        self.assertExit(cp, USAGE, "{upload.port.properties.port}", "arduino-ide#740",
                        "platform.local.txt", "-p 3232")

    def test_missing_and_empty_file(self):
        cp = upload("-i", "127.0.0.1", "-f", os.path.join(self.tmp, "nope.bin"))
        self.assertExit(cp, FILE, "nope.bin", "No such file")
        empty = os.path.join(self.tmp, "empty.bin")
        open(empty, "wb").close()
        self.assertExit(upload("-i", "127.0.0.1", "-f", empty), FILE, "is empty")

    def test_not_an_app_image_is_refused_locally(self):
        bad = os.path.join(self.tmp, "data.bin")
        with open(bad, "wb") as f:
            f.write(b"\x00" * (64 * KB))
        cp = upload("-i", "127.0.0.1", "-f", bad)
        self.assertExit(cp, FILE, "first byte is 0x00", "0xE9", "-s/--spiffs", "--force")

    # --- name, port, password ---

    def test_unresolvable_name(self):
        cp = upload("-i", "nonexistent.invalid", "-f", self.app)
        self.assertExit(cp, RESOLVE, "cannot resolve", "nonexistent.invalid")

    def test_nothing_listening(self):
        port = otk.free_port("udp")
        t0 = time.monotonic()
        cp = upload("-i", "127.0.0.1", "-p", port, "-t", "3", "--retries", "0", "-f", self.app)
        self.assertExit(cp, NO_ANSWER, "UDP port %d" % port, "8266")
        self.assertLess(time.monotonic() - t0, 3.5)

    def test_no_answer_names_other_core_port(self):
        # a device that ignores us entirely (bound, never reads): the full -t, then the hint
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        try:
            port = s.getsockname()[1]
            cp = upload("-i", "127.0.0.1", "-p", port, "-t", "1", "--retries", "0", "-d",
                        "-f", self.app)
            self.assertExit(cp, NO_ANSWER, "no answer from 127.0.0.1", "port %d" % port,
                            "3232 (ESP32) and 8266 (ESP8266)")
            # invitations were retransmitted from one socket (0 s, 0.5 s)
            self.assertIn("invitation (retransmission)", cp.stderr)
        finally:
            s.close()

    def test_wrong_password(self):
        for profile, variant in (("esp32", "pbkdf2"), ("esp32", "md5"), ("esp8266", "md5")):
            with self.subTest(profile=profile, variant=variant):
                dev = otk.start_device(self.tmp, profile=profile, password="right",
                                       auth_variant=variant,
                                       flash=os.path.join(self.tmp, "%s-%s.flash" % (
                                           profile, variant)))
                with dev:
                    app = self.app8266 if profile == "esp8266" else self.app
                    cp = upload("-i", "127.0.0.1", "-p", dev.port, "-a", "wrong", "--json",
                                "-f", app)
                    self.assertExit(cp, AUTH, "rejected the password", "Authentication Failed",
                                    "-a/--auth")
                    result = [json.loads(x) for x in cp.stdout.splitlines()
                              if '"result"' in x][0]
                    self.assertEqual(result["error"], "auth-failed")
                    self.assertEqual(result["attempts"], 1)  # never retried
                    if variant == "pbkdf2":
                        self.assertIn("SHA-256 and with the MD5 password hash", cp.stderr)

    def test_password_required(self):
        dev = otk.start_device(self.tmp, profile="esp32", password="pw")
        with dev:
            cp = upload("-i", "127.0.0.1", "-p", dev.port, "-f", self.app)
            self.assertExit(cp, AUTH, "requires a password", "-a/--auth")

    def test_no_answer_to_authentication(self):
        with ScriptedDevice("silent-auth") as fake:
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "-a", "pw", "-t", "1.5",
                        "--retries", "0", "-f", self.app)
            self.assertExit(cp, AUTH_NO_ANSWER, "did not answer our authentication",
                            "the password is not the problem")
            # the answer was retransmitted; no invitation went out after the challenge
            self.assertEqual(fake.invites, 1)
            self.assertEqual(fake.invites_after_challenge, 0)
            self.assertGreaterEqual(fake.answers, 2)

    def test_unexpected_answer(self):
        with ScriptedDevice("babble") as fake:
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "-f", self.app)
            self.assertExit(cp, 1, "unexpected answer", "HELLO")

    # --- the device's verdicts ---

    def test_too_big(self):
        big32 = os.path.join(self.tmp, "big32.bin")
        otk.make_image(big32, "esp32", "8.0.0", 1400 * KB)  # app slot: 1280 KB
        big8266 = os.path.join(self.tmp, "big8266.bin")
        otk.make_image(big8266, "esp8266", "8.0.0", 976 * KB)  # app slot: 960 KB
        for profile, image in (("esp32", big32), ("esp8266", big8266)):
            with self.subTest(profile=profile):
                dev = otk.start_device(self.tmp, profile=profile, extra=["--once"],
                                       flash=os.path.join(self.tmp, "big-%s.flash" % profile))
                with dev:
                    cp = upload("-i", "127.0.0.1", "-p", dev.port, "-f", image)
                    size = os.path.getsize(image)
                    self.assertExit(cp, TOO_BIG, "%d bytes" % size, "bigger than the space",
                                    "partition scheme")
                    self.assertRegex(cp.stderr, "Not Enough Space|Bad Size Given")

    def test_wrong_magic_with_force(self):
        bad = os.path.join(self.tmp, "data.bin")
        with open(bad, "wb") as f:
            f.write(b"\x00" * (64 * KB))
        for profile, text in (("esp32", "Wrong Magic Byte"),
                              ("esp8266", "Magic byte is not 0xE9")):
            with self.subTest(profile=profile):
                dev = otk.start_device(self.tmp, profile=profile, extra=["--once"],
                                       flash=os.path.join(self.tmp, "magic-%s.flash" % profile))
                with dev:
                    cp = upload("-i", "127.0.0.1", "-p", dev.port, "--force", "-f", bad)
                    self.assertExit(cp, NOT_FIRMWARE, text, "not an application image",
                                    "-s/--spiffs")
                info = otk.inspect(dev.flash)
                self.assertEqual(info["boot_version"], "0.0.0")  # nothing changed

    def test_md5_mismatch_is_retried(self):
        with ScriptedDevice("md5") as fake:
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "--retries", "1", "--json",
                        "-f", self.app)
            self.assertExit(cp, MD5, "MD5 Check Failed", "corrupted in transit")
            self.assertEqual(fake.connections, 2)
            events = [json.loads(x) for x in cp.stdout.splitlines()]
            self.assertEqual([e["error"] for e in events if e["event"] == "retry"],
                             ["md5-mismatch"])
            result = [e for e in events if e["event"] == "result"][0]
            self.assertEqual(result["device_text"], "MD5 Check Failed")
            self.assertEqual(result["attempts"], 2)

    # --- the connection ---

    def test_device_never_connects_back(self):
        host_port = otk.free_port("tcp")
        with ScriptedDevice("no-connect") as fake:
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "-P", host_port, "-t", "1",
                        "-f", self.app)
            self.assertExit(cp, NO_CONNECT, "never connected back to 127.0.0.1:%d" % host_port,
                            "firewall", "-I/--host_ip", "-P/--host_port")
            self.assertEqual(fake.invites, 1)  # not retried: a firewall does not go away

    def test_stall(self):
        with ScriptedDevice("stall", after=20 * KB) as fake:
            t0 = time.monotonic()
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "--stall-timeout", "1",
                        "--retries", "0", "-f", self.app)
            self.assertExit(cp, STALLED, "stalled at byte", "of %d" % (200 * KB))
            m = re.search(r"stalled at byte (\d+) of (\d+) \((\d+)%\)", cp.stderr)
            self.assertTrue(m, cp.stderr)
            self.assertLess(int(m.group(1)), 200 * KB)
            self.assertLess(time.monotonic() - t0, 5)

    def test_dropped_connection(self):
        with ScriptedDevice("drop", after=50 * KB, times=99) as fake:
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "--retries", "0", "-f", self.app)
            self.assertExit(cp, DROPPED, "without sending a result", "had acknowledged")
            m = re.search(r"acknowledged (\d+) of (\d+) bytes \(\d+%\) and (\d+) more were in "
                          r"flight", cp.stderr)
            self.assertIsNotNone(m, cp.stderr)
            acked, total, flight = map(int, m.groups())
            self.assertEqual(total, 200 * KB)
            self.assertLessEqual(acked + flight, total)

    def test_retries_print_the_error_once(self):
        with ScriptedDevice("drop", after=50 * KB, times=99) as fake:
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "--retries", "2", "-f", self.app)
            self.assertEqual(cp.returncode, DROPPED, cp.stderr)
            self.assertEqual(cp.stderr.count("without sending a result"), 1, cp.stderr)
            self.assertEqual(cp.stderr.count("fix:"), 1, cp.stderr)
            self.assertIn("attempt 1 of 3 failed (dropped); retrying in 1 s", cp.stderr)
            self.assertIn("error (attempt 3 of 3): ", cp.stderr)

    def test_dropped_connection_then_retry_succeeds(self):
        with ScriptedDevice("drop", after=50 * KB, times=1) as fake:
            cp = upload("-i", "127.0.0.1", "-p", fake.port, "--retries", "2", "-f", self.app)
            self.assertExit(cp, 0, "attempt 1 of 3 failed", "OK: %d bytes" % (200 * KB))
            self.assertEqual(fake.connections, 2)
            self.assertEqual(fake.received, [200 * KB])


if __name__ == "__main__":
    otk.main()
