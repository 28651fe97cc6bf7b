# SPDX-License-Identifier: MIT
"""The broker is not the device's problem: a broker that restarts in the middle of an update, or
one that is not there at all, does not break the update. The MQTT task reconnects with backoff
and publishes the latest OTA state once it is back."""

import os
import tempfile
import threading
import time
import unittest

import mqtt
import otk

KB = 1024


class GatewayBrokerTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-gw-")
        self.tmp = self._tmp.name
        self.image = otk.make_image(os.path.join(self.tmp, "new.bin"), "esp32", "2.0.0", 600 * KB)

    def tearDown(self):
        self._tmp.cleanup()

    def test_broker_restart_during_an_update(self):
        with mqtt.Broker(self.tmp) as broker, \
                mqtt.Subscriber(broker.port, "otakit/#") as sub:
            dev, base = mqtt.start_gateway(self.tmp, broker.port, name="gw-restart")
            with dev:
                dev.wait_event("mqtt", where=lambda e: e["connected"])
                result = {}

                def upload():
                    result["r"] = mqtt.slow_upload(dev.port, self.image, seconds=3.0)

                t = threading.Thread(target=upload)
                t.start()
                # restart the broker once the update is well under way
                sub.wait_for(lambda m: m.topic == base + "/ota/state" and
                             m.json()["percent"] >= 20, what="20 % progress")
                broker.restart(down_s=0.8)
                t.join(30)
                self.assertFalse(t.is_alive())
                self.assertTrue(result["r"].ok, result["r"])
                dev.wait_event("end")
                # the MQTT task came back by itself, and the final state reached the broker
                # (live, or retained for the subscriber that reconnected after it)
                sub.wait_for(lambda m: m.topic == base + "/ota/state" and
                             m.json()["state"] == "success", timeout=15, what="success state")
                mark = len(sub.snapshot())
                sub.wait_for(lambda m: m.topic == base + "/SYStoMQTT", start=mark,
                             what="a reading after the restart")
            mq = dev.find("mqtt")
            # connected, lost it, failed while the broker was down, connected again
            self.assertEqual([e["connected"] for e in mq[:2]], [True, False], mq)
            self.assertIn("disconnected", mq[1]["text"])
            self.assertTrue(any(e["connected"] for e in mq[2:]), mq)
            # the device saw no error, and the update's timing did not suffer from the broker
            self.assertEqual(dev.find("error"), [])
            self.assertTrue(any(m.json()["state"] == "running" and m.json()["percent"] > 20
                                for m in sub.snapshot() if m.topic == base + "/ota/state"))
            self.assertGreaterEqual(sub.connects, 2)

    def test_no_broker_at_all(self):
        port = otk.free_port("tcp")  # nothing listens there
        dev, base = mqtt.start_gateway(self.tmp, port, name="gw-nobroker")
        with dev:
            fails = dev.wait_event("mqtt", where=lambda e: not e["connected"])
            self.assertIn("refused", fails["text"].lower())
            t0 = time.monotonic()
            r = mqtt.slow_upload(dev.port, self.image, seconds=1.0)
            self.assertTrue(r.ok, r)
            self.assertLess(time.monotonic() - t0, 8)
            dev.wait_event("ota_state", where=lambda e: e["state"] == "success")
            states = dev.find("ota_state")
            self.assertFalse(any(e["published"] for e in states))
            # the retries back off: 250 ms, 500 ms, 1 s, ... up to 4 s
            dev.wait_event("mqtt", where=lambda e: e.get("retry_ms") == 2000)
            retries = [e["retry_ms"] for e in dev.find("mqtt")]
            self.assertEqual(retries[:4], [250, 500, 1000, 2000], retries)
            self.assertLessEqual(max(retries), 4000)
            # a broker that appears later is found, and gets the latest OTA state (retained)
            broker = mqtt.Broker(self.tmp, port=port, start=False)
            broker.start()
            try:
                with mqtt.Subscriber(port, "otakit/#") as sub:
                    dev.wait_event("mqtt", where=lambda e: e["connected"], timeout=10)
                    st = sub.wait_for(lambda m: m.topic == base + "/ota/state",
                                      what="the retained OTA state")
                    self.assertEqual(st.json()["state"], "success")
                    sub.wait_for(lambda m: m.topic == base + "/SYStoMQTT", what="a reading")
            finally:
                broker.stop()


if __name__ == "__main__":
    otk.main()
