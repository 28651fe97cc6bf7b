# SPDX-License-Identifier: MIT
"""ESPHome's native OTA protocol ("espota2") from the other side, for the tests: a fake ESPHome
*device* and an ESPHome *client* (uploader), each parametrised by the era whose behaviour it
copies, and the Noise_NNpsk0_25519_ChaChaPoly_SHA256 handshake they use since 2026.9. Written
from the project's wire reference (the exchange byte by byte, the response codes, each era's
features, the Noise key schedule), not from ESPHome's code: CI has neither network nor ESPHome.
Standard library, plus python3-cryptography (X25519, ChaCha20-Poly1305) for Noise only.

Eras (ERAS; see the reference's "what each era sends and accepts"):

  device era   version  feature reply                       password challenge
  "2024"       2        40 (46: compression and client 01)  01 + 32 hex (MD5), whatever the client
  "v1"         1        as 2024, and no chunk acks          as 2024
  "2025.10"    2        as 2024                             02 + 64 hex (SHA-256) if client has 02,
                                                            else MD5
  "2026.1"     2        as 2024                             SHA-256; 82 (and close) to clients
                                                            without 02
  "2026.5"     2        48 + flags to clients with 04       as 2026.1; reads the OTA type byte
                        (else one byte); type byte          (8E after the size to a type but 00)
  "2026.9"     2        as 2026.5, flag 04 with a key       as 2026.1; none (41) inside Noise;
                        (Noise offered); 94 to clients      94 instead of the feature reply when
                        without 08|04 when required         required

  client era   features  accepts version  feature replies        auth
  "2023"       01        1 only           40, 46                 MD5
  "2024"       01        1, 2             40, 46                 MD5
  "2025.10"    03        1, 2             40, 46                 MD5, SHA-256
  "2026.5"     07        1, 2             48+flags, 40, 46       MD5, SHA-256; type byte after 48
  "2026.9"     07, 0F    1, 2             as 2026.5              MD5, SHA-256; Noise with a key
               (a key)                                          (fails closed when the device
                                                                 does not offer, unless
                                                                 fallback_plaintext)

A fake device:

    dev = FakeEspDevice(era="2026.9", password=None, key=None, require_encryption=False,
                        compression=False, partition_access=False, max_size=None,
                        errors={}, data_error=None, close_mid_data=None,
                        close_after_last_byte=False, no_end_ack=False, nonce=None,
                        ephemeral=None, timeout=10.0, port=0, version=None, delays={})
    dev.port                       # listening on 127.0.0.1 (listen(1), one client at a time)
    dev.wait_sessions(n, timeout)  # -> the first n Session records, once they are finished
    dev.sessions                   # every connection: a Session (below)
    dev.images                     # each image the device committed (decompressed if gzip)
    dev.close()                    # also a context manager

  key: the 32-byte PSK (bytes) or its base64 text. errors: {step: code} sends `code` instead
  of the step's answer and closes; steps: "magic" (instead of 00 vv), "features", "auth" (after
  the answer to a challenge, or instead of 41), "prepare" (after the size), "md5", "receive"
  (instead of 44), "end" (instead of 45). data_error=(n, code): `code` once n image bytes are
  in. close_mid_data=n: close once n bytes are in. close_after_last_byte: commit the image, close
  without 44. no_end_ack: commit, send 44, close without 45. nonce: the challenge's hex text
  (the reference's auth vectors) instead of a random one. ephemeral: the device's Noise private
  key (32 bytes) instead of a random one. version: the byte after 00 (default 1 for "v1", else
  2; any value, to test a client's refusal). delays: {step: seconds} waits before that step's
  answer (steps as for errors), e.g. a slow erase before 42.

  Session fields: features (client byte), extended, encrypted (Noise done), handshake ("ok",
  "mac failure", "malformed" or None), auth ("none", "md5", "sha256", "noise"), nonce, cnonce,
  response, auth_ok, ota_type, size, md5 (hex text the host sent), received (image bytes),
  acks (47s sent), sent (every byte value the device sent as a response, in order: the codes,
  not nonces or flags), end_ack (the host's final 00 came), committed, closed_by ("device",
  "host" or "timeout"), error (what ended it early, text), frames_in (Noise frames' payload
  sizes the host sent after the handshake).

A client:

    r = upload("127.0.0.1", port, data, era="2026.5", password=None, key=None,
               fallback_plaintext=False, ota_type=0, timeout=10.0, compress=True,
               ephemeral=None, cnonce=None)
    r.ok, r.error (text or ""), r.error_code (the device's 8x/94/FF byte, or None),
    r.stage ("connect", "magic", "features", "handshake", "auth", "type", "size", "md5",
    "data", "receive", "end", "done"), r.version, r.feature_reply, r.server_flags,
    r.auth ("none", "md5", "sha256", "noise"), r.encrypted, r.acks, r.sent (image bytes
    written), r.codes (every response code read, in order), r.reject (a Noise reject's reason).

  The client waits for each 8 KiB block's 47 (version 2), as ESPHome's CLIs do; under Noise
  each block goes as eight 1024-byte frames and each control unit as a frame of its own.

Noise alone: NoiseState(initiator, psk, prologue, ephemeral=None) with write_message(),
read_message(msg) (raises NoiseError), encrypt(pt), decrypt(ct); make_prologue(version,
client_features, server_flags); frame(payload) / read_frame(sock).

From the command line (prints one JSON line per finished session / the client's result):
    python3 espeers.py device --era 2026.9 [--port N] [--password P] [--key B64]
                              [--require-encryption] [--fail STEP=CODE] ...
    python3 espeers.py client --era 2024 HOST PORT FILE [--password P] [--key B64]
"""

import argparse
import base64
import gzip
import hashlib
import hmac
import json
import os
import secrets
import socket
import struct
import sys
import threading
import time
import zlib

MAGIC = b"\x6c\x26\xf7\x5c\x45"
CHUNK = 8192  # bytes between two chunk acks; ESPHome's client block
READ_SIZE = 1024  # a device's read() size (OTA_BUFFER_SIZE)
NOISE_MAX_PLAINTEXT = 1024

OK = 0x00
REQUEST_AUTH_MD5 = 0x01
REQUEST_AUTH_SHA256 = 0x02
HEADER_OK = 0x40
AUTH_OK = 0x41
UPDATE_PREPARE_OK = 0x42
BIN_MD5_OK = 0x43
RECEIVE_OK = 0x44
UPDATE_END_OK = 0x45
SUPPORTS_COMPRESSION = 0x46
CHUNK_OK = 0x47
FEATURE_FLAGS = 0x48
ERR_MAGIC = 0x80
ERR_UPDATE_PREPARE = 0x81
ERR_AUTH_INVALID = 0x82
ERR_ESP32_NOT_ENOUGH_SPACE = 0x89
ERR_MD5_MISMATCH = 0x8B
ERR_UNSUPPORTED_OTA_TYPE = 0x8E
ERR_ENCRYPTION_REQUIRED = 0x94
ERR_UNKNOWN = 0xFF

CF_COMPRESSION, CF_SHA256, CF_EXTENDED, CF_NOISE = 0x01, 0x02, 0x04, 0x08
SF_COMPRESSION, SF_PARTITION_ACCESS, SF_NOISE = 0x01, 0x02, 0x04

# The host's messages for the device's error codes (abridged from the reference's table).
ERROR_TEXT = {
    0x80: "Invalid magic byte",
    0x81: "Couldn't prepare flash memory for update. Is the binary too big?",
    0x82: "Authentication invalid. Is the password correct?",
    0x83: "Writing OTA data to flash memory failed",
    0x84: "Finishing update failed",
    0x85: "Please press the reset button on the ESP",
    0x86: "ESP has been flashed with wrong flash size",
    0x87: "ESP does not have the requested flash size",
    0x88: "ESP does not have enough space to store OTA file",
    0x89: "The OTA partition on the ESP is too small",
    0x8A: "Unable to determine the OTA partition",
    0x8B: "Application MD5 code mismatch",
    0x8C: "RP2040 does not have enough space to store OTA file",
    0x8D: "Firmware signature verification failed",
    0x8E: "OTA type not supported by the device",
    0x8F: "Partition table verification failed",
    0x90: "Partition table update failed",
    0x91: "Bootloader verification failed",
    0x92: "Bootloader update failed",
    0x93: "Version downgrade rejected",
    0x94: "The device requires an encrypted upload",
    0xFF: "Unknown error from ESP",
}

DEVICE_ERAS = ("v1", "2024", "2025.10", "2026.1", "2026.5", "2026.9")
CLIENT_ERAS = ("2023", "2024", "2025.10", "2026.5", "2026.9")
ERAS = {"device": DEVICE_ERAS, "client": CLIENT_ERAS}


def _era_at_least(era, since):
    """Whether era (a device or client era name) is since or later; "v1" is a 2024 device."""
    def key(e):
        return tuple(int(x) for x in ("2024" if e == "v1" else e).split("."))
    return key(era) >= key(since)


# ---------------------------------------------------------------------------------------------
# Noise_NNpsk0_25519_ChaChaPoly_SHA256

NOISE_NAME = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
PROLOGUE_INIT = b"NoiseOTAInit"
MAC_FAILURE = "Handshake MAC failure"
HANDSHAKE_LEN = 48
TAG_LEN = 16


class NoiseError(Exception):
    """A handshake message or a transport frame that did not authenticate (or was malformed)."""


def make_prologue(version, client_features, server_flags):
    """The 22 bytes both sides saw before the handshake."""
    return PROLOGUE_INIT + MAGIC + bytes([0, version, client_features, FEATURE_FLAGS,
                                          server_flags])


def decode_key(key):
    """A PSK given as 32 bytes or as ESPHome's base64 text; None stays None."""
    if key is None or isinstance(key, (bytes, bytearray)):
        k = key
    else:
        k = base64.b64decode(key, validate=True)
    if k is not None and len(k) != 32:
        raise ValueError("a Noise key is 32 bytes (base64 of 32 bytes)")
    return bytes(k) if k is not None else None


def _sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def _hkdf(ck, ikm, n):
    temp = hmac.new(ck, ikm, hashlib.sha256).digest()
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac.new(temp, prev + bytes([i]), hashlib.sha256).digest()
        out.append(prev)
    return out


def _nonce(n):
    return b"\x00\x00\x00\x00" + struct.pack("<Q", n)


class NoiseState:
    """One side of the handshake, then its two transport ciphers. Attributes for tests:
    h_name, h_prologue, h (the handshake hash once done), k1 (initiator -> responder), k2,
    e_pub."""

    def __init__(self, initiator, psk, prologue, ephemeral=None):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        psk = decode_key(psk)
        if psk == bytes(32):
            raise ValueError("the all-zero key means 'unprovisioned'")
        self.initiator = initiator
        self._psk = psk
        self.h = _sha256(NOISE_NAME)  # the name is longer than a hash
        self.h_name = self.h
        self.ck = self.h
        self.k = None
        self._mix_hash(prologue)
        self.h_prologue = self.h
        self._e = X25519PrivateKey.from_private_bytes(ephemeral or os.urandom(32))
        self.e_pub = self._e.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)
        self._re = None
        self._step = 0  # messages done
        self.k1 = self.k2 = None
        self._tx_n = self._rx_n = 0

    def _mix_hash(self, data):
        self.h = _sha256(self.h, data)

    def _mix_key(self, ikm):
        self.ck, self.k = _hkdf(self.ck, ikm, 2)

    def _mix_psk(self):
        self.ck, t, self.k = _hkdf(self.ck, self._psk, 3)
        self._mix_hash(t)

    def _aead(self, key):
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
        return ChaCha20Poly1305(key)

    def _ee(self):
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
        try:
            shared = self._e.exchange(X25519PublicKey.from_public_bytes(self._re))
        except ValueError as e:  # a point of small order: the product is all zero
            raise NoiseError("bad ephemeral key: %s" % e)
        self._mix_key(shared)

    def _split(self):
        self.k1, self.k2 = _hkdf(self.ck, b"", 2)

    @property
    def ready(self):
        return self.k1 is not None

    def write_message(self):
        """Our handshake message: e.pub (32) and the tag of the empty payload (16)."""
        if self._step != (0 if self.initiator else 1):
            raise NoiseError("not our turn")
        if self.initiator:
            self._mix_psk()
        self._mix_hash(self.e_pub)
        self._mix_key(self.e_pub)
        if not self.initiator:
            self._ee()
        tag = self._aead(self.k).encrypt(_nonce(0), b"", self.h)
        self._mix_hash(tag)
        self._step += 1
        if not self.initiator:
            self._split()
        return self.e_pub + tag

    def read_message(self, msg):
        if self._step != (1 if self.initiator else 0):
            raise NoiseError("not its turn")
        if len(msg) != HANDSHAKE_LEN:
            raise NoiseError("malformed handshake message (%d bytes)" % len(msg))
        if not self.initiator:
            self._mix_psk()
        self._re = bytes(msg[:32])
        self._mix_hash(self._re)
        self._mix_key(self._re)
        if self.initiator:
            self._ee()
        from cryptography.exceptions import InvalidTag
        try:
            self._aead(self.k).decrypt(_nonce(0), bytes(msg[32:]), self.h)
        except InvalidTag:
            raise NoiseError(MAC_FAILURE)
        self._mix_hash(bytes(msg[32:]))
        self._step += 1
        if self.initiator:
            self._split()

    def encrypt(self, plaintext):
        key = self.k1 if self.initiator else self.k2
        ct = self._aead(key).encrypt(_nonce(self._tx_n), bytes(plaintext), b"")
        self._tx_n += 1
        return ct

    def decrypt(self, ciphertext):
        from cryptography.exceptions import InvalidTag
        key = self.k2 if self.initiator else self.k1
        if len(ciphertext) < TAG_LEN:
            raise NoiseError("frame shorter than a tag")
        try:
            pt = self._aead(key).decrypt(_nonce(self._rx_n), bytes(ciphertext), b"")
        except InvalidTag:
            raise NoiseError("transport frame MAC failure")
        self._rx_n += 1
        return pt


def frame(payload):
    """ESPHome's Noise frame: 01, 16-bit big-endian length (>= 1), payload."""
    return bytes([1]) + struct.pack(">H", len(payload)) + bytes(payload)


class Closed(Exception):
    """The peer closed the connection (or a read timed out: `timeout` is set)."""

    def __init__(self, what, timeout=False):
        super().__init__(what)
        self.timeout = timeout


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        try:
            b = sock.recv(n - len(buf))
        except socket.timeout:
            raise Closed("timed out after %d of %d bytes" % (len(buf), n), timeout=True)
        except OSError as e:
            raise Closed("connection error: %s" % e)
        if not b:
            raise Closed("closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return buf


def read_frame(sock):
    """One frame's payload; NoiseError for a bad indicator or an empty frame."""
    hdr = recv_exact(sock, 3)
    if hdr[0] != 1:
        raise NoiseError("bad frame indicator %02x" % hdr[0])
    n = struct.unpack(">H", hdr[1:])[0]
    if n == 0:
        raise NoiseError("empty frame")
    return recv_exact(sock, n)


class _Plain:
    """The connection before (or without) Noise: units are raw bytes."""

    def __init__(self, sock):
        self.sock = sock

    def send(self, b):
        self.sock.sendall(bytes(b))

    def recv_unit(self, n):
        return recv_exact(self.sock, n)

    def recv_data(self, n):
        try:
            b = self.sock.recv(n)
        except socket.timeout:
            raise Closed("timed out in the data", timeout=True)
        except OSError as e:
            raise Closed("connection error: %s" % e)
        if not b:
            raise Closed("closed in the data")
        return b


class _Encrypted:
    """After the handshake: every unit is a frame of its own, as ESPHome's peers demand."""

    def __init__(self, sock, noise, frames_in=None):
        self.sock, self.noise, self.frames_in = sock, noise, frames_in

    def send(self, b):
        self.sock.sendall(frame(self.noise.encrypt(b)))

    def _recv(self):
        ct = read_frame(self.sock)
        if self.frames_in is not None:
            self.frames_in.append(len(ct) - TAG_LEN)
        return self.noise.decrypt(ct)

    def recv_unit(self, n):
        pt = self._recv()
        if len(pt) != n:
            raise NoiseError("a control unit of %d bytes where %d belong" % (len(pt), n))
        return pt

    def recv_data(self, n):
        pt = self._recv()
        if len(pt) > n:
            raise NoiseError("a data frame of %d bytes where %d remain" % (len(pt), n))
        return pt


# ---------------------------------------------------------------------------------------------
# The fake device

class Session:
    """What the fake device saw on one connection (fields: the module's doc)."""

    def __init__(self):
        self.features = None
        self.extended = False
        self.server_flags = None
        self.encrypted = False
        self.handshake = None
        self.auth = None
        self.nonce = self.cnonce = self.response = None
        self.auth_ok = None
        self.ota_type = None
        self.size = None
        self.md5 = None
        self.received = b""
        self.acks = 0
        self.sent = []
        self.end_ack = False
        self.committed = False
        self.closed_by = None
        self.error = ""
        self.frames_in = []
        self.done = threading.Event()

    def as_dict(self):
        d = {k: v for k, v in vars(self).items() if k not in ("done", "received")}
        d["received_len"] = len(self.received)
        d["sent"] = ["%02x" % c for c in self.sent]
        return d

    def __repr__(self):
        return "Session(%r)" % self.as_dict()


class _Stop(Exception):
    """The device ends the session (after an error code, or by an injected close)."""


def _close_gracefully(conn):
    """Close after the peer has read what we sent: a close with unread bytes in the receive
    buffer resets the connection, and the reset may overtake our last code."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(1.0)
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


class FakeEspDevice:
    """A scripted ESPHome device of a given era on 127.0.0.1 (see the module's doc)."""

    def __init__(self, era="2026.5", password=None, key=None, require_encryption=False,
                 compression=False, partition_access=False, max_size=None, errors=None,
                 data_error=None, close_mid_data=None, close_after_last_byte=False,
                 no_end_ack=False, nonce=None, ephemeral=None, timeout=10.0, port=0,
                 version=None, delays=None):
        if era not in DEVICE_ERAS:
            raise ValueError("device era %r: one of %s" % (era, ", ".join(DEVICE_ERAS)))
        self.era = era
        self.version = version if version is not None else 1 if era == "v1" else 2
        self.password = password
        self.key = decode_key(key) if _era_at_least(era, "2026.9") else None
        self.require_encryption = require_encryption and self.key is not None
        self.compression = compression
        self.partition_access = partition_access
        self.max_size = max_size
        self.errors = dict(errors or {})
        self.delays = dict(delays or {})
        self.data_error = data_error
        self.close_mid_data = close_mid_data
        self.close_after_last_byte = close_after_last_byte
        self.no_end_ack = no_end_ack
        self.nonce = nonce
        self.ephemeral = ephemeral
        self.timeout = timeout
        self.sessions = []
        self.images = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(1)  # as ESPHome's devices: one client at a time
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- life cycle

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s = Session()
            with self._lock:
                self.sessions.append(s)
            try:
                conn.settimeout(self.timeout)
                # one-byte codes back to back: without this, Nagle holds the second for the
                # peer's delayed ack (40 ms on Linux)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._session(conn, s)
            finally:
                _close_gracefully(conn)
                s.done.set()

    def wait_sessions(self, n, timeout=30.0):
        """The first n sessions, once each has ended; AssertionError if they do not come."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = list(self.sessions[:n])
            if len(got) == n:
                break
            if time.monotonic() > deadline:
                raise AssertionError("fake device: %d of %d sessions came" % (len(got), n))
            time.sleep(0.02)
        for s in got:
            if not s.done.wait(max(0.0, deadline - time.monotonic())):
                raise AssertionError("fake device: a session did not end")
        return got

    def close(self):
        self._stop.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() on Linux
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        self._thread.join(timeout=self.timeout + 2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- one session

    def _session(self, conn, s):
        ch = _Plain(conn)
        try:
            ch = self._handshake(conn, ch, s)
            self._authenticate(ch, s)
            self._receive(ch, s)
        except _Stop:
            s.closed_by = "device"
        except Closed as e:
            s.closed_by = "timeout" if e.timeout else "host"
            s.error = s.error or str(e)
        except NoiseError as e:
            s.closed_by = "device"
            s.error = s.error or str(e)

    def _send(self, ch, s, code, step=None):
        """Send a response code; an injected error for `step` replaces it and ends the session."""
        if step in self.delays:
            time.sleep(self.delays[step])
        if step is not None and step in self.errors:
            code = self.errors[step]
            ch.send(bytes([code]))
            s.sent.append(code)
            s.error = "injected %02x at %s" % (code, step)
            raise _Stop()
        ch.send(bytes([code]))
        s.sent.append(code)

    def _fail(self, ch, s, code, why):
        ch.send(bytes([code]))
        s.sent.append(code)
        s.error = why
        raise _Stop()

    def _handshake(self, conn, ch, s):
        """Steps 1-4b: magic, version, features, feature reply, Noise. Returns the channel."""
        if ch.recv_unit(5) != MAGIC:
            self._fail(ch, s, ERR_MAGIC, "wrong magic")
        if "magic" in self.errors or "magic" in self.delays:
            self._send(ch, s, OK, "magic")
            ch.send(bytes([self.version]))
        else:
            ch.send(bytes([OK, self.version]))
            s.sent.append(OK)
        s.features = ch.recv_unit(1)[0]
        noise_ok = (s.features & (CF_NOISE | CF_EXTENDED)) == (CF_NOISE | CF_EXTENDED)
        if self.require_encryption and not noise_ok:
            self._fail(ch, s, ERR_ENCRYPTION_REQUIRED, "encryption required")
        s.extended = _era_at_least(self.era, "2026.5") and bool(s.features & CF_EXTENDED)
        if s.extended:
            flags = ((SF_COMPRESSION if self.compression and s.features & CF_COMPRESSION else 0)
                     | (SF_PARTITION_ACCESS if self.partition_access else 0)
                     | (SF_NOISE if self.key else 0))
            self._send(ch, s, FEATURE_FLAGS, "features")
            ch.send(bytes([flags]))
            s.server_flags = flags
            if noise_ok and flags & SF_NOISE:
                return self._noise(conn, s, flags)
        elif self.compression and s.features & CF_COMPRESSION:
            self._send(ch, s, SUPPORTS_COMPRESSION, "features")
        else:
            self._send(ch, s, HEADER_OK, "features")
        return ch

    def _noise(self, conn, s, flags):
        ns = NoiseState(False, self.key, make_prologue(self.version, s.features, flags),
                        self.ephemeral)
        payload = read_frame(conn)
        if payload[0] != 0:
            s.handshake = "malformed"
            raise NoiseError("handshake frame with status %02x" % payload[0])
        try:
            ns.read_message(payload[1:])
        except NoiseError as e:
            s.handshake = "mac failure" if str(e) == MAC_FAILURE else "malformed"
            reason = MAC_FAILURE if s.handshake == "mac failure" else "Handshake error"
            conn.sendall(frame(b"\x01" + reason.encode()))
            s.error = "handshake: %s" % e
            raise _Stop()
        conn.sendall(frame(b"\x00" + ns.write_message()))
        s.handshake = "ok"
        s.encrypted = True
        return _Encrypted(conn, ns, s.frames_in)

    def _challenge(self, ch, s, sha):
        n = 64 if sha else 32
        if self.nonce:
            nonce = self.nonce
        elif sha:
            nonce = hashlib.sha256(os.urandom(8)).hexdigest()
        else:
            nonce = hashlib.md5(b"%08x" % secrets.randbits(32)).hexdigest()
        s.auth, s.nonce = ("sha256" if sha else "md5"), nonce
        ch.send(bytes([REQUEST_AUTH_SHA256 if sha else REQUEST_AUTH_MD5]) + nonce.encode())
        s.sent.append(REQUEST_AUTH_SHA256 if sha else REQUEST_AUTH_MD5)
        s.cnonce = ch.recv_unit(n).decode("latin-1")
        s.response = ch.recv_unit(n).decode("latin-1")
        h = hashlib.sha256 if sha else hashlib.md5
        want = h((self.password + nonce + s.cnonce).encode()).hexdigest()
        s.auth_ok = hmac.compare_digest(want, s.response)
        if not s.auth_ok:
            self._fail(ch, s, ERR_AUTH_INVALID, "wrong password")
        self._send(ch, s, AUTH_OK, "auth")

    def _authenticate(self, ch, s):
        """Step 5: 41 without a password or inside Noise, else the era's challenge."""
        if s.encrypted or not self.password:
            s.auth = "noise" if s.encrypted else "none"
            self._send(ch, s, AUTH_OK, "auth")
            return
        client_sha = bool(s.features & CF_SHA256)
        if self.era in ("v1", "2024"):
            self._challenge(ch, s, False)
        elif self.era == "2025.10":
            self._challenge(ch, s, client_sha)
        elif client_sha:
            self._challenge(ch, s, True)
        else:
            self._fail(ch, s, ERR_AUTH_INVALID, "client without SHA-256 auth")

    def _prepare(self, ch, s):
        """Steps 6-10: type, size, MD5."""
        if s.extended:
            s.ota_type = ch.recv_unit(1)[0]
        s.size = struct.unpack(">I", ch.recv_unit(4))[0]
        if s.ota_type not in (None, 0) and not (self.partition_access and s.ota_type in (1, 2)):
            self._fail(ch, s, ERR_UNSUPPORTED_OTA_TYPE, "OTA type %d" % s.ota_type)
        if self.max_size is not None and s.size > self.max_size:
            self._fail(ch, s, ERR_ESP32_NOT_ENOUGH_SPACE, "image too big")
        if s.size == 0:
            self._fail(ch, s, ERR_UPDATE_PREPARE, "size 0")
        self._send(ch, s, UPDATE_PREPARE_OK, "prepare")
        s.md5 = ch.recv_unit(32).decode("latin-1")
        self._send(ch, s, BIN_MD5_OK, "md5")

    def _data(self, ch, s):
        """Steps 11-12: the image, with the chunk acks of version 2 after every read."""
        acked = 0
        data = bytearray()
        while len(data) < s.size:
            data += ch.recv_data(min(READ_SIZE, s.size - len(data)))
            s.received = bytes(data)
            if self.data_error and len(data) >= self.data_error[0]:
                self._fail(ch, s, self.data_error[1], "injected data error")
            if self.close_mid_data is not None and len(data) >= self.close_mid_data:
                s.error = "closed mid-data (injected)"
                raise _Stop()
            while self.version >= 2 and (acked + CHUNK <= len(data)
                                         or (len(data) == s.size and acked < s.size)):
                ch.send(bytes([CHUNK_OK]))
                s.sent.append(CHUNK_OK)
                s.acks += 1
                acked += CHUNK

    def _commit(self, s):
        image = s.received
        if self.compression and image[:2] == b"\x1f\x8b":
            try:
                image = gzip.decompress(image)
            except (OSError, EOFError, zlib.error):
                pass
        s.committed = True
        with self._lock:
            self.images.append(image)

    def _receive(self, ch, s):
        self._prepare(ch, s)
        self._data(ch, s)
        md5_ok = hashlib.md5(s.received).hexdigest() == s.md5.lower()
        if self.close_after_last_byte:
            if md5_ok:
                self._commit(s)
            s.error = "closed after the last byte (injected)"
            raise _Stop()
        self._send(ch, s, RECEIVE_OK, "receive")
        if not md5_ok:
            self._fail(ch, s, ERR_MD5_MISMATCH, "MD5 mismatch")
        if self.no_end_ack:
            self._commit(s)
            s.error = "no end ack (injected)"
            raise _Stop()
        self._send(ch, s, UPDATE_END_OK, "end")
        self._commit(s)
        try:
            s.end_ack = ch.recv_unit(1) == b"\x00"
        except (Closed, NoiseError):
            s.end_ack = False  # logged by a real device, not fatal
        s.closed_by = "device"


# ---------------------------------------------------------------------------------------------
# The era client

class ClientResult:
    """What the client saw (fields: the module's doc)."""

    def __init__(self):
        self.ok = False
        self.error = ""
        self.error_code = None
        self.stage = "connect"
        self.version = None
        self.feature_reply = None
        self.server_flags = None
        self.auth = None
        self.encrypted = False
        self.acks = 0
        self.sent = 0
        self.codes = []
        self.reject = None

    def __repr__(self):
        return "ClientResult(%r)" % {k: v for k, v in vars(self).items()}


class ClientError(Exception):
    pass


CLIENT_FEATURES = {"2023": 0x01, "2024": 0x01, "2025.10": 0x03, "2026.5": 0x07, "2026.9": 0x07}


class _Client:
    def __init__(self, era, password, key, fallback_plaintext, ota_type, ephemeral, cnonce):
        if era not in CLIENT_ERAS:
            raise ValueError("client era %r: one of %s" % (era, ", ".join(CLIENT_ERAS)))
        self.era, self.password, self.ota_type = era, password, ota_type
        self.key = decode_key(key) if era == "2026.9" else None
        self.fallback_plaintext = fallback_plaintext
        self.ephemeral, self.cnonce = ephemeral, cnonce
        self.r = ClientResult()

    def code(self, ch, stage, accepted):
        """One response byte; an error (or an unexpected byte) ends the upload."""
        self.r.stage = stage
        c = ch.recv_unit(1)[0]
        self.r.codes.append(c)
        if c not in accepted:
            self.r.error_code = c if c >= 0x80 else None
            self.r.error = self.error_text(c)
            raise ClientError(self.r.error)
        return c

    def error_text(self, c):
        """The message for a code; 94 came with the 2026.9 CLIs, older ones do not know it."""
        if c in ERROR_TEXT and (c != ERR_ENCRYPTION_REQUIRED or self.era == "2026.9"):
            return ERROR_TEXT[c]
        return "Unexpected response from ESP: 0x%02X" % c

    def open(self, sock):
        """Steps 1-4b; returns the channel and whether to gzip."""
        ch = _Plain(sock)
        self.r.stage = "magic"
        ch.send(MAGIC)
        self.code(ch, "magic", (OK,))
        self.r.version = ch.recv_unit(1)[0]
        if self.r.version not in ((1,) if self.era == "2023" else (1, 2)):
            self.r.error = "Unsupported OTA version %d" % self.r.version
            raise ClientError(self.r.error)
        features = CLIENT_FEATURES[self.era] | (CF_NOISE if self.key else 0)
        ch.send(bytes([features]))
        reply = self.feature_reply(ch)
        gz = reply == SUPPORTS_COMPRESSION
        if reply == FEATURE_FLAGS:
            self.r.server_flags = flags = ch.recv_unit(1)[0]
            gz = bool(flags & SF_COMPRESSION)
            if self.key and flags & SF_NOISE:
                return self.noise(sock, features, flags), gz, True
        if self.key and not self.fallback_plaintext:
            self.r.error = "The device does not offer encryption; refusing a plaintext upload"
            raise ClientError(self.r.error)
        return ch, gz, reply == FEATURE_FLAGS

    def feature_reply(self, ch):
        """Step 4. The 2023/2024 CLIs accept 40 and 46 only; later ones stop at the error codes
        they know and take any other byte for "no features" (so a 2026.5 CLI reads past a 94 and
        then finds the connection closed)."""
        replies = (HEADER_OK, SUPPORTS_COMPRESSION)
        if _era_at_least(self.era, "2026.5"):
            replies += (FEATURE_FLAGS,)
        if self.era in ("2023", "2024"):
            reply = self.code(ch, "features", replies)
        else:
            known = [c for c in ERROR_TEXT if c != ERR_ENCRYPTION_REQUIRED or self.era == "2026.9"]
            reply = self.code(ch, "features", replies + tuple(
                c for c in range(256) if c not in known and c not in replies))
            if reply not in replies:
                reply = HEADER_OK
        self.r.feature_reply = reply
        return reply

    def noise(self, sock, features, flags):
        self.r.stage = "handshake"
        ns = NoiseState(True, self.key, make_prologue(self.r.version, features, flags),
                        self.ephemeral)
        sock.sendall(frame(b"\x00" + ns.write_message()))
        payload = read_frame(sock)
        if payload[0] != 0:
            self.r.reject = payload[1:].decode("utf-8", "replace")
            self.r.error = ("Handshake rejected: %s (is the OTA encryption key correct?)"
                            % self.r.reject)
            raise ClientError(self.r.error)
        ns.read_message(payload[1:])
        self.r.encrypted = True
        return _Encrypted(sock, ns)

    def authenticate(self, ch):
        methods = (AUTH_OK, REQUEST_AUTH_MD5)
        if self.era not in ("2023", "2024"):
            methods += (REQUEST_AUTH_SHA256,)
        c = self.code(ch, "auth", methods)
        if c == AUTH_OK:
            self.r.auth = "noise" if self.r.encrypted else "none"
            return
        sha = c == REQUEST_AUTH_SHA256
        self.r.auth = "sha256" if sha else "md5"
        n = 64 if sha else 32
        nonce = ch.recv_unit(n).decode("latin-1")
        if self.password is None:
            self.r.error = "The device requires a password"
            raise ClientError(self.r.error)
        cnonce = self.cnonce or (secrets.token_hex(32) if sha else
                                 hashlib.md5(str(secrets.randbits(64)).encode()).hexdigest())
        h = hashlib.sha256 if sha else hashlib.md5
        ch.send(cnonce.encode())
        ch.send(h((self.password + nonce + cnonce).encode()).hexdigest().encode())
        self.code(ch, "auth", (AUTH_OK,))

    def transfer(self, ch, data, extended):
        if extended:
            self.r.stage = "type"
            ch.send(bytes([self.ota_type]))
        self.r.stage = "size"
        ch.send(struct.pack(">I", len(data)))
        self.code(ch, "size", (UPDATE_PREPARE_OK,))
        ch.send(hashlib.md5(data).hexdigest().encode())
        self.code(ch, "md5", (BIN_MD5_OK,))
        self.r.stage = "data"
        step = NOISE_MAX_PLAINTEXT if self.r.encrypted else CHUNK
        for off in range(0, len(data), CHUNK):
            block = data[off:off + CHUNK]
            for i in range(0, len(block), step):
                ch.send(block[i:i + step])
            self.r.sent += len(block)
            if self.r.version >= 2:
                self.code(ch, "data", (CHUNK_OK,))
                self.r.acks += 1
        self.code(ch, "receive", (RECEIVE_OK,))
        self.code(ch, "end", (UPDATE_END_OK,))
        ch.send(b"\x00")
        self.r.stage = "done"
        self.r.ok = True


def upload(host, port, data, era="2026.5", password=None, key=None, fallback_plaintext=False,
           ota_type=0, timeout=10.0, compress=True, ephemeral=None, cnonce=None):
    """Upload `data` as a client of `era` would; returns a ClientResult (never raises for what
    the device does)."""
    c = _Client(era, password, key, fallback_plaintext, ota_type, ephemeral, cnonce)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as e:
        c.r.error = "connect: %s" % e
        return c.r
    try:
        ch, gz, extended = c.open(sock)
        c.authenticate(ch)
        if gz and compress:
            data = gzip.compress(data, compresslevel=9)
        c.transfer(ch, data, extended)
    except ClientError:
        pass
    except Closed as e:
        c.r.error = "Device closed connection without responding (%s)" % e
    except NoiseError as e:
        c.r.error = "Noise: %s" % e
    except OSError as e:
        c.r.error = "socket: %s" % e
    finally:
        sock.close()
    return c.r


# ---------------------------------------------------------------------------------------------
# Command line

def _parse_fail(text):
    step, _, code = text.partition("=")
    return step, int(code, 16)


def _cli(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("device", help="serve as a fake ESPHome device until killed")
    d.add_argument("--era", default="2026.5", choices=DEVICE_ERAS)
    d.add_argument("--port", type=int, default=0)
    d.add_argument("--password")
    d.add_argument("--key", help="base64 Noise key (2026.9)")
    d.add_argument("--require-encryption", action="store_true")
    d.add_argument("--compression", action="store_true")
    d.add_argument("--max-size", type=int)
    d.add_argument("--fail", action="append", default=[], type=_parse_fail,
                   metavar="STEP=HEXCODE")
    d.add_argument("--close-mid-data", type=int)
    d.add_argument("--close-after-last-byte", action="store_true")
    d.add_argument("--no-end-ack", action="store_true")
    c = sub.add_parser("client", help="upload FILE as a client of an era")
    c.add_argument("--era", default="2026.5", choices=CLIENT_ERAS)
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("file")
    c.add_argument("--password")
    c.add_argument("--key")
    c.add_argument("--ota-type", type=int, default=0)
    a = p.parse_args(argv)
    if a.cmd == "client":
        with open(a.file, "rb") as f:
            r = upload(a.host, a.port, f.read(), era=a.era, password=a.password, key=a.key,
                       ota_type=a.ota_type)
        print(json.dumps(vars(r)))
        return 0 if r.ok else 1
    dev = FakeEspDevice(era=a.era, port=a.port, password=a.password, key=a.key,
                        require_encryption=a.require_encryption, compression=a.compression,
                        max_size=a.max_size, errors=dict(a.fail),
                        close_mid_data=a.close_mid_data,
                        close_after_last_byte=a.close_after_last_byte, no_end_ack=a.no_end_ack)
    print("listening on %d" % dev.port, flush=True)
    n = 0
    try:
        while True:
            s = dev.wait_sessions(n + 1, timeout=1e9)[n]
            print(json.dumps(s.as_dict()), flush=True)
            n += 1
    except KeyboardInterrupt:
        dev.close()
    return 0


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
