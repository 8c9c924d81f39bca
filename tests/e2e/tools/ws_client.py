"""A small WebSocket client (RFC 6455) on the standard library, for the signalling tests.

It speaks the protocol from the raw socket up, so that the tests can also send what no browser
would: oversized, fragmented, binary and malformed frames.
"""
import base64
import json
import os
import socket
import ssl
import struct


class Closed(Exception):
    pass


class WebSocket:
    def __init__(self, host, port, path="/ws", origin=None, timeout=10.0, headers=None,
                 tls_ca=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls_ca:
            context = ssl.create_default_context(cafile=tls_ca)
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin:
            lines.append(f"Origin: {origin}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("closed during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])
        if self.status != 101:
            raise Closed(f"handshake refused with HTTP {self.status}")

    def send_frame(self, opcode, payload, fin=True, length=None):
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload) if length is None else length
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, message):
        text = message if isinstance(message, str) else json.dumps(message)
        self.send_frame(0x1, text.encode())

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv_frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return b0 & 0x0F, self._read(n)

    def recv(self):
        """The next JSON message; Closed when the server closes."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == 0x8:
                raise Closed("close frame")
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0x1:
                return json.loads(payload.decode())

    def recv_type(self, wanted):
        """Skips messages until one of type `wanted` (or an error) arrives."""
        while True:
            message = self.recv()
            if message.get("type") in (wanted, "error"):
                return message

    def close(self):
        try:
            self.send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
