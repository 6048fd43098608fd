"""Two men in the middle on 127.0.0.1, for the room's TLS (tests/integration/test_room_tls.py).

    Recorder(upstream_port)        passes every byte through both ways and keeps a copy: what
                                   a sniffer on the room's Wi-Fi captures
    Interceptor(upstream_port, certificate)   ends the TLS with a certificate of its own, opens
                                   its own TLS to the hub (trusting anything) and passes what it
                                   decrypted, keeping a copy: what an attacker who answers for
                                   the room's address reads when a client accepts its certificate
"""
from __future__ import annotations

import select
import socket
import ssl
import threading


class _Proxy:
    def __init__(self, upstream_port: int, port: int = 0):
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.captured = bytearray()     # both directions, in arrival order
        self.connections = 0
        self._lock = threading.Lock()
        self._closing = False
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._closing = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the accept (close alone does not)
        except OSError:
            pass
        self.listener.close()

    def _serve(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _wrap_client(self, client: socket.socket) -> socket.socket:
        return client

    def _upstream(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)

    def _handle(self, client: socket.socket) -> None:
        try:
            client = self._wrap_client(client)
            upstream = self._upstream()
        except (OSError, ssl.SSLError):
            client.close()
            return
        # One thread per connection reads both ends in turn: a TLS socket is not safe to read
        # in one thread while another writes to it (OpenSSL's SSL object is not thread-safe),
        # which hung a request now and then when each direction had a thread of its own.
        peer = {client: upstream, upstream: client}
        try:
            while True:
                ready = [s for s in peer if isinstance(s, ssl.SSLSocket) and s.pending()]
                if not ready:
                    ready, _, _ = select.select(list(peer), [], [], 60)
                    if not ready:
                        break
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    with self._lock:
                        self.captured += data
                    peer[source].sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            for sock in (client, upstream):
                try:
                    sock.close()
                except OSError:
                    pass


class Recorder(_Proxy):
    """A TCP pass-through that records the bytes: the room's TLS goes through untouched."""


class Interceptor(_Proxy):
    """Terminates TLS with `cert`/`key` (another certificate than the hub's), and speaks TLS to
    the hub itself: `captured` is the plain text of whatever a client sent it."""

    def __init__(self, upstream_port: int, cert: str, key: str, port: int = 0):
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(cert, key)
        self.client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.client_context.check_hostname = False
        self.client_context.verify_mode = ssl.CERT_NONE
        super().__init__(upstream_port, port)

    def _wrap_client(self, client: socket.socket) -> socket.socket:
        client.settimeout(30)
        return self.server_context.wrap_socket(client, server_side=True)

    def _upstream(self) -> socket.socket:
        return self.client_context.wrap_socket(super()._upstream(),
                                               server_hostname="127.0.0.1")
