# SPDX-License-Identifier: MIT
"""`otakit upload --protocol elegantota|web` against the tests' fake HTTP OTA devices
(httpdevs.py, written from the reference) over 127.0.0.1: the exact requests ElegantOTA v3's own
page makes (GET /ota/start?mode=..&hash=MD5, the multipart POST /ota/upload), app and filesystem
images, authentication off, Basic (the synchronous server) and Digest (the asynchronous one),
wrong and missing passwords, a wrong image, an MD5 mismatch (retried), a connection dropped
mid-body (retried; ElegantOTA's synchronous build then holds the update open), ESPHome's and
ESP8266HTTPUpdateServer's /update answers, a chunked answer, a missing door and a refused
connection: each a named cause and its exit code."""

import base64
import hashlib
import json
import os
import re

import httpdevs as H
import otk

# exit codes (docs/CLI.md)
OK, NO_ANSWER, AUTH, TOO_BIG, NOT_FIRMWARE, MD5, DEVICE = 0, 5, 6, 9, 10, 11, 13
DROPPED, UNCONFIRMED, NOT_FOUND = 15, 20, 22


class HttpCase(otk.UploadCase):
    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.tmp, "app.bin")
        self.image = otk.make_image(self.path, chip="esp8266", size=150 * 1024 + 33, seed=3)
        self.md5 = hashlib.md5(self.image).hexdigest()

    def upload(self, dev, *extra, protocol="elegantota", path=None, timeout=60):
        return otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", path or self.path,
                       "--protocol", protocol, "-d", *extra, timeout=timeout)

    def assertMultipart(self, req, field, filename, data):
        """The POST's body is exactly one file part in RFC 7578's frame, its length exact."""
        m = re.fullmatch(r"multipart/form-data; boundary=(\S+)", req.header("content-type"))
        self.assertIsNotNone(m, req.headers)
        b = m.group(1).encode()
        want = (b"--" + b + b"\r\nContent-Disposition: form-data; name=\"" + field.encode() +
                b"\"; filename=\"" + filename.encode() + b"\"\r\nContent-Type: "
                b"application/octet-stream\r\n\r\n" + data + b"\r\n--" + b + b"--\r\n")
        self.assertEqual(req.body, want)
        self.assertEqual(int(req.header("content-length")), len(want))
        self.assertIsNone(req.header("expect"))
        self.assertEqual(req.header("connection"), "close")


class ElegantOta(HttpCase):
    def test_app_image_as_its_page_sends_it(self):
        with H.HttpDevice("elegantota") as dev:
            cp = self.upload(dev)
            self.assertExit(cp, OK, "protocol: elegantota")
            start, post = dev.wait_requests(2)
            self.assertEqual(len(dev.requests), 2)
            self.assertEqual((start.method, start.target),
                             ("GET", "/ota/start?mode=fr&hash=" + self.md5))
            self.assertEqual(start.body, b"")
            self.assertEqual(start.header("host"), "127.0.0.1:%d" % dev.port)
            self.assertIsNone(start.header("authorization"))
            self.assertEqual((post.method, post.target), ("POST", "/ota/upload"))
            self.assertMultipart(post, "file", "firmware.bin", self.image)
            self.assertEqual(dev.images, [("fr", self.image)])

    def test_filesystem_image(self):
        fs = os.path.join(self.tmp, "fs.bin")
        data = bytes((i * 7) & 0xFF for i in range(64 * 1024))
        with open(fs, "wb") as f:
            f.write(data)
        with H.HttpDevice("elegantota") as dev:
            cp = self.upload(dev, "-s", path=fs)
            self.assertExit(cp, OK)
            start, post = dev.wait_requests(2)
            self.assertEqual(start.target,
                             "/ota/start?mode=fs&hash=" + hashlib.md5(data).hexdigest())
            self.assertMultipart(post, "file", "filesystem.bin", data)
            self.assertEqual(dev.images, [("fs", data)])

    def test_basic_auth_of_the_synchronous_server(self):
        with H.HttpDevice("elegantota", user="admin", password="s3cret") as dev:
            cp = self.upload(dev, "--user", "admin", "-a", "s3cret")
            self.assertExit(cp, OK, "401: the device asks for Basic authentication")
            reqs = dev.wait_requests(3)
            self.assertEqual([r.method for r in reqs], ["GET", "GET", "POST"])
            basic = "Basic " + base64.b64encode(b"admin:s3cret").decode()
            self.assertIsNone(reqs[0].header("authorization"))
            # the challenge is answered at once on the POST: the image goes out once
            self.assertEqual(reqs[1].header("authorization"), basic)
            self.assertEqual(reqs[2].header("authorization"), basic)
            self.assertEqual(dev.images, [("fr", self.image)])

    def test_digest_auth_of_the_async_server(self):
        with H.HttpDevice("elegantota-async", user="admin", password="s3cret") as dev:
            cp = self.upload(dev, "--user", "admin", "-a", "s3cret")
            self.assertExit(cp, OK, "401: the device asks for Digest authentication")
            reqs = dev.wait_requests(3)
            self.assertEqual([r.method for r in reqs], ["GET", "GET", "POST"])
            for r, nc in ((reqs[1], "00000001"), (reqs[2], "00000002")):
                p = H.parse_auth_params(r.header("authorization")[7:])
                self.assertEqual((p["username"], p["uri"], p["qop"], p["nc"]),
                                 ("admin", r.target, "auth", nc))
                self.assertEqual((p["nonce"], p["opaque"]), (dev.nonce, dev.opaque))
            self.assertEqual(dev.images, [("fr", self.image)])

    def test_wrong_password(self):
        for kind in ("elegantota", "elegantota-async"):
            with self.subTest(kind=kind), H.HttpDevice(kind, user="admin", password="s3cret") as dev:
                cp = self.upload(dev, "--user", "admin", "-a", "wrong")
                self.assertExit(cp, AUTH, "refused the user name and password",
                                "--user USER -a PASSWORD", "ElegantOTA.begin(")
                # no image went out: the refusal came on /ota/start
                self.assertEqual([r.method for r in dev.requests], ["GET", "GET"])
                self.assertEqual(dev.images, [])

    def test_missing_password(self):
        with H.HttpDevice("elegantota-async", user="admin", password="s3cret") as dev:
            cp = self.upload(dev)
            self.assertExit(cp, AUTH, "asks for HTTP Digest authentication",
                            "no user name and password were given")
            self.assertEqual(len(dev.requests), 1)

    def test_wrong_image(self):
        bad = os.path.join(self.tmp, "bad.bin")
        with open(bad, "wb") as f:
            f.write(b"\x00" * 4096)
        for kind, words in (("elegantota", "ERROR[10]: Magic byte is not 0xE9"),
                            ("elegantota-async", "Wrong Magic Byte")):
            with self.subTest(kind=kind), H.HttpDevice(kind) as dev:
                cp = self.upload(dev, "--force", path=bad)
                self.assertExit(cp, NOT_FIRMWARE, words)
                self.assertEqual(len(dev.requests), 2)  # not retried

    def test_too_big(self):
        big = os.path.join(self.tmp, "big.bin")
        otk.make_image(big, chip="esp8266", size=H.APP_LIMIT + 4096)
        with H.HttpDevice("elegantota") as dev:
            self.assertExit(self.upload(dev, path=big), TOO_BIG, "Not Enough Space")

    def test_md5_mismatch_is_retried(self):
        with H.HttpDevice("elegantota", corrupt=1) as dev:
            cp = self.upload(dev)
            self.assertExit(cp, OK, "MD5 verification failed", "attempt 2 of 3")
            self.assertEqual([r.method for r in dev.requests], ["GET", "POST", "GET", "POST"])
            self.assertEqual(dev.images, [("fr", self.image)])
        with H.HttpDevice("elegantota-async", corrupt=5) as dev:
            cp = self.upload(dev, "--retries", "0")
            self.assertExit(cp, MD5, "MD5 Check Failed")

    def test_dropped_connection(self):
        # without retries: the drop itself
        with H.HttpDevice("elegantota", drop_after=40000) as dev:
            cp = self.upload(dev, "--retries", "0")
            self.assertExit(cp, DROPPED, "the connection during POST /ota/upload",
                            "it cannot have taken the image")
        # ElegantOTA's synchronous build leaves the cut update open: the retry hears so
        with H.HttpDevice("elegantota", drop_after=40000) as dev:
            cp = self.upload(dev)
            self.assertExit(cp, DEVICE, "Update already running", "restart the device",
                            "this upload's earlier attempt was cut off")

    def test_whole_upload_without_answer_is_not_resent(self):
        with H.HttpDevice("elegantota", silent=True) as dev:
            cp = self.upload(dev)
            self.assertExit(cp, UNCONFIRMED, "had the whole image", "did not send it again")
            self.assertEqual([r.method for r in dev.wait_requests(2)], ["GET", "POST"])
            self.assertEqual(len(dev.requests[1].body), int(dev.requests[1].header(
                "content-length")))

    def test_json_names_the_protocol(self):
        with H.HttpDevice("elegantota") as dev:
            cp = otk.run("upload", "-i", "127.0.0.1", "-p", dev.port, "-f", self.path,
                         "--protocol", "elegantota", "--json")
            self.assertEqual(cp.returncode, OK, cp.stderr)
            done = [json.loads(l) for l in cp.stdout.splitlines() if '"event":"result"' in l]
            self.assertEqual(done[0]["protocol"], "elegantota")

    def test_not_an_elegantota_device(self):
        with H.HttpDevice("esphome") as dev:
            cp = self.upload(dev)
            self.assertExit(cp, NOT_FOUND, "answered HTTP 404 to GET /ota/start",
                            "ElegantOTA.begin(&server)")

    def test_connection_refused(self):
        port = otk.free_port("tcp")
        cp = otk.run("upload", "-i", "127.0.0.1", "-p", port, "-f", self.path, "--protocol",
                     "elegantota", "--retries", "0")
        self.assertExit(cp, NO_ANSWER, "refused the TCP connection on port %d" % port)


class Several(HttpCase):
    def test_two_devices_of_each_door_at_once(self):
        with H.HttpDevice("elegantota") as a, H.HttpDevice("elegantota-async") as b:
            cp = otk.run("upload", "-i", "127.0.0.1:%d" % a.port, "-i", "127.0.0.1:%d" % b.port,
                         "-f", self.path, "--protocol", "elegantota")
            self.assertEqual(cp.returncode, OK, cp.stderr)
            self.assertIn("2 of 2 uploads succeeded", cp.stdout)
            self.assertEqual((a.images, b.images), ([("fr", self.image)], [("fr", self.image)]))


class WebForm(HttpCase):
    def test_esphome_update(self):
        for chunked in (False, True):
            with self.subTest(chunked=chunked), H.HttpDevice("esphome", chunked=chunked) as dev:
                cp = self.upload(dev, protocol="web")
                self.assertExit(cp, OK, "protocol: web")
                (post,) = dev.wait_requests(1)
                self.assertEqual((post.method, post.target), ("POST", "/update"))
                self.assertMultipart(post, "firmware", "firmware.bin", self.image)
                self.assertEqual(dev.images, [("fr", self.image)])

    def test_esphome_failed_and_auth(self):
        bad = os.path.join(self.tmp, "bad.bin")
        with open(bad, "wb") as f:
            f.write(b"\x00" * 4096)
        with H.HttpDevice("esphome") as dev:
            self.assertExit(self.upload(dev, "--force", protocol="web", path=bad), DEVICE,
                            "Update Failed!")
        for scheme in ("basic", "digest"):
            with self.subTest(scheme=scheme), H.HttpDevice("esphome", user="u", password="p",
                                                           auth_scheme=scheme) as dev:
                self.assertExit(self.upload(dev, "--user", "u", "-a", "p", protocol="web"), OK)
                # GET /update learns the challenge: the image goes out once, with credentials
                self.assertEqual([r.method for r in dev.requests], ["GET", "POST"])
                self.assertIsNone(dev.requests[0].header("authorization"))
                self.assertTrue(dev.requests[1].header("authorization").startswith(
                    scheme.capitalize() + " "))
                self.assertEqual(dev.images, [("fr", self.image)])
            with self.subTest(scheme=scheme), H.HttpDevice("esphome", user="u", password="p",
                                                           auth_scheme=scheme) as dev:
                self.assertExit(self.upload(dev, "--user", "u", "-a", "x", protocol="web"), AUTH,
                                "web_server: auth:")

    def test_esp8266_http_update_server(self):
        with H.HttpDevice("hus") as dev:
            self.assertExit(self.upload(dev, protocol="web"), OK)
            self.assertMultipart(dev.wait_requests(1)[0], "firmware", "firmware.bin", self.image)
        fs = os.path.join(self.tmp, "fs.bin")
        with open(fs, "wb") as f:
            f.write(b"\x42" * 5000)
        with H.HttpDevice("hus") as dev:
            self.assertExit(self.upload(dev, "-s", protocol="web", path=fs), OK)
            self.assertEqual(dev.images, [("fs", b"\x42" * 5000)])
        with H.HttpDevice("hus") as dev:
            bad = os.path.join(self.tmp, "bad.bin")
            with open(bad, "wb") as f:
                f.write(b"\x00" * 4096)
            self.assertExit(self.upload(dev, "--force", protocol="web", path=bad), NOT_FIRMWARE,
                            "ERROR[10]: Magic byte is not 0xE9")

    def test_update_server_with_password(self):
        with H.HttpDevice("hus", user="admin", password="s3cret") as dev:
            self.assertExit(self.upload(dev, "--user", "admin", "-a", "s3cret", protocol="web"),
                            OK, "the form asks for Basic authentication")
            get, post = dev.wait_requests(2)
            self.assertEqual([(get.method, get.target), (post.method, post.target)],
                             [("GET", "/update"), ("POST", "/update")])
            self.assertEqual(len(dev.requests), 2)  # the image went out once
            self.assertEqual(dev.images, [("fr", self.image)])
        with H.HttpDevice("hus", user="admin", password="s3cret") as dev:
            self.assertExit(self.upload(dev, protocol="web"), AUTH,
                            "no user name and password were given")

    def test_dropped_then_retried(self):
        with H.HttpDevice("esphome", drop_after=30000) as dev:
            cp = self.upload(dev, protocol="web")
            self.assertExit(cp, OK, "attempt 2 of 3")
            self.assertEqual(dev.images, [("fr", self.image)])

    def test_elegantota_device_has_no_update_form(self):
        with H.HttpDevice("elegantota") as dev:
            self.assertExit(self.upload(dev, protocol="web"), NOT_FOUND,
                            "answered HTTP 404 to POST /update", "web_server")


if __name__ == "__main__":
    otk.main()
