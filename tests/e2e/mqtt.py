# SPDX-License-Identifier: MIT
"""A real MQTT broker and a real MQTT subscriber for the gateway tests and the contention bench.

Broker: Debian's `mosquitto` (installed by scripts/setup), started on a free 127.0.0.1 port with
a minimal config file in a temporary directory - never the system service. It can be stopped
and started again on the same port to test a broker restart.

Subscriber: a minimal MQTT 3.1.1 client on Python's socket module (CONNECT, SUBSCRIBE at QoS 0,
PUBLISH in), written from the MQTT 3.1.1 specification. It records every message with the time
it arrived and reconnects by itself when the broker goes away. Messages of one publisher arrive
in the order it published them, so a consumer may use the gateway's own <base>/ota/state
messages as markers in the stream ("between start and success, nothing else arrived")."""

import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import otk


def mosquitto_binary():
    """The broker executable (Debian puts it in /usr/sbin, often not in a user's PATH)."""
    for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if cand and os.path.exists(cand):
            return cand
    raise AssertionError("mosquitto is not installed: run scripts/setup (Debian package "
                         "'mosquitto')")


class Broker:
    """`mosquitto -c <tmpdir>/mosquitto-PORT.conf` listening on 127.0.0.1:PORT only."""

    def __init__(self, tmpdir, port=None, start=True):
        """A broker on `port` (default: a free one). start=False only writes the config."""
        self.tmpdir = tmpdir
        self.proc = None
        self.exe = mosquitto_binary()
        last = None
        for _ in range(1 if port else 5):  # a free port may be taken before the bind
            self.port = port or otk.free_port("tcp")
            self.conf = os.path.join(tmpdir, "mosquitto-%d.conf" % self.port)
            self.log = os.path.join(tmpdir, "mosquitto-%d.log" % self.port)
            with open(self.conf, "w") as f:
                f.write("listener %d 127.0.0.1\n" % self.port)
                f.write("allow_anonymous true\n")
                f.write("persistence false\n")
                f.write("log_dest stderr\n")
            if not start:
                return
            try:
                self.start()
                return
            except AssertionError as e:
                last = e
        raise last

    def start(self, timeout=5.0):
        logf = open(self.log, "a")
        try:
            self.proc = subprocess.Popen([self.exe, "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("mosquitto exited (%d):\n%s" % (self.proc.returncode,
                                                                     self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise AssertionError("mosquitto did not listen on %d:\n%s" % (self.port, self.log_text()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, down_s=0.5):
        self.stop()
        time.sleep(down_s)
        self.start()

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _remaining_length(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s):
    b = s.encode("utf-8")
    return struct.pack("!H", len(b)) + b


class Message:
    def __init__(self, t, topic, payload, retain):
        self.t = t  # time.monotonic() at arrival
        self.topic = topic
        self.payload = payload  # str
        self.retain = retain

    def json(self):
        return json.loads(self.payload)

    def __repr__(self):
        return "%s %s" % (self.topic, self.payload)


class Subscriber:
    """Subscribe to `topic_filter` on 127.0.0.1:port; `messages` grows as they arrive."""

    def __init__(self, port, topic_filter, client_id=None):
        self.port = port
        self.filter = topic_filter
        self.client_id = client_id or "otk-sub-%d-%d" % (os.getpid(), id(self) % 100000)
        self.messages = []
        self.connects = 0
        self._cond = threading.Condition()
        self._stop = False
        self._sock = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._subscribed = threading.Event()
        self._thread.start()
        if not self._subscribed.wait(10):
            self.close()
            raise AssertionError("subscriber: no SUBACK from the broker on %d" % port)

    def _read_exact(self, s, n):
        buf = b""
        while len(buf) < n:
            got = s.recv(n - len(buf))
            if not got:
                raise ConnectionError("closed")
            buf += got
        return buf

    def _read_packet(self, s):
        head = self._read_exact(s, 1)[0]
        mult, length = 1, 0
        while True:
            b = self._read_exact(s, 1)[0]
            length += (b & 0x7F) * mult
            if not b & 0x80:
                break
            mult *= 128
        return head, self._read_exact(s, length) if length else b""

    def _session(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        self._sock = s
        try:
            # CONNECT: protocol "MQTT" level 4, clean session, keepalive 0 (no pings needed)
            var = _utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0)
            body = var + _utf8(self.client_id)
            s.sendall(bytes([0x10]) + _remaining_length(len(body)) + body)
            head, body = self._read_packet(s)
            if head >> 4 != 2 or len(body) < 2 or body[1] != 0:
                raise ConnectionError("CONNACK refused: %r" % body)
            sub = struct.pack("!H", 1) + _utf8(self.filter) + bytes([0])
            s.sendall(bytes([0x82]) + _remaining_length(len(sub)) + sub)
            s.settimeout(None)
            while not self._stop:
                head, body = self._read_packet(s)
                kind = head >> 4
                if kind == 9:  # SUBACK
                    self.connects += 1
                    self._subscribed.set()
                elif kind == 3:  # PUBLISH
                    qos = (head >> 1) & 3
                    tl = struct.unpack("!H", body[:2])[0]
                    topic = body[2:2 + tl].decode("utf-8", "replace")
                    off = 2 + tl + (2 if qos else 0)
                    msg = Message(time.monotonic(), topic, body[off:].decode("utf-8", "replace"),
                                  bool(head & 1))
                    with self._cond:
                        self.messages.append(msg)
                        self._cond.notify_all()
        finally:
            self._sock = None
            s.close()

    def _run(self):
        while not self._stop:
            try:
                self._session()
            except (OSError, ConnectionError, IndexError, struct.error):
                if self._stop:
                    return
                time.sleep(0.05)  # the broker is away: try again

    def wait_for(self, pred, timeout=10.0, start=0, what="message"):
        """The first message (from index `start`) for which pred(msg) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages[start:]:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("subscriber: no %s within %.1f s; last messages:\n%s" % (
                        what, timeout, "\n".join(map(repr, self.messages[-15:]))))
                self._cond.wait(left)

    def snapshot(self):
        with self._cond:
            return list(self.messages)

    def close(self):
        self._stop = True
        s = self._sock
        if s:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ota_states(msgs, base):
    """The gateway's <base>/ota/state payloads (dicts) in arrival order, retained ones left
    out (they repeat an older update)."""
    topic = base + "/ota/state"
    return [m.json() for m in msgs if m.topic == topic and not m.retain]


def between(msgs, base, first_state, last_states):
    """Messages that arrived after the first non-retained ota/state `first_state` and before the
    next ota/state whose state is in `last_states` (exclusive): (inside, start_index, end_index)."""
    topic = base + "/ota/state"
    start = end = None
    for i, m in enumerate(msgs):
        if m.topic != topic or m.retain:
            continue
        st = m.json().get("state")
        if start is None and st == first_state:
            start = i
        elif start is not None and st in last_states:
            end = i
            break
    if start is None or end is None:
        raise AssertionError("no ota/state %r ... %r in:\n%s" % (
            first_state, last_states, "\n".join(map(repr, msgs[-30:]))))
    return msgs[start + 1:end], start, end


PASSWORD = "OTAPASSWORD"


def start_gateway(tmpdir, broker_port, name="gw", extra=(), password=PASSWORD, ble=(40, 120),
                  reading_ms=100):
    """`otakit device --gateway --json` talking to the broker on broker_port, with fast task
    periods so that a test sees many readings in a second. Returns (otk.Device, base topic)."""
    args = ["--gateway", "--name", name, "--mqtt-host", "127.0.0.1", "--mqtt-port", broker_port,
            "--reading-interval", reading_ms, "--ble-window", ble[0], "--ble-interval", ble[1]]
    dev = otk.start_device(tmpdir, password=password, extra=list(args) + list(extra))
    return dev, "otakit/" + name


def slow_upload(port, data, password=PASSWORD, seconds=2.0, **kw):
    """pyclient upload in lock-step 1 KB chunks, paced so that the data phase lasts about
    `seconds` (long enough to see what the tasks do meanwhile)."""
    import pyclient
    pause = seconds / max(1, len(data) // 1024)

    def pace(off, total):
        time.sleep(pause)

    kw.setdefault("timeout", 10.0)
    return pyclient.upload("127.0.0.1", port, data, password=password, progress=pace, **kw)
