# SPDX-License-Identifier: MIT
"""A minimal espota-style uploader, written from the protocol description (docs/PROTOCOL.md).

It behaves like the stock hosts where that matters to a device: the host listens on TCP
first, sends the invitation from a fresh UDP socket on every retry, answers an AUTH challenge
(MD5 for a 32-hex nonce, PBKDF2-HMAC-SHA256 for a 64-hex nonce), then sends the image in
lock-step chunks (default 1024 bytes, one ack read per chunk) and waits for "OK" or an error
text. Standard library only, so CI can drive `otakit device` without espota.py.

Also usable from the command line:
    python3 pyclient.py -i 127.0.0.1 -p 3232 -f image.bin [-a PASSWORD] [-s]
"""

import argparse
import hashlib
import os
import socket
import sys
import time

FLASH = 0
SPIFFS = 100
AUTH = 200
PBKDF2_ITERATIONS = 10000


class Result:
    """What happened. ok: device answered OK. stage: where it ended (invite, auth, connect,
    data, result, done). error: the device's text or our own description."""

    def __init__(self):
        self.ok = False
        self.stage = "invite"
        self.error = ""
        self.invite_reply = ""
        self.auth_reply = ""
        self.nonce = ""
        self.tcp_text = ""  # everything the device sent on TCP
        self.trailer = ""  # the non-digit tail: "OK" or the error text
        self.sent = 0
        self.tries = 0

    def __repr__(self):
        return "Result(ok=%r, stage=%r, error=%r, trailer=%r, sent=%d)" % (
            self.ok, self.stage, self.error, self.trailer, self.sent)


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def auth_response(password, nonce, cnonce, pbkdf2_secret="sha256", scheme=None):
    """The answer to an AUTH challenge. The variant follows from the nonce length, unless
    scheme="md5" (the MD5 scheme whatever the nonce, as espota.py before arduino-esp32 3.3.1).

    MD5 (32-hex nonce):     md5( md5(pw) ":" nonce ":" cnonce )
    PBKDF2 (64-hex nonce):  sha256( hex(PBKDF2-SHA256(H, nonce ":" cnonce, 10000, 32))
                                    ":" nonce ":" cnonce ), H = sha256(pw) (or md5(pw) for a
                            device that stored an MD5 hash: pbkdf2_secret="md5")"""
    pw = password.encode("utf-8")
    if len(nonce) == 32 or scheme == "md5":
        secret = md5_hex(pw)
        return md5_hex(("%s:%s:%s" % (secret, nonce, cnonce)).encode())
    if len(nonce) == 64:
        secret = md5_hex(pw) if pbkdf2_secret == "md5" else sha256_hex(pw)
        salt = ("%s:%s" % (nonce, cnonce)).encode()
        dk = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, PBKDF2_ITERATIONS, 32)
        return sha256_hex(("%s:%s:%s" % (dk.hex(), nonce, cnonce)).encode())
    raise ValueError("nonce of %d characters: neither MD5 (32) nor PBKDF2 (64)" % len(nonce))


def split_trailer(text):
    """Acks are decimal digits with no separators; whatever follows the digits is the
    trailer ("OK" or an error text)."""
    i = 0
    while i < len(text) and text[i].isdigit():
        i += 1
    return text[i:]


def upload(host, port, data, password=None, cmd=FLASH, chunk=1024, size=None, md5=None,
           invite_tries=10, invite_timeout=1.0, timeout=10.0, pbkdf2_secret="sha256",
           cnonce=None, stream=False, progress=None, stop_after=None, stop_mode="close",
           scheme=None, invite_read=128):
    """Upload `data` (bytes) to an ArduinoOTA device. size/md5 override what the invitation
    announces (to provoke errors); the bytes sent are always `data`. scheme="md5" answers in
    the MD5 scheme whatever the nonce; invite_read=37 reads the reply to the invitation as
    espota.py of arduino-esp32 before 3.3.1 does (recv(37): a 64-digit nonce is cut to 32). stream=True sends without
    waiting for each ack. stop_after=N: after N bytes either close the connection
    (stop_mode="close") or go silent and wait for the device (stop_mode="stall").
    Returns a Result."""
    res = Result()
    size = len(data) if size is None else size
    md5 = md5_hex(data) if md5 is None else md5
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    host_port = server.getsockname()[1]
    udp = None
    try:
        invite = ("%d %d %d %s\n" % (cmd, host_port, size, md5)).encode()
        reply = None
        for attempt in range(invite_tries):
            res.tries = attempt + 1
            # A new socket (new source port) per try, as espota does.
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.sendto(invite, (host, port))
            udp.settimeout(invite_timeout)
            try:
                reply = udp.recv(invite_read).decode("latin-1")
                break
            except socket.timeout:
                udp.close()
                udp = None
        if reply is None:
            res.error = "No response from the ESP"
            return res
        res.invite_reply = reply
        if reply.startswith("AUTH"):
            res.stage = "auth"
            parts = reply.split()
            nonce = parts[1] if len(parts) > 1 else ""
            res.nonce = nonce
            if password is None:
                res.error = "device wants a password"
                return res
            n = len(nonce)
            cn = cnonce
            if cn is None:
                cn = os.urandom((32 if scheme == "md5" else n) // 2).hex()
            try:
                resp = auth_response(password, nonce, cn, pbkdf2_secret, scheme)
            except ValueError as e:
                res.error = str(e)
                return res
            udp.sendto(("%d %s %s\n" % (AUTH, cn, resp)).encode(), (host, port))
            udp.settimeout(timeout)
            try:
                ans = udp.recv(128).decode("latin-1")
            except socket.timeout:
                res.error = "No Answer to our Authentication"
                return res
            res.auth_reply = ans
            if ans != "OK":
                res.error = ans
                return res
        elif reply != "OK":
            res.error = reply
            return res
        udp.close()
        udp = None

        res.stage = "connect"
        server.settimeout(timeout)
        try:
            conn, _ = server.accept()
        except socket.timeout:
            res.error = "No response from device"
            return res
        res.stage = "data"
        received = bytearray()
        with conn:
            conn.settimeout(timeout)
            off = 0
            broken = False
            limit = len(data) if stop_after is None else min(stop_after, len(data))
            while off < limit:
                piece = data[off:min(off + chunk, limit)]
                try:
                    conn.sendall(piece)
                except OSError as e:
                    res.error = "Error Uploading: %s" % e
                    broken = True
                    break
                off += len(piece)
                res.sent = off
                if progress:
                    progress(off, len(data))
                if stream:
                    continue
                try:
                    got = conn.recv(64)
                except socket.timeout:
                    res.error = "Error Uploading: no ack within %.0f s" % timeout
                    broken = True
                    break
                except OSError as e:
                    res.error = "Error Uploading: %s" % e
                    broken = True
                    break
                if not got:
                    broken = True
                    break
                received += got
                if split_trailer(received.decode("latin-1")):
                    break  # the device said something else than acks: it is finished
            if stop_after is not None and stop_mode == "close":
                res.stage = "result"
                res.error = "closed by us after %d bytes" % off
                return res
            res.stage = "result"
            # Read until the device closes (or the trailer is complete and it closes).
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    conn.settimeout(max(0.05, deadline - time.monotonic()))
                    got = conn.recv(256)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not got:
                    break
                received += got
                if split_trailer(received.decode("latin-1")).startswith("OK"):
                    break
            text = received.decode("latin-1")
            res.tcp_text = text
            res.trailer = split_trailer(text).strip()
            if res.trailer.startswith("OK"):
                res.ok = True
                res.stage = "done"
                res.error = ""
            elif res.trailer:
                res.error = res.trailer
            elif not res.error:
                res.error = "connection closed without a result" if broken or off >= len(
                    data) else "incomplete"
        return res
    finally:
        if udp:
            udp.close()
        server.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-i", "--ip", required=True)
    ap.add_argument("-p", "--port", type=int, default=3232)
    ap.add_argument("-a", "--auth", default=None)
    ap.add_argument("-f", "--file", required=True)
    ap.add_argument("-s", "--spiffs", action="store_true")
    ap.add_argument("-c", "--chunk", type=int, default=1024)
    args = ap.parse_args(argv)
    with open(args.file, "rb") as f:
        data = f.read()
    t0 = time.monotonic()
    r = upload(args.ip, args.port, data, password=args.auth, chunk=args.chunk,
               cmd=SPIFFS if args.spiffs else FLASH)
    dt = time.monotonic() - t0
    if r.ok:
        print("OK: %d bytes in %.2f s" % (len(data), dt))
        return 0
    print("FAILED at %s: %s" % (r.stage, r.error), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
