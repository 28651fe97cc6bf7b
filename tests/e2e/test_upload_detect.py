# SPDX-License-Identifier: MIT
"""`otakit upload --protocol auto` finds out which door a device has open, without being told,
and says so in one line: ESPHome's native protocol (the magic answered), ArduinoOTA (the
invitation answered), and the web doors by harmless GETs (../shared/reference/http-ota.md):
ElegantOTA 3.x (a gzip page at /update), 2.x (also /update/identity), ESP8266HTTPUpdateServer's
form, ESPHome's web_server (its page at /), and a /update that wants a password. The web
devices here are minimal servers written from the reference, on 127.0.0.1; they record every
request, so the test also checks that detection never asks for /ota/start (which would begin
an update on a real ElegantOTA device)."""

import gzip
import http.server
import json
import os
import tempfile
import threading
import unittest

import httpdevs
import otk

SIZE = 150 * 1024 + 3
OK = 0

ELEGANTOTA_PAGE = (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"UTF-8\">"
                   b"<title>ElegantOTA</title></head><body><div id=\"app\"></div>"
                   b"<script>/* the page's bundle */</script></body></html>")
UPDATE_FORM = (b"<html><body><form method='POST' action='' enctype='multipart/form-data'>"
               b"Firmware:<br><input type='file' accept='.bin,.bin.gz' name='firmware'>"
               b"<input type='submit' value='Update Firmware'></form></body></html>")
ESPHOME_ROOT = (b"<!DOCTYPE html><html><head><meta charset=UTF-8><link rel=icon href=data:>"
                b"</head><body><esp-app></esp-app><script src=\"https://oi.esphome.io/v2/www.js\">"
                b"</script></body></html>")


class FakeWeb:
    """A web server on 127.0.0.1 answering GET path -> (status, headers, body) from `pages`
    (anything else: 404), recording (method, path) of every request."""

    def __init__(self, pages):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(("GET", self.path))
                status, headers, body = pages.get(self.path, (404, {}, b"Not Found"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                outer.requests.append(("POST", self.path))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def gz_page(body):
    return (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, gzip.compress(body))


class Detect(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="otk-detect-")
        self.tmp = self._tmp.name
        self.path = os.path.join(self.tmp, "app.bin")
        otk.make_image(self.path, "esp32", "2.0.0", SIZE)

    def tearDown(self):
        self._tmp.cleanup()

    def upload(self, port, http_port, *extra):
        cp = otk.run("upload", "-i", "127.0.0.1", "-p", port, "-f", self.path, "--http-port",
                     http_port, "--retries", "0", "-t", "3", *extra, timeout=60)
        return cp

    def detected(self, port, http_port):
        """Run auto with --json; returns (exit code, the detected event, stderr)."""
        cp = self.upload(port, http_port, "--json")
        events = [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]
        found = [e for e in events if e["event"] == "detected"]
        self.assertEqual(len(found), 1, cp.stdout + cp.stderr)
        return cp.returncode, found[0], cp.stderr

    def assert_web(self, pages, name, protocol, probes):
        """Detection names the door after exactly the harmless GETs `probes`; whatever the
        uploader then asks (these minimal servers have no upload) comes after them."""
        with FakeWeb(pages) as web:
            port = otk.free_port("tcp")  # nothing there: no native, no ArduinoOTA
            rc, found, err = self.detected(port, web.port)
            self.assertEqual(found["found"], "%s over HTTP (port %d)" % (name, web.port), err)
            self.assertEqual(found["protocol"], protocol)
            self.assertNotEqual(rc, OK)
            self.assertEqual(web.requests[:len(probes)], probes, err)
            # plain output: the one line
            cp = self.upload(port, web.port)
            self.assertIn("127.0.0.1: %s over HTTP (port %d)\n" % (name, web.port), cp.stderr)
            return cp

    def test_elegantota_3(self):
        self.assert_web({"/update": gz_page(ELEGANTOTA_PAGE)}, "ElegantOTA 3.x", "elegantota",
                        [("GET", "/update"), ("GET", "/update/identity")])

    def test_elegantota_2(self):
        self.assert_web({"/update": gz_page(ELEGANTOTA_PAGE),
                         "/update/identity": (200, {"Content-Type": "application/json"},
                                              b'{"id": "3C71BF9D1234", "hardware": "ESP32"}')},
                        "ElegantOTA 2.x", "web", [("GET", "/update"), ("GET", "/update/identity")])

    def test_esp8266_update_form(self):
        self.assert_web({"/update": (200, {"Content-Type": "text/html"}, UPDATE_FORM)},
                        "a web /update form (ESP8266HTTPUpdateServer)", "web", [("GET", "/update")])

    def test_esphome_web_server(self):
        self.assert_web({"/": (200, {"Content-Type": "text/html"}, ESPHOME_ROOT)},
                        "ESPHome web_server", "web", [("GET", "/update"), ("GET", "/")])

    def test_password_on_update_is_named(self):
        pages = {"/update": (401, {"WWW-Authenticate":
                                   'Digest realm="asyncesp", nonce="abc", qop="auth"'}, b"")}
        with FakeWeb(pages) as web:
            cp = self.upload(otk.free_port("tcp"), web.port)
            self.assertEqual(cp.returncode, 1, cp.stderr)
            self.assertIn("asks for a password on /update", cp.stderr)
            self.assertIn("--protocol elegantota", cp.stderr)
            self.assertIn('Digest realm="asyncesp"', cp.stderr)

    def test_arduino_beside_an_unrelated_web_server(self):
        """A web server without an update page: ArduinoOTA, found by its invitation."""
        pages = {"/": (200, {"Content-Type": "text/html"}, b"<html>gateway status</html>")}
        with FakeWeb(pages) as web, otk.start_device(self.tmp, extra=["--no-mdns"]) as dev:
            rc, found, err = self.detected(dev.port, web.port)
            self.assertEqual(rc, OK, err)
            self.assertEqual(found["protocol"], "arduino")
            self.assertEqual(found["found"],
                             "ArduinoOTA on UDP %d (it answered the invitation)" % dev.port)
            self.assertEqual(web.requests, [("GET", "/update"), ("GET", "/")])
            boot = dev.wait_event("boot", timeout=20, where=lambda ev: ev["slot"] == 1)
            self.assertEqual(boot["version"], "2.0.0")

    def test_arduino(self):
        with otk.start_device(self.tmp, extra=["--no-mdns"]) as dev:
            cp = self.upload(dev.port, otk.free_port("tcp"))
            self.assertEqual(cp.returncode, OK, cp.stderr)
            self.assertIn("127.0.0.1: ArduinoOTA on UDP %d (it answered the invitation)\n"
                          % dev.port, cp.stderr)

    def test_esphome(self):
        with otk.start_device(self.tmp, extra=["--no-mdns", "--protocol", "esphome"]) as dev:
            rc, found, err = self.detected(dev.port, otk.free_port("tcp"))
            self.assertEqual(rc, OK, err)
            self.assertEqual(found["protocol"], "esphome")
            self.assertEqual(found["found"], "ESPHome native OTA, protocol version 2, on TCP %d"
                             % dev.port)

    # ---- found, then uploaded through the door (the fake HTTP devices of httpdevs.py) ----

    def upload_found(self, kind, name, protocol, want, *extra, **dev_kw):
        with httpdevs.HttpDevice(kind, **dev_kw) as web:
            port = otk.free_port("tcp")  # nothing there: no native, no ArduinoOTA
            cp = self.upload(port, web.port, "--json", *extra)
            events = [json.loads(l) for l in cp.stdout.splitlines() if l.startswith("{")]
            found = [e for e in events if e["event"] == "detected"]
            self.assertEqual(len(found), 1, cp.stdout + cp.stderr)
            self.assertEqual(found[0]["found"], "%s over HTTP (port %d)" % (name, web.port))
            self.assertEqual(found[0]["protocol"], protocol)
            self.assertEqual(cp.returncode, want, cp.stdout + cp.stderr)
            result = [e for e in events if e["event"] == "result"][0]
            self.assertEqual(result["protocol"], protocol)
            return web, cp

    def test_elegantota_found_and_updated(self):
        web, cp = self.upload_found("elegantota", "ElegantOTA 3.x", "elegantota", OK)
        self.assertEqual(web.images, [("fr", otk.file_bytes(self.path))])
        self.assertEqual([(r.method, r.target.split("?")[0]) for r in web.requests],
                         [("GET", "/update"), ("GET", "/update/identity"),
                          ("GET", "/ota/start"), ("POST", "/ota/upload")])

    def test_esphome_web_found_and_updated(self):
        web, cp = self.upload_found("esphome", "ESPHome web_server", "web", OK)
        self.assertEqual(len(web.images), 1)
        self.assertEqual(web.requests[-1].method, "POST")

    def test_update_form_found_and_updated(self):
        web, cp = self.upload_found("hus", "a web /update form (ESP8266HTTPUpdateServer)",
                                    "web", OK)
        self.assertEqual(len(web.images), 1)

    def test_elegantota_with_password_is_named_not_guessed(self):
        with httpdevs.HttpDevice("elegantota", user="admin", password="pw") as web:
            cp = self.upload(otk.free_port("tcp"), web.port, "-a", "pw")
            self.assertEqual(cp.returncode, 1, cp.stderr)
            self.assertIn("asks for a password on /update", cp.stderr)
            self.assertEqual([r.method for r in web.requests], ["GET"])
            cp = self.upload(otk.free_port("tcp"), web.port, "--protocol", "elegantota", "-p",
                             web.port, "--user", "admin", "-a", "pw")
            self.assertEqual(cp.returncode, OK, cp.stderr)

    def test_told_protocol_says_nothing(self):
        """The line is auto's: a named protocol needs no detection."""
        with otk.start_device(self.tmp, extra=["--no-mdns"]) as dev:
            cp = self.upload(dev.port, otk.free_port("tcp"), "--protocol", "arduino")
            self.assertEqual(cp.returncode, OK, cp.stderr)
            self.assertNotIn("ArduinoOTA on UDP", cp.stderr)


if __name__ == "__main__":
    otk.main()
