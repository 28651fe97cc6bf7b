# SPDX-License-Identifier: MIT
"""mDNS discovery end to end: `otakit device` advertises _arduino._tcp like a real ESP32/ESP8266,
`otakit list` finds the devices with their TXT keys, `otakit upload -i NAME.local` resolves the
name by mDNS.

Every process runs inside network namespaces this test creates (`ip netns`): one with only a
loopback interface, and a pair joined by a veth link with 10.77.x addresses. No datagram can
reach any other network. The namespaces (and with them the veth pair) are deleted in every case.
Needs root (CAP_SYS_ADMIN for `ip netns`); skipped with a message otherwise."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import otk

KB = 1024
PID = os.getpid()


def ip(*args, check=True):
    return subprocess.run(["ip"] + [str(a) for a in args], capture_output=True, text=True,
                          check=check, timeout=20)


def netns_usable():
    """None if network namespaces can be created here, else why not."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (ip netns)"
    if not shutil.which("ip"):
        return "needs the 'ip' command (iproute2)"
    probe = "otk-probe-%d" % PID
    cp = ip("netns", "add", probe, check=False)
    if cp.returncode != 0:
        return "cannot create a network namespace: " + cp.stderr.strip()
    ip("netns", "del", probe, check=False)
    return None


def remove_stale(prefix="otk-mdns"):
    """Namespaces named prefix-PID-... left by a killed run of a test (its process is gone)."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        m = re.match(r"(" + re.escape(prefix) + r"-(\d+)-\S+)", line)
        if not m:
            continue
        try:
            os.kill(int(m.group(2)), 0)
        except ProcessLookupError:
            ip("netns", "del", m.group(1), check=False)
        except OSError:
            pass


# A one-shot (legacy unicast, RFC 6762 §6.7) PTR query for a service type, run inside a
# namespace: prints one JSON object per instance found, {"instance", "port", "txt"}.
BROWSE_PY = r"""
import json, socket, struct, sys, time

def name_at(buf, i):
    labels, jumped, end = [], False, None
    while True:
        n = buf[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0 == 0xC0:
            if end is None:
                end = i + 2
            i = ((n & 0x3F) << 8) | buf[i + 1]
            continue
        labels.append(buf[i + 1:i + 1 + n].decode("utf-8", "replace"))
        i += 1 + n
    return ".".join(labels), (end if end is not None else i)

service = sys.argv[1]
q = struct.pack(">6H", 0x4242, 0, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in (service + ".local").split(".")) + b"\0"
q += struct.pack(">HH", 12, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
s.sendto(q, ("224.0.0.251", 5353))
found, deadline = {}, time.monotonic() + 1.5
while time.monotonic() < deadline:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        buf, _ = s.recvfrom(9000)
    except socket.timeout:
        break
    counts = struct.unpack(">6H", buf[:12])
    i = 12
    for _ in range(counts[2]):
        _, i = name_at(buf, i)
        i += 4
    for _ in range(counts[3] + counts[4] + counts[5]):
        rname, i = name_at(buf, i)
        rtype, _, _, rlen = struct.unpack(">HHIH", buf[i:i + 10])
        rdata, start = buf[i + 10:i + 10 + rlen], i + 10
        i += 10 + rlen
        if rtype == 33:
            found.setdefault(rname, {})["port"] = struct.unpack(">H", rdata[4:6])[0]
        elif rtype == 16:
            txt, j = {}, 0
            while j < len(rdata):
                item = rdata[j + 1:j + 1 + rdata[j]].decode()
                j += 1 + rdata[j]
                k, _, v = item.partition("=")
                txt[k] = v
            found.setdefault(rname, {})["txt"] = txt
for inst, rec in sorted(found.items()):
    print(json.dumps(dict(rec, instance=inst)))
"""


class Netns:
    """A network namespace with its loopback up and multicast-capable; deleted by close()."""

    def __init__(self, name):
        self.name = name
        ip("netns", "add", name)
        try:
            ip("-n", name, "link", "set", "lo", "up")
            ip("-n", name, "link", "set", "lo", "multicast", "on")
        except BaseException:
            self.close()
            raise

    def argv(self, *args):
        return ["ip", "netns", "exec", self.name] + [str(a) for a in args]

    def run(self, *args, timeout=60):
        return subprocess.run(self.argv(otk.OTAKIT, *args), capture_output=True, text=True,
                              timeout=timeout)

    def close(self):
        ip("netns", "del", self.name, check=False)


def start_device(ns, tmpdir, name=None, profile="esp32", password=None, extra=()):
    """`otakit device --json --port 0` inside ns; waits for its "listening" event."""
    flash = os.path.join(tmpdir, "%s-%s.flash" % (name or "noname", profile))
    args = ["device", "--json", "--port", "0", "--profile", profile, "--flash", flash]
    if name:
        args += ["--name", name]
    if password:
        args += ["--password", password]
    args += list(extra)
    errpath = os.path.join(tmpdir, "%s.stderr" % os.path.basename(flash))
    with open(errpath, "w") as errf:
        proc = subprocess.Popen(ns.argv(otk.OTAKIT, *args), stdout=subprocess.PIPE, stderr=errf,
                                text=True, bufsize=1)
    dev = otk.Device(proc, errpath, flash)
    try:
        ev = dev.wait_event("listening", timeout=20)
    except BaseException:
        dev.stop()
        raise
    dev.port = ev["port"]
    dev.mdns = ev.get("mdns")
    return dev


class Discovery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = netns_usable()
        if why:
            raise unittest.SkipTest(why)
        remove_stale()

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-mdns-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.devices = []

    def netns(self, suffix):
        ns = Netns("otk-mdns-%d-%s" % (PID, suffix))
        self.addCleanup(ns.close)  # runs after the devices' cleanups (LIFO)
        return ns

    def device(self, ns, **kw):
        dev = start_device(ns, self.tmp, **kw)
        self.addCleanup(dev.stop)
        return dev

    def list_json(self, ns, *extra, timeout=1.5):
        cp = ns.run("list", "--json", "--timeout", timeout, *extra)
        try:
            found = json.loads(cp.stdout)
        except ValueError:
            self.fail("otakit list printed no JSON (%d):\n%s%s" % (cp.returncode, cp.stdout,
                                                                   cp.stderr))
        return cp, {d["name"]: d for d in found}

    def test_list_finds_devices_with_their_txt(self):
        ns = self.netns("lo")
        devs = {
            "alpha": self.device(ns, name="alpha", password="pw"),
            "beta": self.device(ns, name="beta", profile="esp8266"),
            "gamma": self.device(ns, name="gamma", password="pw", extra=["--auth-variant", "md5"]),
        }
        for n, d in devs.items():
            self.assertEqual(d.mdns, n)
        # every interface of the namespace (its loopback), then the loopback named explicitly
        for extra in ((), ("--interface", "127.0.0.1"), ("--interface", "lo")):
            cp, found = self.list_json(ns, *extra)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(sorted(found), ["alpha", "beta", "gamma"], cp.stdout)
            for n, d in devs.items():
                f = found[n]
                self.assertEqual(f["host"], n + ".local")
                self.assertEqual(f["address"], "127.0.0.1")
                self.assertEqual(f["address_from"], "a-record")
                self.assertEqual(f["port"], d.port)
                self.assertEqual(f["board"], "esp8266" if n == "beta" else "esp32")
                self.assertEqual(f["auth_upload"], n != "beta")
                self.assertIs(f["tcp_check"], False)
                self.assertIs(f["ssh_upload"], False)
                self.assertEqual(f["txt"], {"board": f["board"], "tcp_check": "no",
                                            "ssh_upload": "no",
                                            "auth_upload": "no" if n == "beta" else "yes"})
        cp = ns.run("list", "--timeout", "1")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        rows = [line.split() for line in cp.stdout.splitlines()]
        self.assertEqual(rows[0], ["NAME", "ADDRESS", "PORT", "BOARD", "PASSWORD", "TCP_CHECK",
                                   "SSH_UPLOAD"])
        self.assertEqual(rows[1:], [
            ["alpha", "127.0.0.1", str(devs["alpha"].port), "esp32", "yes", "no", "no"],
            ["beta", "127.0.0.1", str(devs["beta"].port), "esp8266", "no", "no", "no"],
            ["gamma", "127.0.0.1", str(devs["gamma"].port), "esp32", "yes", "no", "no"],
        ])
        # a device that stopped is gone from the next list
        devs["beta"].stop()
        cp, found = self.list_json(ns, timeout=1)
        self.assertEqual(sorted(found), ["alpha", "gamma"])

    def test_default_name_and_no_mdns(self):
        ns = self.netns("def")
        a = self.device(ns, profile="esp8266")
        self.assertRegex(a.mdns or "", r"^esp8266-[0-9a-f]{6}$")
        b = self.device(ns, name="hidden", extra=["--no-mdns"])
        self.assertIsNone(b.mdns)
        cp, found = self.list_json(ns)
        self.assertEqual(list(found), [a.mdns])
        self.assertEqual(found[a.mdns]["port"], a.port)
        # the same flash file (the same "chip") keeps its name across runs
        a.stop()
        again = start_device(ns, self.tmp, profile="esp8266")
        self.addCleanup(again.stop)
        self.assertEqual(again.mdns, a.mdns)

    def test_upload_to_name_dot_local(self):
        ns = self.netns("up")
        app = os.path.join(self.tmp, "app.bin")
        otk.make_image(app, "esp32", "3.1.4", 200 * KB)
        dev = self.device(ns, name="gateway", password="OTAPASSWORD", extra=["--once"])
        decoy = self.device(ns, name="decoy")
        cp = ns.run("upload", "-i", "gateway.local", "-p", dev.port, "-a", "OTAPASSWORD",
                    "-f", app, "-d")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("gateway.local resolved by mDNS", cp.stdout + cp.stderr)
        # --protocol auto: the _arduino._tcp record decides, no probe of the TCP port
        self.assertIn("mDNS: the device publishes _arduino._tcp", cp.stderr)
        self.assertNotIn("TCP port %d" % dev.port, cp.stderr)
        self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
        self.assertEqual(len(dev.find("end")), 1)
        self.assertEqual(decoy.find("start"), [])
        # -I names the interface to ask on; a name nobody answers for fails with exit code 4
        t0 = time.monotonic()
        cp = ns.run("upload", "-i", "nobody.local", "-p", decoy.port, "-I", "127.0.0.1",
                    "-f", app)
        self.assertEqual(cp.returncode, 4, cp.stdout + cp.stderr)
        self.assertIn("mDNS", cp.stderr)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(decoy.find("start"), [])

    def test_nothing_found(self):
        ns = self.netns("none")
        cp = ns.run("list", "--timeout", "0.5")
        self.assertEqual(cp.returncode, 1)
        self.assertEqual(cp.stdout, "")
        self.assertIn("no ArduinoOTA device answered", cp.stderr)
        cp = ns.run("list", "--json", "--timeout", "0.5")
        self.assertEqual(cp.returncode, 1)
        self.assertEqual(json.loads(cp.stdout), [])
        cp = ns.run("list", "--interface", "192.0.2.99")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("not an IPv4 address or interface", cp.stderr)
        cp = ns.run("list", "--timeout", "x")
        self.assertEqual(cp.returncode, 2)

    def browse(self, ns, service):
        """Instances of `service` answering a one-shot query in ns: {instance: record}."""
        cp = subprocess.run(ns.argv(sys.executable, "-c", BROWSE_PY, service),
                            capture_output=True, text=True, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        recs = [json.loads(line) for line in cp.stdout.splitlines()]
        return {r["instance"]: r for r in recs}

    def test_esphome_service_and_its_txt(self):
        """With the native protocol the device also announces _esphomelib._tcp with the TXT
        keys of an ESPHome device; --protocol says which services are announced."""
        ns = self.netns("esp")
        key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        keyed = self.device(ns, name="keyed", extra=["--key", key])
        plain = self.device(ns, name="plain", profile="esp8266", extra=["--protocol", "esphome"])
        self.device(ns, name="ota", extra=["--protocol", "arduino"])
        found = self.browse(ns, "_esphomelib._tcp")
        self.assertEqual(sorted(found), ["keyed._esphomelib._tcp.local",
                                         "plain._esphomelib._tcp.local"])
        k = found["keyed._esphomelib._tcp.local"]
        self.assertEqual(k["port"], keyed.port)  # the OTA port (an ESPHome device: its API's)
        self.assertEqual(list(k["txt"]), ["version", "mac", "platform", "board", "network",
                                          "api_encryption", "project_name"])
        self.assertEqual(k["txt"]["platform"], "ESP32")
        self.assertEqual(k["txt"]["network"], "wifi")
        self.assertEqual(k["txt"]["api_encryption"], "Noise_NNpsk0_25519_ChaChaPoly_SHA256")
        self.assertRegex(k["txt"]["mac"], r"^[0-9a-f]{12}$")
        self.assertRegex(k["txt"]["version"], r"^20[0-9]{2}\.[0-9]+\.[0-9]+$")
        p = found["plain._esphomelib._tcp.local"]
        self.assertEqual(p["port"], plain.port)
        self.assertEqual(p["txt"]["platform"], "ESP8266")
        self.assertNotIn("api_encryption", p["txt"])
        arduino = self.browse(ns, "_arduino._tcp")
        self.assertEqual(sorted(arduino), ["keyed._arduino._tcp.local",
                                           "ota._arduino._tcp.local"])

    def test_across_a_veth_link(self):
        """A device bound to every interface of one namespace, found and updated from another
        one over a veth pair: real multicast on a link, and the A record is the address of the
        interface the query came in on."""
        dns = self.netns("d")
        hns = self.netns("h")
        va, vb = "otv%da" % (PID % 10 ** 7), "otv%db" % (PID % 10 ** 7)  # 15 characters at most
        ip("link", "add", va, "type", "veth", "peer", "name", vb)
        # (if moving them fails, deleting the namespaces would not remove the pair)
        self.addCleanup(ip, "link", "del", va, check=False)
        ip("link", "set", va, "netns", dns.name)
        ip("link", "set", vb, "netns", hns.name)
        ip("-n", dns.name, "addr", "add", "10.77.0.1/24", "dev", va)
        ip("-n", hns.name, "addr", "add", "10.77.0.2/24", "dev", vb)
        ip("-n", dns.name, "link", "set", va, "up")
        ip("-n", hns.name, "link", "set", vb, "up")
        dev = self.device(dns, name="remote", password="pw",
                          extra=["--bind", "0.0.0.0", "--once"])
        cp, found = self.list_json(hns, "--interface", "10.77.0.2")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(list(found), ["remote"])
        self.assertEqual(found["remote"]["address"], "10.77.0.1")
        self.assertEqual(found["remote"]["port"], dev.port)
        self.assertIs(found["remote"]["auth_upload"], True)
        app = os.path.join(self.tmp, "app.bin")
        otk.make_image(app, "esp32", "5.0.0", 128 * KB)
        cp = hns.run("upload", "-i", "remote.local", "-p", dev.port, "-a", "pw", "-f", app)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(dev.wait_exit(30), 0, dev.stderr())


if __name__ == "__main__":
    otk.main()
