# SPDX-License-Identifier: MIT
"""The BLE task really takes the radio: a scan window longer than the device's receive timeout
(1 s + 3 re-sent acks) that opens in the middle of an update ends it with "Receive Failed"
when the gateway runs without the OTA lock, and the same upload succeeds with the lock, which
stops the scan when the update starts. The first window opens 1 s after the gateway starts
(the gap comes first), while the paced upload is still sending."""

import os
import tempfile
import unittest

import mqtt
import otk

KB = 1024
BLE = (5000, 6000)  # hold the radio 5 s of every 6 s: the first window opens at +1 s


class GatewayRadioTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-gw-")
        self.tmp = self._tmp.name
        self.broker = mqtt.Broker(self.tmp)
        self.image = otk.make_image(os.path.join(self.tmp, "new.bin"), "esp32", "2.0.0", 300 * KB)

    def tearDown(self):
        self.broker.stop()
        self._tmp.cleanup()

    def test_without_lock_a_long_scan_window_breaks_the_update(self):
        dev, base = mqtt.start_gateway(self.tmp, self.broker.port, name="gw-radio-off",
                                       ble=BLE, extra=["--no-ota-lock"])
        with dev:
            r = mqtt.slow_upload(dev.port, self.image, seconds=3.0)
            self.assertFalse(r.ok, r)
            self.assertEqual(r.error, "Stream Read Timeout")
            err = dev.wait_event("error")
            self.assertEqual(err["ota_error"], 3)  # OTA_RECEIVE_ERROR: "Receive Failed"
            self.assertGreater(err["bytes"], 0)
            self.assertLess(err["bytes"], len(self.image))
            st = dev.wait_event("ota_state", where=lambda e: e["state"] == "error")
            self.assertEqual(st["error"], "Receive Failed: Stream Read Timeout")
            scan = dev.wait_event("ble_scan")
            self.assertFalse(scan["cut"])
            self.assertGreaterEqual(scan["held_ms"], 4900)

    def test_with_lock_the_scan_stops_and_the_update_succeeds(self):
        dev, base = mqtt.start_gateway(self.tmp, self.broker.port, name="gw-radio-on", ble=BLE)
        with dev:
            r = mqtt.slow_upload(dev.port, self.image, seconds=3.0)
            self.assertTrue(r.ok, r)
            dev.wait_event("lock", where=lambda e: not e["held"])
        self.assertEqual(dev.find("error"), [])
        # no scan window opened while the update ran (the first one was due at +1 s)
        names = [e["event"] for e in dev.events]
        held_from, held_to = names.index("lock"), len(names) - 1 - names[::-1].index("lock")
        self.assertNotIn("ble_scan", names[held_from:held_to])


if __name__ == "__main__":
    otk.main()
