# SPDX-License-Identifier: MIT
"""A host firewall, shown rather than described: ArduinoOTA needs the device to open a TCP
connection back to the uploader, which a host firewall (ufw, firewalld, Windows' "Public"
profile) drops; ESPHome's native protocol opens its one connection from the uploader to the
device, which the same firewall lets through.

Two network namespaces joined by a veth pair: the device's (10.78.0.1) and the uploader's
(10.78.0.2). On the uploader's side an nftables rule drops every new inbound TCP connection and
lets the replies of its own connections in (conntrack `ct state new` / `established`), which is
what those firewalls do. `otakit device` runs in one namespace, `otakit upload` in the other:
  - without the rule an ArduinoOTA upload works (the setup is sound);
  - with it, the same upload fails with otakit's firewall diagnosis (exit code 8: the device
    accepted the invitation but never connected back) and the rule's counter shows the device's
    connection attempts it dropped; the device keeps its running image;
  - a native upload (`--protocol esphome`) of the same image to the same device, through the same
    rule, succeeds and the new version boots; the rule dropped nothing more.
No packet leaves the namespaces, which are deleted in every case. Needs root (network namespaces)
and nft (scripts/setup installs nftables); skipped with the reason otherwise."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import otk
from test_list_mdns import Netns, ip, netns_usable, remove_stale, start_device

KB = 1024
PID = os.getpid()
NO_CONNECT = 8  # exit code: the device accepted but never connected back (docs/CLI.md)
DEVICE_IP, UPLOADER_IP = "10.78.0.1", "10.78.0.2"
TABLE = "otk_firewall"

# What a host firewall does to inbound TCP: the replies of the uploader's own connections come
# in, new connections from outside are dropped (counted, to show that the rule did the work).
RULESET = """
table inet %s {
    chain input {
        type filter hook input priority filter; policy accept;
        ct state established,related accept
        meta l4proto tcp ct state new counter drop
    }
}
""" % TABLE


def nft_usable(ns):
    """None if nft can load the ruleset in the namespace ns (then removed again), else why not."""
    if not shutil.which("nft"):
        return "needs nft (Debian package nftables; scripts/setup installs it)"
    cp = subprocess.run(ns.argv("nft", "-f", "-"), input=RULESET, capture_output=True, text=True,
                        timeout=20)
    if cp.returncode != 0:
        return "nft cannot load a conntrack rule here: " + cp.stderr.strip()
    subprocess.run(ns.argv("nft", "delete", "table", "inet", TABLE), capture_output=True,
                   timeout=20)
    return None


def has_protocol_flag(cmd):
    cp = otk.run(cmd, "--help")
    return "--protocol" in cp.stdout + cp.stderr


def native_in_build():
    """None if this otakit speaks ESPHome's native protocol at both ends, else what is missing."""
    missing = ["otakit %s --protocol" % cmd for cmd in ("upload", "device")
               if not has_protocol_flag(cmd)]
    if missing:
        return ("needs the native protocol (ESPHome's, issue 13): this build has no %s"
                % " and no ".join(missing))
    return None


def arduino_flags():
    """How to ask for ArduinoOTA: by name where the uploader also speaks the native protocol
    (its automatic choice would take the native one, which the firewall does not stop), else
    the uploader's only protocol."""
    return ["--protocol", "arduino"] if has_protocol_flag("upload") else []


class Firewall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = netns_usable()
        if why:
            raise unittest.SkipTest(why)
        remove_stale("otk-fw")

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-fw-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.dns = self.netns("d")
        self.uns = self.netns("u")
        why = nft_usable(self.uns)
        if why:
            self.skipTest(why)
        va, vb = "otf%da" % (PID % 10 ** 7), "otf%db" % (PID % 10 ** 7)  # 15 characters at most
        ip("link", "add", va, "type", "veth", "peer", "name", vb)
        # (if moving them fails, deleting the namespaces would not remove the pair)
        self.addCleanup(ip, "link", "del", va, check=False)
        ip("link", "set", va, "netns", self.dns.name)
        ip("link", "set", vb, "netns", self.uns.name)
        ip("-n", self.dns.name, "addr", "add", DEVICE_IP + "/24", "dev", va)
        ip("-n", self.uns.name, "addr", "add", UPLOADER_IP + "/24", "dev", vb)
        ip("-n", self.dns.name, "link", "set", va, "up")
        ip("-n", self.uns.name, "link", "set", vb, "up")
        self.old = os.path.join(self.tmp, "old.bin")
        self.new = os.path.join(self.tmp, "new.bin")
        otk.make_image(self.old, "esp32", "2.0.0", 160 * KB, seed=1)
        otk.make_image(self.new, "esp32", "3.0.0", 160 * KB, seed=2)

    def netns(self, suffix):
        ns = Netns("otk-fw-%d-%s" % (PID, suffix))
        self.addCleanup(ns.close)  # runs after the devices' cleanups (LIFO)
        return ns

    def device(self):
        dev = start_device(self.dns, self.tmp, name="behind", password="pw",
                           extra=["--bind", DEVICE_IP, "--no-mdns"])
        self.addCleanup(dev.stop)
        return dev

    def firewall_on(self):
        cp = subprocess.run(self.uns.argv("nft", "-f", "-"), input=RULESET, capture_output=True,
                            text=True, timeout=20)
        self.assertEqual(cp.returncode, 0, cp.stderr)

    def dropped(self):
        """Packets the rule dropped so far (its counter, from `nft -j`)."""
        cp = subprocess.run(self.uns.argv("nft", "-j", "list", "table", "inet", TABLE),
                            capture_output=True, text=True, timeout=20, check=True)
        for item in json.loads(cp.stdout)["nftables"]:
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    return expr["counter"]["packets"]
        self.fail("no counter in the firewall's rule:\n" + cp.stdout)

    def upload(self, dev, image, *extra, timeout=90):
        return self.uns.run("upload", "-i", DEVICE_IP, "-p", dev.port, "-a", "pw", "-f", image,
                            *extra, timeout=timeout)

    def booted(self, dev, version, start):
        ev = dev.wait_event("confirm", timeout=30, start=start)
        self.assertEqual(ev["version"], version)

    def arduino_blocked(self, dev):
        """An ArduinoOTA upload of the new image behind the firewall: the diagnosis, the drops,
        nothing changed on the device."""
        before, mark = self.dropped(), len(dev.events)
        t0 = time.monotonic()
        cp = self.upload(dev, self.new, "-t", "3", *arduino_flags())
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, NO_CONNECT, out)
        self.assertIn("never connected back to %s:" % UPLOADER_IP, cp.stderr)
        self.assertIn("allow otakit", cp.stderr)
        self.assertIn("in the firewall", cp.stderr)
        self.assertIn("-I/--host_ip", cp.stderr)
        self.assertLess(time.monotonic() - t0, 30, out)  # not retried: a firewall stays
        self.assertGreater(self.dropped(), before, "the rule dropped nothing: %s" % out)
        # the device gives up on its connection (ArduinoOTA's OTA_CONNECT_ERROR) and carries on
        err = dev.wait_event("error", timeout=30, start=mark)
        self.assertEqual(err["ota_error"], 2, err)
        self.assertEqual([e for e in dev.events[mark:] if e["event"] in ("end", "boot")], [])
        self.assertEqual(otk.inspect(dev.flash)["boot_version"], "2.0.0")

    def test_arduino_ota_needs_the_way_back(self):
        dev = self.device()
        cp = self.upload(dev, self.old, *arduino_flags())
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.booted(dev, "2.0.0", 0)
        self.firewall_on()
        self.arduino_blocked(dev)
        self.assertIsNone(dev.proc.poll(), dev.stderr())  # still waiting for uploads

    def test_native_goes_through(self):
        why = native_in_build()
        if why:
            self.skipTest(why)
        dev = self.device()
        cp = self.upload(dev, self.old, *arduino_flags())
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.booted(dev, "2.0.0", 0)
        self.firewall_on()
        self.arduino_blocked(dev)
        before = self.dropped()
        mark = len(dev.events)
        cp = self.upload(dev, self.new, "--protocol", "esphome", "-d")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.booted(dev, "3.0.0", mark)
        self.assertEqual(self.dropped(), before)  # nothing came in but replies
        self.assertEqual(otk.inspect(dev.flash)["boot_version"], "3.0.0")

if __name__ == "__main__":
    otk.main()
