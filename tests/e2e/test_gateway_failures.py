# SPDX-License-Identifier: MIT
"""A failed update and a stalled one never leave the gateway deaf: the OTA lock is released
after an error (the tasks resume, the error goes out on <base>/ota/state), and the watchdog
releases it when an update stops making progress, before the engine itself gives up."""

import os
import tempfile
import unittest

import mqtt
import otk

KB = 1024


class GatewayFailureTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-gw-")
        self.tmp = self._tmp.name
        self.broker = mqtt.Broker(self.tmp)
        self.sub = mqtt.Subscriber(self.broker.port, "otakit/#")
        self.image = otk.make_image(os.path.join(self.tmp, "new.bin"), "esp32", "2.0.0", 400 * KB)

    def tearDown(self):
        self.sub.close()
        self.broker.stop()
        self._tmp.cleanup()

    def state(self, base, name, start=0):
        return self.sub.wait_for(
            lambda m: m.topic == base + "/ota/state" and not m.retain and
            m.json()["state"] == name, start=start, what="ota/state %s" % name)

    def reading_after(self, base, msg):
        start = self.sub.snapshot().index(msg) + 1
        self.sub.wait_for(lambda m: m.topic == base + "/SYStoMQTT", start=start,
                          what="a reading after the update")
        self.sub.wait_for(lambda m: m.topic == base + "/BTtoMQTT", start=start,
                          what="a BLE scan after the update")

    def test_failed_update_releases_the_lock(self):
        dev, base = mqtt.start_gateway(self.tmp, self.broker.port, name="gw-fail")
        with dev:
            self.state_seen = None
            # the uploader hangs up after 100 KB: the core's "Aborted" (ota_error 3, receive)
            r = mqtt.slow_upload(dev.port, self.image, seconds=1.0, stop_after=100 * KB)
            self.assertFalse(r.ok)
            err = dev.wait_event("error")
            self.assertEqual(err["ota_error"], 3)
            dev.wait_event("lock", where=lambda e: not e["held"])
            msg = self.state(base, "error")
            st = msg.json()
            self.assertEqual(st["error"], "Receive Failed: Aborted")
            self.assertEqual(st["code"], -13)  # OTK_ERR_CLOSED
            self.assertEqual(st["bytes"], 100 * KB)
            self.assertEqual(st["percent"], 25)
            self.reading_after(base, msg)
            # the gateway is not rebooted and takes the next update
            r = mqtt.slow_upload(dev.port, self.image, seconds=0.3)
            self.assertTrue(r.ok, r)
            self.state(base, "success")
        tasks = [(e["task"], e["state"]) for e in dev.find("task")]
        self.assertEqual(tasks, [("ble", "paused"), ("mqtt", "paused"), ("mqtt", "resumed"),
                                 ("ble", "resumed")] * 2)
        lock = [e["phase"] for e in dev.find("lock")]
        self.assertEqual(lock, ["start", "error", "start", "success"])

    def test_watchdog_releases_a_stalled_update(self):
        # The uploader goes silent mid-way but keeps the connection: the engine waits 1 s, then
        # re-sends its last ack 3 times, 1 s apart (about 4 s). The lock's watchdog (1.5 s
        # here) gives the tasks back long before that.
        dev, base = mqtt.start_gateway(self.tmp, self.broker.port, name="gw-stall",
                                       extra=["--ota-watchdog", "1500"])
        with dev:
            r = mqtt.slow_upload(dev.port, self.image, seconds=1.0, stop_after=150 * KB,
                                 stop_mode="stall")
            self.assertFalse(r.ok)
            err = dev.wait_event("error")
            self.assertEqual(err["ota_error"], 3)
            msg = self.state(base, "stalled")
            st = msg.json()
            self.assertEqual(st["bytes"], 150 * KB)
            # the rate covers the last 1-2 s: 1.5 s of silence pulls it well down
            running = [m.json() for m in self.sub.snapshot()[:self.sub.snapshot().index(msg)]
                       if m.topic == base + "/ota/state" and m.json()["state"] == "running"]
            self.assertLess(st["rate"], running[-1]["rate"] * 0.75, (st, running[-1]))
            self.assertIn("watchdog", st["error"])
            self.reading_after(base, msg)

        evs = dev.events
        idx = {k: i for i, k in reversed(list(enumerate(
            (e["event"], e.get("phase") or e.get("state") or e.get("task")) for e in evs)))}
        released = idx[("lock", "stalled")]
        engine_error = idx[("error", None)]
        # the watchdog, the resumes and fresh readings all come before the engine's error
        self.assertLess(released, engine_error)
        resumed = [i for i, e in enumerate(evs) if e["event"] == "task" and
                   e["state"] == "resumed"]
        self.assertEqual(len(resumed), 2)
        self.assertTrue(all(i < released for i in resumed))
        self.assertTrue(any(e["event"] == "reading" and e["published"]
                            for e in evs[released:engine_error]))
        self.assertTrue(any(e["event"] == "ble_scan" for e in evs[released:engine_error]))
        # one result per update: the engine's late error does not report again
        states = [e["state"] for e in evs if e["event"] == "ota_state"]
        self.assertEqual(states[-1], "stalled")
        self.assertNotIn("error", states)
        self.assertEqual(len(dev.find("lock")), 2)


if __name__ == "__main__":
    otk.main()
