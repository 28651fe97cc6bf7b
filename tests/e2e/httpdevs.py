# SPDX-License-Identifier: MIT
"""Fake HTTP OTA devices for the e2e tests, written from the project's reference (HTTP uploads:
ElegantOTA v3, ESPHome web_server's /update, ESP8266HTTPUpdateServer): a TCP server on 127.0.0.1
that answers like each library, with the Arduino Updater's error strings, HTTP Basic or Digest
authentication, and faults (a connection dropped mid-body). Every request is recorded as it
arrived (method, target, headers, body) so that tests can assert the exact requests.

Kinds:
  "elegantota"       ElegantOTA v3 on the synchronous ESP8266WebServer: Basic challenge, the
                     ESP8266 Updater's texts ("ERROR[10]: Magic byte is not 0xE9\\n"), an
                     upload cut off leaves the update open ("Update already running").
  "elegantota-async" ElegantOTA v3 on ESPAsyncWebServer (ESP32): Digest challenge (accepts
                     Basic too), ESP32 Updater texts ("Wrong Magic Byte\\n"), Connection: close.
  "esphome"          ESPHome web_server /update: always 200, "Update Successful!" or
                     "Update Failed!", Connection: close; auth Basic or Digest.
  "hus"              ESP8266HTTPUpdateServer on /update: the part named "filesystem" selects the
                     filesystem, "Update Success! Rebooting..." / "Update error: ERROR[n]: ...".
"""

import gzip
import hashlib
import os
import re
import socket
import struct
import threading
import time

APP_LIMIT = 512 * 1024  # the fake's free sketch space
FS_LIMIT = 256 * 1024


class Request:
    def __init__(self, method, target, headers, body=b""):
        self.method, self.target, self.headers, self.body = method, target, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "%s %s (%d bytes)" % (self.method, self.target, len(self.body))


class Updater:
    """The Arduino Updater's checks as ElegantOTA and the /update forms use them."""

    def __init__(self, esp32):
        self.esp32 = esp32
        self.running = False
        self.error = None
        self.md5 = None
        self.mode = "fr"
        self.data = b""

    def text(self, code, esp8266_text, esp32_text):
        if self.esp32:
            return esp32_text + "\n"
        return "ERROR[%d]: %s\n" % (code, esp8266_text)

    def begin(self, mode):
        if self.running:
            self.error = self.text(12, "Update already running", "Update already running")
            return False
        self.running, self.error, self.mode, self.data = True, None, mode, b""
        return True

    def write(self, data):
        if self.error:
            return
        if not self.data and self.mode == "fr" and data[:1] != b"\xe9":
            self.error = self.text(10, "Magic byte is not 0xE9", "Wrong Magic Byte")
            return
        limit = FS_LIMIT if self.mode == "fs" else APP_LIMIT
        if len(self.data) + len(data) > limit:
            self.error = self.text(4, "Not Enough Space", "Not Enough Space")
            return
        self.data += data

    def end(self):
        """@return the image on success, else None (self.error says why)."""
        self.running = False
        if self.error:
            return None
        if self.md5 and hashlib.md5(self.data).hexdigest() != self.md5:
            self.error = self.text(
                5, "MD5 verification failed: expected: %s, calculated: %s"
                % (self.md5, hashlib.md5(self.data).hexdigest()), "MD5 Check Failed")
            return None
        return self.data


def _response(status, body, headers=(), reason=None):
    reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
    if isinstance(body, str):
        body = body.encode()
    head = "HTTP/1.1 %d %s\r\n" % (status, reason or reasons.get(status, "Other"))
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def parse_auth_params(value):
    return dict((m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3))
                for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', value))


class HttpDevice:
    """One fake device on 127.0.0.1:port. user/password: auth on when both are set."""

    def __init__(self, kind="elegantota", user=None, password=None, drop_after=None,
                 auth_scheme=None, chunked=False, corrupt=0, silent=False):
        self.kind = kind
        self.user, self.password = user, password
        self.scheme = auth_scheme or ("digest" if kind == "elegantota-async" else "basic")
        self.drop_after = drop_after  # close the connection after this many body bytes, once
        self.chunked = chunked        # answer with Transfer-Encoding: chunked
        self.corrupt = corrupt        # flip a bit of the file in this many uploads (MD5 fails)
        self.silent = silent          # read a whole POST, close without answering
        self.requests = []            # every request in arrival order
        self.images = []              # (mode, bytes) of each update that ended well
        self.updater = Updater(esp32=kind in ("elegantota-async",))
        self.nonce = os.urandom(16).hex()
        self.opaque = os.urandom(16).hex()
        self.lock = threading.Lock()
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.srv.settimeout(0.1)
        self.port = self.srv.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # ---- the server loop ----

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(10)
        try:
            self._one(conn)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def _read_head(self, conn):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = conn.recv(4096)
            if not d:
                raise ValueError("closed in the head")
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return Request(method, target, headers), rest

    def _one(self, conn):
        req, rest = self._read_head(conn)
        with self.lock:
            self.requests.append(req)
        authed = self._authorized(req)
        async_server = self.kind in ("elegantota-async", "esphome")
        if not authed and async_server:
            # the async servers answer the headers at once and drop the body
            conn.sendall(self._challenge())
            self._drain(conn, req, rest)
            return
        if req.method == "GET":
            conn.sendall(self._get(req, authed))
            return
        body = self._body(conn, req, rest, authed)
        if body is None:
            return  # dropped
        if self.silent:
            req.body = body
            return  # every byte read, then closed without an answer
        conn.sendall(self._post(req, body, authed))

    def _drain(self, conn, req, rest):
        left = int(req.header("content-length") or 0) - len(rest)
        conn.settimeout(2)
        while left > 0:
            d = conn.recv(65536)
            if not d:
                return
            left -= len(d)

    def _body(self, conn, req, rest, authed):
        """Read the body as the sync server does (all of it, writing the file part as it
        comes); None when the fault drops the connection."""
        total = int(req.header("content-length") or 0)
        body = rest
        while len(body) < total:
            if self.drop_after is not None and len(body) >= self.drop_after:
                # as a device that loses its link or restarts: the connection is reset
                self.drop_after = None
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                req.body = body
                return None
            d = conn.recv(min(65536, total - len(body)))
            if not d:
                req.body = body
                return None
            body += d
        req.body = body
        return body

    # ---- authentication ----

    def _auth_on(self):
        return bool(self.user) and bool(self.password)

    def _authorized(self, req):
        if not self._auth_on():
            return True
        value = req.header("authorization") or ""
        if value.startswith("Basic "):
            import base64
            try:
                pair = base64.b64decode(value[6:]).decode()
            except ValueError:
                return False
            # the sync server's Basic check; the async one accepts Basic as well (reference)
            return pair == "%s:%s" % (self.user, self.password)
        if value.startswith("Digest ") and self.scheme == "digest":
            return self._digest_ok(req, parse_auth_params(value[7:]))
        return False

    def _digest_ok(self, req, p):
        h = lambda s: hashlib.md5(s.encode()).hexdigest()
        if p.get("username") != self.user or p.get("uri") != req.target:
            return False
        if p.get("nonce") != self.nonce or p.get("opaque") != self.opaque:
            return False
        ha1 = h("%s:%s:%s" % (self.user, p.get("realm"), self.password))
        ha2 = h("%s:%s" % (req.method, req.target))
        want = h("%s:%s:%s:%s:%s:%s" % (ha1, self.nonce, p.get("nc"), p.get("cnonce"),
                                         p.get("qop"), ha2))
        return p.get("qop") == "auth" and p.get("response") == want

    def _challenge(self):
        if self.scheme == "digest":
            value = ('Digest realm="asyncesp", qop="auth", nonce="%s", opaque="%s"'
                     % (self.nonce, self.opaque))
        else:
            value = 'Basic realm="Login Required"'
        return _response(401, "401 Unauthorized",
                         [("WWW-Authenticate", value), ("Content-Type", "text/html"),
                          ("Connection", "close")])

    # ---- the doors ----

    def _text(self, status, text, close=True):
        headers = [("Content-Type", "text/plain")]
        if close:
            headers.append(("Connection", "close"))
        if self.chunked:
            body = text.encode()
            head = "HTTP/1.1 %d %s\r\n" % (status, "OK" if status == 200 else "Bad Request")
            head += "".join("%s: %s\r\n" % kv for kv in headers)
            head += "Transfer-Encoding: chunked\r\n\r\n"
            mid = len(body) // 2
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:mid], body[mid:]) if c)
            return head.encode() + chunks + b"0\r\n\r\n"
        return _response(status, text, headers)

    def _page(self, path, authed):
        """The pages a browser gets (what auto's detection asks for): ElegantOTA's own at
        /update, gzip-encoded; ESP8266HTTPUpdateServer's form at /update; ESPHome's web_server
        page at /. None for any other path."""
        elegant = self.kind.startswith("elegantota")
        if path == "/update" and (elegant or self.kind == "hus"):
            if not authed:
                return self._challenge()
            if elegant:
                body = gzip.compress(b"<!DOCTYPE html><html><head><title>ElegantOTA</title>"
                                     b"</head><body><div id=app></div></body></html>")
                return _response(200, body, [("Content-Type", "text/html"),
                                             ("Content-Encoding", "gzip")])
            return _response(200, "<html><body><form method='POST' action='' enctype='multipart"
                             "/form-data'><input type='file' accept='.bin,.bin.gz' "
                             "name='firmware'><input type='submit' value='Update Firmware'>"
                             "</form></body></html>", [("Content-Type", "text/html")])
        if path == "/" and self.kind == "esphome":
            return _response(200, "<!DOCTYPE html><html><body><esp-app></esp-app><script src="
                             "\"https://oi.esphome.io/v2/www.js\"></script></body></html>",
                             [("Content-Type", "text/html")])
        return None

    def _get(self, req, authed):
        path, _, query = req.target.partition("?")
        page = self._page(path, authed)
        if page is not None:
            return page
        if not self.kind.startswith("elegantota") or path != "/ota/start":
            return _response(404, "Not found: %s" % path, [("Content-Type", "text/plain")])
        if not authed:
            return self._challenge()
        args = dict(a.split("=", 1) for a in query.split("&") if "=" in a)
        mode = "fs" if args.get("mode") == "fs" else "fr"
        if "hash" in args:
            if len(args["hash"]) != 32:
                return self._text(400, "MD5 parameter invalid")
            self.updater.md5 = args["hash"]
        else:
            self.updater.md5 = None
        if not self.updater.begin(mode):
            return self._text(400, self.updater.error)
        return self._text(200, "OK")

    def _damage(self, data):
        if self.corrupt and data:
            self.corrupt -= 1
            return data[:100] + bytes([data[100] ^ 1]) + data[101:]
        return data

    def _file_part(self, req, body):
        m = re.search(r"boundary=(\S+)", req.header("content-type") or "")
        if not m:
            return None, None
        b = m.group(1).encode()
        head_end = body.find(b"\r\n\r\n")
        if not body.startswith(b"--" + b + b"\r\n") or head_end < 0:
            return None, None
        disp = body[:head_end].decode("latin-1")
        name = re.search(r'name="([^"]*)"', disp)
        tail = b"\r\n--" + b + b"--\r\n"
        if not body.endswith(tail):
            return None, None
        return (name.group(1) if name else ""), body[head_end + 4:-len(tail)]

    def _post(self, req, body, authed):
        path = req.target
        if self.kind.startswith("elegantota"):
            if path != "/ota/upload":
                return _response(404, "Not found", [("Content-Type", "text/plain")])
            if not authed:
                return self._challenge()
            _, data = self._file_part(req, body)
            self.updater.write(self._damage(data or b""))
            image = self.updater.end()
            if image is None:
                return self._text(400, self.updater.error)
            self.images.append((self.updater.mode, image))
            return self._text(200, "OK")
        if path != "/update":
            return _response(404, "Not found", [("Content-Type", "text/plain")])
        if not authed:
            return self._challenge()
        name, data = self._file_part(req, body)
        mode = "fs" if self.kind == "hus" and name == "filesystem" else "fr"
        self.updater.begin(mode)
        self.updater.md5 = None
        self.updater.write(data or b"")
        image = self.updater.end()
        if image is not None:
            self.images.append((mode, image))
        if self.kind == "hus":
            text = ('<META http-equiv="refresh" content="15;URL=/">Update Success! Rebooting...'
                    if image is not None else "Update error: " + self.updater.error)
            return _response(200, text, [("Content-Type", "text/html")])
        return self._text(200, "Update Successful!" if image is not None else "Update Failed!")

    # ---- for the tests ----

    def wait_requests(self, n, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)

    def close(self):
        self._stop.set()
        self.srv.close()
        self._thread.join(timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
