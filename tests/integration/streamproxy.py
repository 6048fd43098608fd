"""A TCP relay on 127.0.0.1 in front of a hub, for long-lived responses (the results stream),
which tests/integration/faultproxy.py (one request, one whole answer) cannot carry.

    proxy = StreamProxy(hub_port)          # bytes pass both ways as they come
    proxy.cut()                            # every open connection reset, at once
    proxy.down = True                      # new connections reset too, until False again
    StreamProxy(hub_port, buffering=True)  # a proxy that buffers: the answer to a request for
                                           # a results stream is held until the hub closes it
                                           # (other answers, whole, pass as they come)
    StreamProxy(hub_port, old_hub=True)    # a hub of before the stream: its 404 to the stream
"""
from __future__ import annotations

import socket
import struct
import threading


NOT_FOUND = (b'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n'
             b'Content-Length: 64\r\nConnection: close\r\n\r\n'
             + b'{"detail":"Not Found"}'.ljust(64))


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class StreamProxy:
    def __init__(self, upstream_port: int, *, buffering: bool = False, old_hub: bool = False):
        self.upstream_port = upstream_port
        self.buffering = buffering
        self.old_hub = old_hub
        self.down = False
        self.connections = 0
        self.stream_requests = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        self.cut()

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self.connections += 1
                self._open.update((client, upstream))
            state = {"hold": False}
            threading.Thread(target=self._pump, args=(client, upstream, state, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, state, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, state: dict,
              request: bool) -> None:
        held = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if request and b"/results/stream" in data:
                    self.stream_requests += 1
                    if self.old_hub:
                        source.sendall(NOT_FOUND)
                        break
                    state["hold"] = self.buffering
                if not request and state["hold"]:
                    # A buffering proxy: the head passes, the body not until its end.
                    if state.get("head_sent"):
                        held += data
                        continue
                    head, mark, rest = data.partition(b"\r\n\r\n")
                    target.sendall(head + mark)
                    state["head_sent"] = bool(mark)
                    held += rest
                    continue
                target.sendall(data)
            if held:
                target.sendall(held)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(target)
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    sock.close()
                except OSError:
                    pass
