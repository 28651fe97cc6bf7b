# SPDX-License-Identifier: MIT
"""The OTA lock on the emulated gateway, seen from a real MQTT broker: an authenticated update
pauses the BLE scan and the MQTT readings (the progress topic goes on) and resumes them after
success; invitations that do not authenticate pause nothing; without the lock the tasks run
through the update."""

import os
import socket
import tempfile
import unittest

import mqtt
import otk

KB = 1024
TASK_TOPICS = ("/SYStoMQTT", "/BTtoMQTT")


def task_msgs(msgs, base):
    return [m for m in msgs if m.topic in (base + TASK_TOPICS[0], base + TASK_TOPICS[1])]


def events_between(dev, first, last):
    """Device log events strictly between the first event matching `first` and the next one
    matching `last` (both predicates on the event dict)."""
    evs = list(dev.events)
    i = next(k for k, e in enumerate(evs) if first(e))
    j = next(k for k in range(i + 1, len(evs)) if last(evs[k]))
    return evs[i + 1:j]


class GatewayLockTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-gw-")
        self.tmp = self._tmp.name
        self.broker = mqtt.Broker(self.tmp)
        self.sub = mqtt.Subscriber(self.broker.port, "otakit/#")
        self.image = otk.make_image(os.path.join(self.tmp, "new.bin"), "esp32", "2.0.0", 600 * KB)

    def tearDown(self):
        self.sub.close()
        self.broker.stop()
        self._tmp.cleanup()

    def wait_tasks_alive(self, base, start=0):
        """Both tasks publish: a reading and a BLE scan result after message index start."""
        self.sub.wait_for(lambda m: m.topic == base + "/SYStoMQTT", start=start,
                          what="SYStoMQTT reading")
        self.sub.wait_for(lambda m: m.topic == base + "/BTtoMQTT", start=start,
                          what="BTtoMQTT scan result")

    def test_lock_pauses_both_tasks_and_resumes_after_success(self):
        dev, base = mqtt.start_gateway(self.tmp, self.broker.port, name="gw-lock")
        with dev:
            self.wait_tasks_alive(base)
            # Stray and unauthenticated invitations: nothing pauses, no OTA state is published.
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"hello gateway\n", ("127.0.0.1", dev.port))
            s.close()
            bad = mqtt.slow_upload(dev.port, self.image, password="wrong", seconds=0.1)
            self.assertFalse(bad.ok)
            self.assertEqual(bad.error, "Authentication Failed")
            dev.wait_event("auth_failed")
            mark = len(self.sub.snapshot())
            self.wait_tasks_alive(base, start=mark)
            self.assertEqual(dev.find("lock"), [])
            self.assertEqual(dev.find("task"), [])
            self.assertEqual(mqtt.ota_states(self.sub.snapshot(), base), [])

            r = mqtt.slow_upload(dev.port, self.image, seconds=2.0)
            self.assertTrue(r.ok, r)
            dev.wait_event("lock", where=lambda e: not e["held"])
            # after the update both tasks come back
            done = self.sub.wait_for(
                lambda m: m.topic == base + "/ota/state" and m.json()["state"] == "success",
                what="ota/state success")
            self.wait_tasks_alive(base, start=self.sub.snapshot().index(done) + 1)

        msgs = self.sub.snapshot()
        inside, _, end = mqtt.between(msgs, base, "start", {"success"})
        # nothing but the progress topic during the update
        self.assertEqual(task_msgs(inside, base), [])
        self.assertEqual({m.topic for m in inside}, {base + "/ota/state"})
        running = [m.json() for m in inside]
        self.assertGreaterEqual(len(running), 4, running)  # ~2 s at one report per 250 ms
        self.assertTrue(all(p["state"] == "running" for p in running), running)
        pcts = [p["percent"] for p in running]
        self.assertEqual(pcts, sorted(pcts))
        for p in running:
            self.assertEqual(p["total"], len(self.image))
            self.assertIsNone(p["error"])
            self.assertGreater(p["rate"], 0)
            self.assertEqual(p["percent"], p["bytes"] * 100 // p["total"])
        # lock-step 1 KB chunks paced to ~2 s: a rate well under the unpaced loopback
        self.assertLess(running[-1]["rate"], 2 * len(self.image))
        final = msgs[end].json()
        self.assertEqual(final["percent"], 100)
        self.assertEqual(final["bytes"], len(self.image))
        self.assertIsNone(final["error"])

        # the device log tells the same story, in order
        names = [(e["event"], e.get("task"), e.get("state"), e.get("held")) for e in dev.events
                 if e["event"] in ("start", "task", "lock", "end")]
        self.assertEqual(names, [
            ("start", None, None, None),
            ("task", "ble", "paused", None),
            ("task", "mqtt", "paused", None),
            ("lock", None, None, True),
            ("end", None, None, None),
            ("task", "mqtt", "resumed", None),
            ("task", "ble", "resumed", None),
            ("lock", None, None, False),
        ])
        held = events_between(dev, lambda e: e["event"] == "lock" and e["held"],
                              lambda e: e["event"] == "lock" and not e["held"])
        self.assertEqual([e for e in held if e["event"] == "reading"], [])
        self.assertEqual([e for e in held if e["event"] == "ble_scan"], [])
        states = [e for e in held if e["event"] == "ota_state"]
        self.assertGreaterEqual(len(states), 4)
        self.assertTrue(all(e["published"] for e in states))
        self.assertEqual(states[-1]["state"], "success")
        # readings and scans before and after the update
        lock_i = next(i for i, e in enumerate(dev.events) if e["event"] == "lock")
        before = dev.events[:lock_i]
        after = dev.events[lock_i + len(held) + 2:]
        for evs in (before, after):
            self.assertTrue(any(e["event"] == "reading" and e["published"] for e in evs))
            self.assertTrue(any(e["event"] == "ble_scan" for e in evs))

    def test_without_lock_the_tasks_run_through_the_update(self):
        dev, base = mqtt.start_gateway(self.tmp, self.broker.port, name="gw-nolock",
                                       extra=["--no-ota-lock"])
        with dev:
            self.wait_tasks_alive(base)
            r = mqtt.slow_upload(dev.port, self.image, seconds=2.0)
            self.assertTrue(r.ok, r)
            self.sub.wait_for(
                lambda m: m.topic == base + "/ota/state" and m.json()["state"] == "success",
                what="ota/state success")
        inside, _, _ = mqtt.between(self.sub.snapshot(), base, "start", {"success"})
        topics = [m.topic for m in task_msgs(inside, base)]
        # ~2 s at a reading per 100 ms and a scan per 120 ms: both keep publishing
        self.assertGreaterEqual(topics.count(base + "/SYStoMQTT"), 8, topics)
        self.assertGreaterEqual(topics.count(base + "/BTtoMQTT"), 8, topics)
        # the progress reporter still runs; only the pausing is gone
        self.assertTrue(any(m.topic == base + "/ota/state" for m in inside))
        self.assertEqual(dev.find("task"), [])
        self.assertEqual(dev.find("lock"), [])


if __name__ == "__main__":
    otk.main()
