"""One connection serves a session's requests one after another: an answer's body is read to its end, so httpx puts
the connection back in its pool instead of closing it (each request of a batch used to open a new one — a TLS
handshake each against a real server).

Counted at a real TCP forwarder between the client and the server: the connections it accepts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import replace

import pytest

from puter_magic.core.sessions import Session
from puter_magic.testing.openai_server import LocalOpenAI


class CountingForwarder:
    """Accepts connections on a free loopback port and pipes each to `target`, counting them."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> CountingForwarder:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in [self._listener, *self._sockets]:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked in accept() and recv()
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            self._spawn(self._pipe, client, upstream)
            self._spawn(self._pipe, upstream, client)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _port(origin: str) -> int:
    return int(origin.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def puter_through_forwarder(puter_server, puter_settings) -> Iterator[tuple[Session, CountingForwarder]]:
    with CountingForwarder(("127.0.0.1", _port(puter_server.api_origin))) as forwarder:
        origin = puter_server.api_origin.rsplit(":", 1)[0] + f":{forwarder.port}"
        session = Session(replace(puter_settings, api_origin=origin))
        session.set_model("deterministic")
        try:
            yield session, forwarder
        finally:
            session.close()


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
def test_puter_answers_share_one_connection(puter_through_forwarder, stream):
    session, forwarder = puter_through_forwarder
    answers = [session.ask(f"question {n}", history=False, stream=stream).text() for n in range(5)]
    assert all(answers)
    assert forwarder.accepted == 1


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
def test_openai_answers_share_one_connection(puter_settings, stream):
    with LocalOpenAI() as server, CountingForwarder(("127.0.0.1", _port(server.base_url))) as forwarder:
        session = Session(puter_settings)
        try:
            session.use_provider(f"http://127.0.0.1:{forwarder.port}/v1")
            session.set_model("echo")
            answers = [session.ask(f"question {n}", history=False, stream=stream).text() for n in range(5)]
        finally:
            session.close()
    assert answers == [f"question {n}" for n in range(5)]
    assert forwarder.accepted == 1


def test_a_body_left_open_after_done_does_not_hold_the_answer(puter_settings, monkeypatch):
    """A server that sends [DONE] and then neither ends the body nor closes: the answer is complete at [DONE], so
    the client waits END_GRACE for the end, not the idle timeout, then drops that connection."""
    monkeypatch.setattr("puter_magic.wire.transport.END_GRACE", 0.1)
    answered = threading.Event()
    held_open_until_answered: list[bool] = []

    def serve(listener: socket.socket) -> None:
        while True:  # the session asks for the models first (for the window): 404, then the chat
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                if not request.startswith(b"POST /v1/chat/completions"):
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    continue
                event = b'data: {"choices":[{"delta":{"content":"still here"},"finish_reason":"stop"}]}\n\n'
                event += b"data: [DONE]\n\n"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                    + b"%x\r\n%s\r\n" % (len(event), event)
                )
                held_open_until_answered.append(answered.wait(30))
                return

    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=serve, args=(listener,), daemon=True)
        server.start()
        session = Session(puter_settings)
        try:
            session.use_provider(f"http://127.0.0.1:{listener.getsockname()[1]}/v1")
            session.set_model("any")
            text = session.ask("hello", history=False).text()
            answered.set()
        finally:
            session.close()
        server.join(30)
    assert text == "still here"
    assert held_open_until_answered == [True]
