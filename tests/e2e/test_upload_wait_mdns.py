# SPDX-License-Identifier: MIT
"""`otakit upload --wait` for a `.local` name: the device is found by mDNS when it wakes, by
its own announcement (otakit listens on 5353) or by the query otakit repeats every 2 s; then
updated at once. A name that never shows ends with exit code 21.

Every process runs inside a network namespace this test creates (`ip netns`, only a loopback),
as test_list_mdns does: no datagram reaches any other network. Needs root; skipped with a
message otherwise."""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import otk
from test_list_mdns import Netns, netns_usable, remove_stale, start_device

PID = os.getpid()

# ElegantOTA 3.x as far as detection sees it: its gzip page at /update (http-ota.md §1.1).
ELEGANT_WEB = r"""
import gzip, http.server, sys
page = gzip.compress(b"<!DOCTYPE html><title>ElegantOTA</title>")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print(self.path, flush=True)
        ok = self.path == "/update"
        self.send_response(200 if ok else 404)
        if ok:
            self.send_header("Content-Encoding", "gzip")
        body = page if ok else b"Not Found"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""

# An unsolicited mDNS response (RFC 6762 §8.3) for NAME on 127.0.0.1 with the SRV record of
# SERVICE (default _arduino._tcp) on PORT and TXT board=esp32, sent twice to the group on the
# loopback.
ANNOUNCE = r"""
import socket, struct, sys, time
name, port = sys.argv[1], int(sys.argv[2])
service = sys.argv[3] if len(sys.argv) > 3 else "_arduino._tcp"
def dn(text):
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".")) + b"\0"
def rr(owner, rtype, data, cls=0x8001):
    return dn(owner) + struct.pack(">HHIH", rtype, cls, 120, len(data)) + data
host = name + ".local"
inst = name + "." + service + ".local"
txt = bytes([11]) + b"board=esp32"
msg = struct.pack(">6H", 0, 0x8400, 0, 3, 0, 0)
msg += rr(host, 1, socket.inet_aton("127.0.0.1"))
msg += rr(inst, 33, struct.pack(">HHH", 0, 0, port) + dn(host))
msg += rr(inst, 16, txt)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5353))  # responses come from 5353 (RFC 6762 §6); shared with otakit
for _ in range(2):
    s.sendto(msg, ("224.0.0.251", 5353))
    time.sleep(0.2)
"""
OK, ASLEEP = 0, 21


def events_of(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


class WaitMdns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = netns_usable()
        if why:
            raise unittest.SkipTest(why)
        remove_stale("otk-wmdns")

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-wmdns-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.ns = Netns("otk-wmdns-%d-%s" % (PID, self._testMethodName[-12:]))
        self.addCleanup(self.ns.close)
        self.app = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.app, "esp32", "2.0.0", 120 * 1024 + 5)

    def upload(self, *args):
        return subprocess.Popen(self.ns.argv(otk.OTAKIT, "upload", "-f", self.app, "--json",
                                             *args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_woken_device_found_by_mdns(self):
        proc = self.upload("-i", "sleepy.local", "--wait", "30", "--protocol", "arduino")
        time.sleep(3.5)
        dev = start_device(self.ns, self.tmp, name="sleepy", extra=["--protocol", "arduino"])
        self.addCleanup(dev.stop)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, OK, err)
        events = events_of(out)
        awake = [e for e in events if e["event"] == "awake"]
        self.assertEqual(len(awake), 1, events)
        self.assertIn(awake[0]["how"], ("it announced itself by mDNS",
                                        "it answered the mDNS query for its name"))
        self.assertGreaterEqual(awake[0]["after"], 3)
        self.assertLess(awake[0]["after"], 10)
        boot = dev.wait_event("boot", timeout=20, where=lambda ev: ev["slot"] == 1)
        self.assertEqual(boot["version"], "2.0.0")

    def test_announcement_alone_finds_it(self):
        """A device that only announces itself (nothing answers the queries): otakit, which
        listens on 5353 while it waits, hears it and updates the device the announcement
        names. The announcer is a few lines here; the device is `otakit device --no-mdns`."""
        dev = start_device(self.ns, self.tmp, extra=["--no-mdns", "--protocol", "arduino"])
        self.addCleanup(dev.stop)
        proc = self.upload("-i", "quiet.local", "--wait", "30", "--protocol", "arduino", "-d")
        time.sleep(3)
        cp = subprocess.run(self.ns.argv("python3", "-c", ANNOUNCE, "quiet", dev.port),
                            capture_output=True, text=True, timeout=20)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, OK, err)
        awake = [e for e in events_of(out) if e["event"] == "awake"][0]
        self.assertEqual(awake["how"], "it announced itself by mDNS", err)
        self.assertIn("quiet.local resolved by mDNS (port %d, board \"esp32\"" % dev.port, err)
        boot = dev.wait_event("boot", timeout=20, where=lambda ev: ev["slot"] == 1)
        self.assertEqual(boot["version"], "2.0.0")

    def test_web_device_published_as_http(self):
        """A device that wakes and announces only _http._tcp (a sketch with ElegantOTA that
        publishes its page): auto asks the web server on the announced port and names it."""
        web = subprocess.Popen(self.ns.argv("python3", "-c", ELEGANT_WEB),
                               stdout=subprocess.PIPE, text=True)
        self.addCleanup(web.wait)
        self.addCleanup(web.kill)
        http_port = int(web.stdout.readline())
        proc = self.upload("-i", "webby.local", "--wait", "30")
        time.sleep(2.5)
        cp = subprocess.run(self.ns.argv("python3", "-c", ANNOUNCE, "webby", http_port,
                                         "_http._tcp"),
                            capture_output=True, text=True, timeout=20)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out, err = proc.communicate(timeout=60)
        found = [e for e in events_of(out) if e["event"] == "detected"]
        self.assertEqual(len(found), 1, out + err)
        self.assertEqual(found[0]["found"], "ElegantOTA 3.x over HTTP (port %d)" % http_port)
        self.assertEqual(found[0]["protocol"], "elegantota")
        self.assertEqual(web.stdout.readline().strip(), "/update")

    def test_name_that_never_shows(self):
        t0 = time.monotonic()
        proc = self.upload("-i", "nobody.local", "--wait", "4")
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(proc.returncode, ASLEEP, err)
        self.assertIn("never showed itself within --wait 4 s", err)
        self.assertIn("its name got no answer", err)
        self.assertGreaterEqual(took, 4)
        self.assertLess(took, 9)


if __name__ == "__main__":
    otk.main()
