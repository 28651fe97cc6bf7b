# SPDX-License-Identifier: MIT
"""A hostile device, and strangers, against `otakit upload` (docs/SECURITY.md, "The uploader").

A fake ArduinoOTA device on 127.0.0.1 answers the invitation and connects back from 127.0.0.1,
then lies or floods; strangers on 127.0.0.2 and 127.0.0.3 answer in its place. Each case must
end with its own exit code and named cause, within the configured timeouts, and never with a
success the device did not earn. The legitimate path still works: an honest fake, and the real
`otakit device` while a stranger keeps connecting first."""

import json
import os
import re
import socket
import threading
import time

import otk

KB = 1024
NO_ANSWER, NO_CONNECT, DEVICE, PROTOCOL = 5, 8, 13, 18
HOST = "127.0.0.1"


def upload(*args, timeout=60):
    return otk.run("upload", *args, timeout=timeout)


class FakeDevice(otk.FakeDevice):
    """A no-password ArduinoOTA device on 127.0.0.1 that behaves as `mode` says once the
    uploader invited it:
      honest     reads everything (at most 1460 bytes a read, as the ESP32 core), acks each
                 read, answers OK
      ok-first   connects and says OK at once, reads nothing
      ok-half    reads and acks half of the image, then says OK
      over-ack   reads 1000 bytes at a time and acks each read as 4000
      ack-ahead  acks 2000000 bytes as soon as it is connected, then reads and says OK
      nul        reads and acks everything, then answers "\\x00OK" instead of "OK"
      flood      connects and sends `payload` over and over for 15 s, reads nothing
      no-connect answers OK and never connects back
      silent     never answers (the invitation's source is still recorded)
    rcvbuf: the TCP receive buffer (0: Linux's, which grows to megabytes; a chip's lwIP
    window is 2 to 6 KB). answer_delay: seconds before the UDP answer. udp_flood: OK
    duplicates for 6 s after the answer. on_invite(addr, tcp_port): called when the invitation
    arrives (strangers use it to learn where the uploader listens)."""

    def __init__(self, mode, payload=b"", answer_delay=0.0, udp_flood=False, on_invite=None,
                 rcvbuf=0):
        super().__init__()
        self.mode, self.payload, self.answer_delay = mode, payload, answer_delay
        self.udp_flood, self.on_invite, self.rcvbuf = udp_flood, on_invite, rcvbuf
        self.received = 0
        self.connected_at = None
        self.served = threading.Event()
        self.start()

    def on_datagram(self, dg, peer):
        fields = dg.decode(errors="replace").split()
        if len(fields) != 4 or self.served.is_set():
            return
        self.served.set()
        port, size = int(fields[1]), int(fields[2])
        if self.on_invite:
            self.on_invite(peer, port)
        if self.mode == "silent" or self._stop.wait(self.answer_delay):
            return
        self.udp.sendto(b"OK", peer)
        t_end = time.monotonic() + (6 if self.udp_flood else 0)
        while time.monotonic() < t_end and not self._stop.is_set():
            try:
                self.udp.sendto(b"OK", peer)  # duplicates, as fast as the socket takes them
            except OSError:
                return  # closed under us: the test is over
        if self.mode != "no-connect":
            self.serve_in_thread(self._serve, port, size)

    def _read(self, s, n):
        d = s.recv(n)
        if not d:
            raise OSError("uploader closed")
        self.received += len(d)
        return d

    def _flood(self, s):
        s.setblocking(False)
        chunk = self.payload * (64 * KB // len(self.payload))
        t_end = time.monotonic() + 15
        while time.monotonic() < t_end and not self._stop.is_set():
            try:
                s.send(chunk)
            except BlockingIOError:
                time.sleep(0.0005)

    def _serve(self, port, size):
        s = self.connect_back(port, self.rcvbuf)
        self.connected_at = time.monotonic()
        s.settimeout(10)
        m = self.mode
        try:
            if m == "flood":
                self._flood(s)
                return
            if m in ("ok-first", "ack-ahead"):
                s.sendall(b"OK" if m == "ok-first" else b"2000000")
            limit = {"ok-first": 0, "ok-half": size // 2}.get(m, size)
            while self.received < limit:
                d = self._read(s, min(1000 if m == "over-ack" else 1460, limit - self.received))
                s.sendall(b"4000" if m == "over-ack" else str(len(d)).encode())
            if m != "ok-first":
                s.sendall(b"\x00OK" if m == "nul" else b"OK")
            self._stop.wait(3)  # keep the connection: the uploader decides, not a close
        except OSError:
            pass
        finally:
            s.close()


class Stranger:
    """Another host on this network (127.0.0.2, 127.0.0.3): connects to the uploader's TCP
    port and writes OK (tcp), or sends OK to its UDP socket (udp). Records what it saw."""

    def __init__(self, src):
        self.src = src
        self.connected = 0
        self.closed_on_us = 0
        self.sent_udp = 0

    def tcp_ok(self, port, tries=200):
        """Connect (retrying until the port listens) and write OK; waits to see the close."""
        for _ in range(tries):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((self.src, 0))
            s.settimeout(2)
            try:
                s.connect((HOST, port))
            except OSError:
                s.close()
                time.sleep(0.01)
                continue
            self.connected += 1
            try:
                s.sendall(b"OK")
                if s.recv(64) == b"":
                    self.closed_on_us += 1
            except OSError:
                self.closed_on_us += 1  # reset: closed with our OK unread
            finally:
                s.close()
            return True
        return False

    def udp_ok(self, addr):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((self.src, 0))
        for _ in range(3):
            u.sendto(b"OK", addr)
            self.sent_udp += 1
        u.close()


def result_of(cp):
    """The JSON result event of a run with --json."""
    for line in cp.stdout.splitlines():
        ev = json.loads(line)
        if ev.get("event") == "result":
            return ev
    raise AssertionError("no result event:\n%s%s" % (cp.stdout, cp.stderr))


class HostileDevice(otk.UploadCase):
    def setUp(self):
        super().setUp()
        self.app = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.app, "esp32", "9.0.0", 1024 * KB)

    def run_fake(self, mode, *args, **kw):
        with FakeDevice(mode, **kw) as fake:
            cp = upload("-i", HOST, "-p", fake.port, "--retries", "0", "--json", "-f", self.app,
                        *args)
        return cp, fake

    # --- the device says OK too early, or acknowledges what it never got ---

    def test_honest_fake_succeeds(self):
        cp, fake = self.run_fake("honest")
        self.assertExit(cp, 0, "OK: %d bytes" % (1024 * KB))
        self.assertEqual(fake.received, 1024 * KB)
        self.assertIsNone(result_of(cp)["cause"])

    def test_ok_before_any_data(self):
        cp, fake = self.run_fake("ok-first")
        self.assertExit(cp, PROTOCOL, "protocol violation (early-ok)", 'said "OK"',
                        "may still run its old firmware")
        self.assertEqual(result_of(cp)["cause"], "early-ok")
        self.assertEqual(fake.received, 0)

    def test_ok_before_the_last_ack(self):
        """An image small enough to go out at once: the OK comes with no ack after the last
        byte."""
        small = os.path.join(self.tmp, "small.bin")
        otk.make_image(small, "esp32", "9.0.1", 8 * KB)
        with FakeDevice("ok-first") as fake:
            cp = upload("-i", HOST, "-p", fake.port, "--retries", "0", "-f", small)
        self.assertExit(cp, PROTOCOL, "protocol violation (early-ok)",
                        "without acknowledging the end of the image")

    def test_ok_after_half(self):
        """With a chip's receive window (an ESP32's lwIP window is 5760 bytes) the rest of the
        image cannot hide in the device's buffers. (A peer whose kernel buffers hold the whole
        rest can: docs/SECURITY.md.)"""
        cp, fake = self.run_fake("ok-half", rcvbuf=5760)
        self.assertExit(cp, PROTOCOL, "protocol violation (early-ok)", 'said "OK"')
        res = result_of(cp)
        self.assertEqual(res["cause"], "early-ok")
        self.assertFalse(res["ok"])
        # progress says what the device acknowledged: half, not what went into the socket
        self.assertLessEqual(res["bytes"], 512 * KB)
        m = re.search(r"its acks stand for about (\d+) bytes", cp.stderr)
        self.assertTrue(m, cp.stderr)
        self.assertEqual(int(m.group(1)), 512 * KB)

    def test_over_acknowledgement(self):
        cp, _ = self.run_fake("over-ack")
        self.assertExit(cp, PROTOCOL, "protocol violation (over-ack)", "acknowledged at least")
        self.assertEqual(result_of(cp)["cause"], "over-ack")
        m = re.search(r"acknowledged at least (\d+) bytes when only (\d+) had been sent",
                      cp.stderr)
        self.assertTrue(m, cp.stderr)
        self.assertGreater(int(m.group(1)), int(m.group(2)))

    def test_ack_of_bytes_never_sent(self):
        cp, _ = self.run_fake("ack-ahead")
        self.assertExit(cp, PROTOCOL, "protocol violation (over-ack)")
        # 2000000 (and the acks that may follow it in the same read)
        m = re.search(r"acknowledged at least (\d+) bytes when only (\d+)", cp.stderr)
        self.assertTrue(m, cp.stderr)
        self.assertGreaterEqual(int(m.group(1)), 2000000)
        self.assertLess(int(m.group(2)), 2000000)

    def test_nul_prefixed_reply_is_shown_escaped(self):
        cp, _ = self.run_fake("nul")
        self.assertExit(cp, DEVICE, '"\\x00OK"')
        self.assertEqual(result_of(cp)["device_text"], "\\x00OK")

    # --- floods: every phase ends within its timeout ---

    def test_floods_end_within_the_timeouts(self):
        timeouts = ("-t", "3", "--stall-timeout", "3", "--result-timeout", "4")
        for payload, code, cause in ((b"1", PROTOCOL, "over-ack"),
                                     (b"1460", PROTOCOL, "over-ack"),
                                     (b"0", PROTOCOL, "garbage"),
                                     (b"\r\n", PROTOCOL, "garbage"),
                                     (b"A", PROTOCOL, "garbage"),
                                     (b"OO", PROTOCOL, "garbage")):
            with self.subTest(payload=payload):
                t0 = time.monotonic()
                cp, fake = self.run_fake("flood", *timeouts, payload=payload)
                took = time.monotonic() - t0
                self.assertExit(cp, code, "protocol violation (%s)" % cause)
                self.assertIsNotNone(fake.connected_at)
                # before, the zeros held it for as long as the flood lasted (15 s here);
                # now every flood ends within the stall timeout (3 s) plus a second, from
                # the start
                self.assertLess(took, 3 + 1, cp.stderr)

    def test_udp_flood_then_no_connection(self):
        """Duplicates of OK flood the UDP socket and the device never connects: -t still
        ends the wait."""
        t0 = time.monotonic()
        cp, _ = self.run_fake("no-connect", "-t", "3", udp_flood=True)
        took = time.monotonic() - t0
        self.assertExit(cp, NO_CONNECT, "never connected back")
        self.assertLess(took, 3 + 1, cp.stderr)

    # --- strangers ---

    def test_stranger_tcp_ok_before_the_device_answered(self):
        """A stranger connects from 127.0.0.2 and writes OK while the device takes a second
        to answer: refused; the real device then completes the upload."""
        stranger = Stranger("127.0.0.2")
        host_port = otk.free_port("tcp")
        t = threading.Thread(target=stranger.tcp_ok, args=(host_port,), daemon=True)
        t.start()
        cp, fake = self.run_fake("honest", "-d", "-P", host_port, answer_delay=1.0)
        t.join(5)
        self.assertExit(cp, 0, "OK: %d bytes" % (1024 * KB),
                        "refused a TCP connection from 127.0.0.2")
        self.assertEqual(stranger.connected, 1)
        self.assertEqual(stranger.closed_on_us, 1)
        self.assertEqual(fake.received, 1024 * KB)

    def test_stranger_tcp_ok_after_the_device_answered(self):
        """The device answers OK but never connects; a stranger from 127.0.0.3 connects and
        writes OK: refused, and the upload fails as the device never connected."""
        stranger = Stranger("127.0.0.3")
        threads = []

        def on_invite(addr, tcp_port):
            th = threading.Thread(target=lambda: (time.sleep(0.3), stranger.tcp_ok(tcp_port)),
                                  daemon=True)
            th.start()
            threads.append(th)

        cp, _ = self.run_fake("no-connect", "-t", "2", on_invite=on_invite)
        for th in threads:
            th.join(5)
        self.assertExit(cp, NO_CONNECT, "never connected back",
                        "did not come from the device (the last from 127.0.0.3:")
        self.assertEqual(stranger.connected, 1)
        self.assertEqual(stranger.closed_on_us, 1)
        self.assertIn("did not come from the device", result_of(cp)["message"])

    def test_stranger_udp_ok(self):
        """The device stays silent; a stranger on 127.0.0.2 sends OK to the uploader's UDP
        socket: not taken for the device's answer."""
        stranger = Stranger("127.0.0.2")
        cp, _ = self.run_fake("silent", "-t", "1.5",
                              on_invite=lambda addr, port: stranger.udp_ok(addr))
        self.assertExit(cp, NO_ANSWER, "no answer from 127.0.0.1",
                        "did not come from the device (the last from 127.0.0.2:")
        self.assertEqual(stranger.sent_udp, 3)

    def test_real_device_updates_while_a_stranger_connects_first(self):
        """`otakit device` with a password: a stranger on 127.0.0.2 keeps connecting to the
        uploader's port and writing OK from before the device answers (its first invitation is
        lost, so it answers the retransmission 0.5 s later) to the end. The update goes
        through and the device boots the new image."""
        dev = otk.start_device(self.tmp, profile="esp32", password="OTAPASSWORD",
                               extra=["--fault", "lose-invite"])
        with dev:
            host_port = otk.free_port("tcp")
            stranger = Stranger("127.0.0.2")
            stop = threading.Event()

            def keep_connecting():
                while not stop.is_set():
                    if not stranger.tcp_ok(host_port, tries=1):
                        time.sleep(0.01)

            th = threading.Thread(target=keep_connecting, daemon=True)
            th.start()
            try:
                cp = upload("-i", HOST, "-p", dev.port, "-a", "OTAPASSWORD", "-P", host_port,
                            "-d", "--retries", "0", "-f", self.app)
            finally:
                stop.set()
                th.join(5)
            self.assertExit(cp, 0, "OK: %d bytes" % (1024 * KB),
                            "refused a TCP connection from 127.0.0.2")
            self.assertGreaterEqual(stranger.connected, 1)
            self.assertEqual(stranger.connected, stranger.closed_on_us)
            dev.wait_event("end", timeout=15)
        info = otk.inspect(dev.flash)
        self.assertEqual(info["boot_version"], "9.0.0", info)


if __name__ == "__main__":
    otk.main()
