# SPDX-License-Identifier: MIT
"""The Python Noise of espeers.py (which the e2e tests' fake ESPHome peers use) against the
reference's vectors, and against the C implementation (src/core/noise.c through
tests/e2e/noise_peer.c, a real process): the same messages from the same keys, a handshake each
way with fresh keys, transport both ways, and a wrong key refused on either side."""

import os
import subprocess
import unittest

import espeers
import otk

PSK = bytes(range(32))
WRONG_PSK = bytes(range(1, 33))
PROLOGUE = bytes.fromhex("4e6f6973654f5441496e69746c26f75c4500020f4804")
HOST_E = bytes([0x11]) * 32
DEVICE_E = bytes([0x22]) * 32
H_NAME = "f0b890826fb8e6584af6948d227169c381c9ed6a4c1c90df4b9ff454fa947f7b"
H_PROLOGUE = "4f95d0c157c72f14944bf7046e28cc6ce20f738de991520f1c21d9bdfa9e15c0"
HOST_EPUB = "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
DEVICE_EPUB = "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"
FRAME1 = "01003100" + HOST_EPUB + "410838c772608f003af0e4d340aea563"
FRAME2 = "01003100" + DEVICE_EPUB + "744a2655c2b4acf82f43588d620f0920"
K1 = "db72db7b88aa6a8223bac741154c7881c10c92ab4a4b7a9c36d0f107e18695a4"
K2 = "3963f3cddd9ae1ba54b5617120c40b1292120b671eb5ccbd9ce7b550122eec41"
HANDSHAKE_HASH = "26f9d369be55d872160587389211855977dbd8cb851ccff173c7bb8501e1be8b"
WRONG_KEY_TAG = "9364fa1d84d2f0977fce0f5170fb5485"
REJECT_FRAME = "0100160148616e647368616b65204d4143206661696c757265"

NOISE_PEER = os.environ.get("OTK_NOISE_PEER") or os.path.join(
    otk.ROOT, "build", "tests", "noise_peer")


def reference_pair():
    host = espeers.NoiseState(True, PSK, PROLOGUE, HOST_E)
    dev = espeers.NoiseState(False, PSK, PROLOGUE, DEVICE_E)
    return host, dev


class PythonNoiseVectors(unittest.TestCase):
    def test_handshake_and_keys(self):
        host, dev = reference_pair()
        self.assertEqual(host.h_name.hex(), H_NAME)
        self.assertEqual(host.h_prologue.hex(), H_PROLOGUE)
        m1 = host.write_message()
        self.assertEqual(espeers.frame(b"\x00" + m1).hex(), FRAME1)
        dev.read_message(m1)
        m2 = dev.write_message()
        self.assertEqual(espeers.frame(b"\x00" + m2).hex(), FRAME2)
        host.read_message(m2)
        for side in (host, dev):
            self.assertEqual((side.k1.hex(), side.k2.hex()), (K1, K2))
            self.assertEqual(side.h.hex(), HANDSHAKE_HASH)

    def test_first_transport_frames(self):
        host, dev = reference_pair()
        dev.read_message(host.write_message())
        host.read_message(dev.write_message())
        self.assertEqual(espeers.frame(dev.encrypt(b"\x41")).hex(),
                         "010011981c25b800e40468cb3ed9f37a930f1557")
        self.assertEqual(espeers.frame(host.encrypt(b"\x00")).hex(),
                         "0100110864b4a12ca31ecf6ad41f0d9be9be4945")
        self.assertEqual(espeers.frame(host.encrypt(b"\x00\x01\x00\x00")).hex(),
                         "01001443183a2bff06342692b014b5eaf43daeff0a20e3")

    def test_wrong_key_and_prologue(self):
        host = espeers.NoiseState(True, WRONG_PSK, PROLOGUE, HOST_E)
        m1 = host.write_message()
        self.assertEqual(m1.hex(), HOST_EPUB + WRONG_KEY_TAG)
        dev = espeers.NoiseState(False, PSK, PROLOGUE, DEVICE_E)
        with self.assertRaisesRegex(espeers.NoiseError, "Handshake MAC failure"):
            dev.read_message(m1)
        self.assertEqual(espeers.frame(b"\x01" + espeers.MAC_FAILURE.encode()).hex(),
                         REJECT_FRAME)
        # the device saw client features 04 where the host sent 0F
        host, _ = reference_pair()
        tampered = espeers.make_prologue(2, 0x04, 0x04)
        self.assertEqual(tampered[:19] + tampered[20:], PROLOGUE[:19] + PROLOGUE[20:])
        dev = espeers.NoiseState(False, PSK, tampered, DEVICE_E)
        with self.assertRaises(espeers.NoiseError):
            dev.read_message(host.write_message())

    def test_zero_key_refused(self):
        with self.assertRaises(ValueError):
            espeers.NoiseState(True, bytes(32), PROLOGUE)


class CPeer:
    """tests/e2e/noise_peer.c: one side of a session, one command per line."""

    def __init__(self, role, psk, prologue=PROLOGUE, ephemeral=None):
        args = [NOISE_PEER, role, psk.hex(), prologue.hex()]
        if ephemeral:
            args.append(ephemeral.hex())
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)

    def cmd(self, op, data=None):
        self.p.stdin.write(op + ("" if data is None else " " + bytes(data).hex()) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()
        if line.startswith("error "):
            return int(line.split()[1])
        if line == "ok":
            return line
        return bytes.fromhex("" if line == "-" else line) if " " not in line else [
            bytes.fromhex(x) for x in line.split()]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)
        self.p.stdout.close()


@unittest.skipUnless(os.path.exists(NOISE_PEER), "noise_peer is not built (cmake --build)")
class PythonAgainstC(unittest.TestCase):
    def peer(self, *args, **kw):
        c = CPeer(*args, **kw)
        self.addCleanup(c.close)
        return c

    def test_same_messages_from_the_same_keys(self):
        c_host = self.peer("initiator", PSK, ephemeral=HOST_E)
        c_dev = self.peer("responder", PSK, ephemeral=DEVICE_E)
        py_host, py_dev = reference_pair()
        m1 = c_host.cmd("w")
        self.assertEqual(m1, py_host.write_message())
        self.assertEqual(c_dev.cmd("r", m1), "ok")
        py_dev.read_message(m1)
        m2 = c_dev.cmd("w")
        self.assertEqual(m2, py_dev.write_message())
        self.assertEqual(c_host.cmd("r", m2), "ok")
        py_host.read_message(m2)
        self.assertEqual(c_host.cmd("k"), [py_host.k1, py_host.k2])
        self.assertEqual(c_dev.cmd("k"), [py_dev.k2, py_dev.k1])
        self.assertEqual(c_host.cmd("h"), py_host.h)

    def transport(self, c, py):
        """Frames both ways, the sizes the protocol uses, each decrypted by the other side."""
        for pt in (b"\x41", b"\x00\x01\x00\x00", os.urandom(32), os.urandom(1024), b""):
            self.assertEqual(c.cmd("d", py.encrypt(pt)), pt)
            self.assertEqual(py.decrypt(c.cmd("e", pt)), pt)
        # a flipped bit in a frame from Python: refused by C, and the next good one still reads
        bad = bytearray(py.encrypt(b"\x47"))
        bad[-1] ^= 1
        self.assertEqual(c.cmd("d", bad), -5)  # OTK_ERR_AUTH

    def test_c_host_python_device(self):
        c = self.peer("initiator", PSK)
        py = espeers.NoiseState(False, PSK, PROLOGUE)
        py.read_message(c.cmd("w"))
        self.assertEqual(c.cmd("r", py.write_message()), "ok")
        self.assertEqual(c.cmd("h"), py.h)
        self.transport(c, py)

    def test_python_host_c_device(self):
        c = self.peer("responder", PSK)
        py = espeers.NoiseState(True, PSK, PROLOGUE)
        self.assertEqual(c.cmd("r", py.write_message()), "ok")
        py.read_message(c.cmd("w"))
        self.assertEqual(c.cmd("h"), py.h)
        self.transport(c, py)

    def test_wrong_key_either_way(self):
        c = self.peer("responder", PSK)
        py = espeers.NoiseState(True, WRONG_PSK, PROLOGUE)
        self.assertEqual(c.cmd("r", py.write_message()), -5)  # OTK_ERR_AUTH
        self.assertEqual(c.cmd("w"), -4)  # the session is over: OTK_ERR_STATE
        c = self.peer("initiator", WRONG_PSK)
        py = espeers.NoiseState(False, PSK, PROLOGUE)
        with self.assertRaisesRegex(espeers.NoiseError, "MAC failure"):
            py.read_message(c.cmd("w"))


if __name__ == "__main__":
    otk.main()
