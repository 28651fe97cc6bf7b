# SPDX-License-Identifier: MIT
"""A TCP relay on 127.0.0.1 that resets a connection mid-stream: what a Wi-Fi roam or a VPN
hiccup does to an upload. Used by tests/e2e/test_resume.py and bench/upload (resume figures);
works with any device link, since it sits between the uploader and the device's port."""

import select
import socket
import struct
import threading


class DropRelay:
    """Listens on 127.0.0.1; relays each connection to the device. The first connection is
    reset (RST both ways, SO_LINGER 0) once `cut` bytes from the client went through; later
    ones pass whole. `cut` may also be a list: one cut per connection, in order (None: that
    connection passes whole). `flips`: per connection, a client byte offset whose byte arrives
    XOR 0x5A (None: none). `dropped` tells whether a cut happened, `drops` how many, `flipped`
    how many bytes were flipped."""

    def __init__(self, device_port, cut, flips=None):
        self.device_port = int(device_port)
        self.cuts = list(cut) if isinstance(cut, (list, tuple)) else [cut]
        self.flips = list(flips or [])
        self.dropped = False
        self.drops = 0
        self.flipped = 0
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    @staticmethod
    def _reset(s):
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            dev = socket.create_connection(("127.0.0.1", self.device_port))
            k = self.connections - 1
            limit = self.cuts[k] if k < len(self.cuts) else None
            flip = self.flips[k] if k < len(self.flips) else None
            t = threading.Thread(target=self._relay, args=(client, dev, limit, flip),
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def _relay(self, client, dev, limit, flip=None):
        """Both directions in one thread (select), so that the reset closes sockets no other
        thread is reading: the RST goes out at once."""
        passed = 0
        peer = {client: dev, dev: client}
        open_ = [client, dev]
        try:
            while open_:
                ready, _, _ = select.select(open_, [], [], 1.0)
                for src in ready:
                    data = src.recv(65536)
                    dst = peer[src]
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        open_.remove(src)
                        continue
                    if src is client and flip is not None and passed <= flip < passed + len(data):
                        data = bytearray(data)
                        data[flip - passed] ^= 0x5A
                        data = bytes(data)
                        self.flipped += 1
                    if src is client and limit is not None and passed + len(data) >= limit:
                        dst.sendall(data[:limit - passed])
                        self.dropped = True
                        self.drops += 1
                        self._reset(client)
                        self._reset(dev)
                        return
                    if src is client:
                        passed += len(data)
                    dst.sendall(data)
        except OSError:
            pass
        client.close()
        dev.close()

    def close(self):
        self._stop = True
        self.sock.close()
