"""Real OpenAI-compatible servers on the wire: the quirks a client must tolerate (shared/openai-servers.md).

Raw httpx against llama.cpp's `llama-server` (single model, with an API key, router mode) and `transformers serve`,
each running a tiny random-weight model on 127.0.0.1 (fixtures in tests/servers/fixtures.py). The models' text is
gibberish and never ends by itself: generations run to `max_tokens` unless a `stop` sequence ends them. Every
request sends a small `max_tokens` and a short prompt (about one token per character). The assertions are about
protocol properties, not exact bytes: Debian testing's llama.cpp moves.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from servers.fixtures import RealServer

HI = [{"role": "user", "content": "hi"}]
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A client that opens a new connection per request: both servers close connections that they advertised as
    kept alive (see the *_connection_* tests), and a pooled client would race with them."""
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=TIMEOUT, trust_env=False, limits=limits) as client:
        yield client


def raw_exchange(origin: str, request: bytes, linger: float = 3.0) -> tuple[bytes, bool]:
    """Send one HTTP/1.1 request on a new socket, read the whole response, then wait up to `linger` seconds for
    more: return the response head and whether the server closed the connection meanwhile."""
    host, port = origin.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while not response_complete(data):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        sock.settimeout(linger)
        try:
            closed = sock.recv(65536) == b""
        except TimeoutError:
            closed = False
        except ConnectionResetError:
            closed = True
    return data.split(b"\r\n\r\n", 1)[0], closed


def response_complete(data: bytes) -> bool:
    if b"\r\n\r\n" not in data:
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    fields = dict(line.split(b": ", 1) for line in head.lower().split(b"\r\n")[1:] if b": " in line)
    if b"content-length" in fields:
        return len(body) >= int(fields[b"content-length"])
    return body.endswith(b"0\r\n\r\n")  # the end of a chunked body


def keep_alive_request(body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload)
    )


def chat(server: RealServer, **body: Any) -> dict[str, Any]:
    return {"model": server.model, "messages": HI, "max_tokens": 4, **body}


def post(http: httpx.Client, server: RealServer, body: Any, **kwargs: Any) -> httpx.Response:
    return http.post(f"{server.base_url}/chat/completions", json=body, headers=server.headers(), **kwargs)


def stream(http: httpx.Client, server: RealServer, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    """POST with stream=true; return the response and the SSE `data:` payloads in order.

    Checks the framing on the way: every event is `data: <payload>` followed by a blank line; no other fields.
    """
    with http.stream(
        "POST", f"{server.base_url}/chat/completions", json={**body, "stream": True}, headers=server.headers()
    ) as response:
        raw = response.read().decode()
    if response.status_code != 200:
        return response, []
    assert raw.endswith("\n\n"), raw[-200:]
    events = raw.split("\n\n")[:-1]
    payloads = []
    for event in events:
        lines = event.split("\n")
        assert len(lines) == 1 and lines[0].startswith("data: "), event
        payloads.append(lines[0].removeprefix("data: "))
    return response, payloads


def chunks_of(payloads: list[str]) -> list[dict[str, Any]]:
    return [json.loads(p) for p in payloads if p != "[DONE]"]


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def printable(text: str) -> bool:
    return text.isascii() and text.isprintable()


def greedy_text(http: httpx.Client, server: RealServer, n: int = 12) -> str:
    """A deterministic generation (temperature 0) that is long enough to pick a stop sequence from."""
    response = post(http, server, chat(server, max_tokens=n, temperature=0))
    assert response.status_code == 200, response.text
    text: str = response.json()["choices"][0]["message"]["content"]
    assert len(text) >= 6, text
    return text


def pick_stop(text: str) -> tuple[str, int]:
    """A two-character stop sequence whose first occurrence in `text` starts at index >= 2."""
    for i in range(2, len(text) - 1):
        if text.find(text[i : i + 2]) == i:
            return text[i : i + 2], i
    pytest.fail(f"no usable stop sequence in {text!r}")


def assert_llama_error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == status  # an int, where OpenAI sends a string or null
    assert error["type"] == error_type
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


# -- llama-server, one model ------------------------------------------------------------------------------


def test_llama_models_lists_the_alias_with_extras(http: httpx.Client, llama_server: RealServer) -> None:
    body = http.get(f"{llama_server.base_url}/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["tiny"]
    assert body["data"][0]["object"] == "model"
    assert isinstance(body["data"][0]["created"], int)
    assert "models" in body  # an Ollama-style extra array beside the OpenAI "data"


def test_llama_completion_runs_to_max_tokens(http: httpx.Client, llama_server: RealServer) -> None:
    response = post(http, llama_server, chat(llama_server, max_tokens=5))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "tiny"
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "length"
    assert choice["message"]["role"] == "assistant"
    assert printable(choice["message"]["content"]) and choice["message"]["content"]
    usage = body["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "cached_tokens" in usage["prompt_tokens_details"]
    assert "timings" in body and "system_fingerprint" in body  # llama.cpp extras


def test_llama_ignores_an_unknown_model_in_single_model_mode(http: httpx.Client, llama_server: RealServer) -> None:
    response = post(http, llama_server, chat(llama_server, model="no-such-model", max_tokens=1))
    assert response.status_code == 200
    assert response.json()["model"] == "tiny"


def test_llama_stream_framing(http: httpx.Client, llama_server: RealServer) -> None:
    response, payloads = stream(http, llama_server, chat(llama_server, max_tokens=4))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert payloads[-1] == "[DONE]"
    assert payloads.count("[DONE]") == 1
    chunks = chunks_of(payloads)
    first, *middle, last = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": None}  # an explicit null
    assert first["choices"][0]["finish_reason"] is None
    assert middle and all(set(c["choices"][0]["delta"]) == {"content"} for c in middle)
    assert all(c["choices"][0]["finish_reason"] is None for c in middle)
    assert last["choices"][0]["delta"] == {}
    assert last["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in c for c in chunks)  # none unless asked for
    assert {c["id"] for c in chunks} == {first["id"]} and first["id"].startswith("chatcmpl-")
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert printable(content_of(chunks))


def test_llama_stream_usage_chunk_when_asked(http: httpx.Client, llama_server: RealServer) -> None:
    body = chat(llama_server, max_tokens=3, stream_options={"include_usage": True})
    _, payloads = stream(http, llama_server, body)
    assert payloads[-1] == "[DONE]"
    *chunks, usage_chunk = chunks_of(payloads)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert "usage" not in chunks[-1]
    assert usage_chunk["choices"] == []  # usage comes after the finish chunk, with no choices
    assert usage_chunk["usage"]["completion_tokens"] == 3
    assert usage_chunk["id"] == chunks[0]["id"]


def test_llama_stop_sequence_ends_with_stop_and_is_cut(http: httpx.Client, llama_server: RealServer) -> None:
    text = greedy_text(http, llama_server)
    stop, at = pick_stop(text)
    response = post(http, llama_server, chat(llama_server, max_tokens=12, temperature=0, stop=[stop]))
    [choice] = response.json()["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == text[:at]  # the stop sequence itself is not returned

    _, payloads = stream(http, llama_server, chat(llama_server, max_tokens=12, temperature=0, stop=[stop]))
    chunks = chunks_of(payloads)
    assert payloads[-1] == "[DONE]"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert content_of(chunks) == text[:at]


def test_llama_malformed_json_is_400(http: httpx.Client, llama_server: RealServer) -> None:
    response = http.post(
        f"{llama_server.base_url}/chat/completions", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert_llama_error(response, 400, "invalid_request_error")


def test_llama_missing_messages_is_400(http: httpx.Client, llama_server: RealServer) -> None:
    error = assert_llama_error(post(http, llama_server, {"max_tokens": 2}), 400, "invalid_request_error")
    assert "messages" in error["message"]


def test_llama_n_above_one_is_400(http: httpx.Client, llama_server: RealServer) -> None:
    assert_llama_error(post(http, llama_server, chat(llama_server, n=2)), 400, "invalid_request_error")


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "stream"])
def test_llama_context_overflow_is_a_json_400(http: httpx.Client, llama_server: RealServer, streaming: bool) -> None:
    body = chat(llama_server, messages=[{"role": "user", "content": "a" * 2100}], max_tokens=2, stream=streaming)
    error = assert_llama_error(post(http, llama_server, body), 400, "exceed_context_size_error")
    assert error["n_prompt_tokens"] > error["n_ctx"] == 2048


def test_llama_unknown_path_is_404(http: httpx.Client, llama_server: RealServer) -> None:
    assert_llama_error(http.get(f"{llama_server.origin}/no/such/path"), 404, "not_found_error")


def test_llama_cors_header_is_present_but_empty(http: httpx.Client, llama_server: RealServer) -> None:
    response = http.get(f"{llama_server.base_url}/models")
    assert response.headers.get("access-control-allow-origin") == ""


# Connections: llama-server answers `Keep-Alive: timeout=5` and keeps a plain completion's connection open, but
# closes it right after a streamed response (no `Connection: close` said), and after an error (that one says so).
# A pooled client that sends its next request on such a connection before it sees the close gets "Server
# disconnected without sending a response": it must retry that on a new connection, or not pool after a stream.


def test_llama_keeps_the_connection_after_a_completion(llama_server: RealServer) -> None:
    head, closed = raw_exchange(llama_server.origin, keep_alive_request(chat(llama_server, max_tokens=1)), linger=1.0)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"keep-alive: timeout=" in head.lower()
    assert not closed


def test_llama_drops_the_connection_after_a_stream(llama_server: RealServer) -> None:
    request = keep_alive_request(chat(llama_server, max_tokens=1, stream=True))
    head, closed = raw_exchange(llama_server.origin, request)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"keep-alive: timeout=" in head.lower()
    assert b"connection: close" not in head.lower()
    assert closed  # within 3 s, long before the advertised keep-alive timeout


def test_llama_closes_the_connection_after_an_error(llama_server: RealServer) -> None:
    head, closed = raw_exchange(llama_server.origin, keep_alive_request({"max_tokens": 1}))
    assert head.startswith(b"HTTP/1.1 400")
    assert b"connection: close" in head.lower()
    assert closed


# -- llama-server with --api-key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": "wrong-scheme"}],
    ids=["none", "wrong-key", "no-bearer"],
)
def test_llama_bad_key_is_401(http: httpx.Client, llama_server_with_key: RealServer, headers: dict[str, str]) -> None:
    server = llama_server_with_key
    response = http.post(f"{server.base_url}/chat/completions", json=chat(server), headers=headers)
    error = assert_llama_error(response, 401, "authentication_error")
    assert server.api_key not in response.text
    assert "key" in error["message"].lower()


def test_llama_good_key_is_accepted(http: httpx.Client, llama_server_with_key: RealServer) -> None:
    server = llama_server_with_key
    assert post(http, server, chat(server, max_tokens=1)).status_code == 200
    assert http.get(f"{server.base_url}/models", headers=server.headers()).status_code == 200
    assert http.get(f"{server.base_url}/models").status_code == 401
    assert http.get(f"{server.origin}/health").status_code == 200  # the health check needs no key


# -- llama-server router mode --------------------------------------------------------------------------------


def test_router_drops_the_connection_even_after_a_completion(llama_router: RealServer) -> None:
    head, closed = raw_exchange(llama_router.origin, keep_alive_request(chat(llama_router, max_tokens=1)))
    assert head.startswith(b"HTTP/1.1 200")
    assert b"keep-alive: timeout=" in head.lower()
    assert b"connection: close" not in head.lower()
    assert closed  # within 3 s, long before the advertised keep-alive timeout


def test_router_lists_every_model_with_status(http: httpx.Client, llama_router: RealServer) -> None:
    body = http.get(f"{llama_router.base_url}/models").json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == set(llama_router.models)
    assert all(m["status"]["value"] in {"loaded", "loading", "unloaded"} for m in body["data"])
    assert "models" not in body  # unlike single-model mode


@pytest.mark.parametrize("model", ["tiny-b", "tiny-c"])
def test_router_routes_by_model(http: httpx.Client, llama_router: RealServer, model: str) -> None:
    response = post(http, llama_router, chat(llama_router, model=model, max_tokens=2))
    assert response.status_code == 200, response.text
    assert response.json()["model"] == model
    assert response.json()["choices"][0]["finish_reason"] == "length"


def test_router_streams_with_done(http: httpx.Client, llama_router: RealServer) -> None:
    body = chat(llama_router, max_tokens=2, stream_options={"include_usage": True})
    response, payloads = stream(http, llama_router, body)
    assert response.status_code == 200
    assert payloads[-1] == "[DONE]"
    chunks = chunks_of(payloads)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2


def test_router_unknown_model_is_400_not_404(http: httpx.Client, llama_router: RealServer) -> None:
    response = post(http, llama_router, chat(llama_router, model="x"))
    error = assert_llama_error(response, 400, "invalid_request_error")
    assert error["message"] == "model 'x' not found"


def test_router_missing_model_is_400(http: httpx.Client, llama_router: RealServer) -> None:
    response = post(http, llama_router, {"messages": HI, "max_tokens": 2})
    error = assert_llama_error(response, 400, "invalid_request_error")
    assert "model" in error["message"]


# -- transformers serve -------------------------------------------------------------------------------------


def test_transformers_models_created_is_a_float(http: httpx.Client, transformers_server: RealServer) -> None:
    body = http.get(f"{transformers_server.base_url}/models").json()
    assert body["object"] == "list"
    [model] = [m for m in body["data"] if m["id"] == transformers_server.model]
    assert model["object"] == "model"
    assert isinstance(model["created"], float)


def test_transformers_completion(http: httpx.Client, transformers_server: RealServer) -> None:
    server = transformers_server
    response = post(http, server, chat(server, max_tokens=5))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert not body["id"].startswith("chatcmpl-")  # a bare UUID
    assert body["model"] == f"{server.model}@main"  # the revision appended
    [choice] = body["choices"]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["role"] == "assistant"
    assert printable(choice["message"]["content"]) and choice["message"]["content"]
    assert body["usage"]["completion_tokens"] == 5


def test_transformers_stream_has_no_done(http: httpx.Client, transformers_server: RealServer) -> None:
    server = transformers_server
    response, payloads = stream(http, server, chat(server, max_tokens=4))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in payloads  # the stream just ends: a client waiting for [DONE] hangs
    chunks = chunks_of(payloads)
    first, *middle, last = chunks
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["delta"].get("content") is None
    assert middle and all(set(c["choices"][0]["delta"]) == {"content"} for c in middle)
    assert last["choices"][0]["delta"] == {}
    assert last["choices"][0]["finish_reason"] == "length"
    assert last["usage"]["completion_tokens"] == 4  # the finish chunk carries usage even unasked
    assert {c["id"] for c in chunks} == {first["id"]}


def test_transformers_usage_rides_on_the_finish_chunk(http: httpx.Client, transformers_server: RealServer) -> None:
    server = transformers_server
    body = chat(server, max_tokens=3, stream_options={"include_usage": True})
    _, payloads = stream(http, server, body)
    chunks = chunks_of(payloads)
    assert all(c["choices"] for c in chunks)  # no separate usage chunk with empty choices
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_transformers_stop_sequence_is_kept_in_content(http: httpx.Client, transformers_server: RealServer) -> None:
    server = transformers_server
    text = greedy_text(http, server)
    stop, at = pick_stop(text)
    response = post(http, server, chat(server, max_tokens=12, temperature=0, stop=[stop]))
    [choice] = response.json()["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == text[: at + len(stop)]  # unlike OpenAI, the stop text is included

    _, payloads = stream(http, server, chat(server, max_tokens=12, temperature=0, stop=[stop]))
    chunks = chunks_of(payloads)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert content_of(chunks) == text[: at + len(stop)]


def test_transformers_malformed_json_is_422_detail_list(http: httpx.Client, transformers_server: RealServer) -> None:
    response = http.post(
        f"{transformers_server.base_url}/chat/completions",
        content=b"{bad",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail and "msg" in detail[0]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "nope/nope", "messages": HI, "max_tokens": 2},
        {"model": "puter-magic/tiny-llama", "max_tokens": 2},
    ],
    ids=["unknown-model", "missing-messages"],
)
def test_transformers_bad_request_is_a_plain_text_500(
    http: httpx.Client, transformers_server: RealServer, body: dict[str, Any]
) -> None:
    response = post(http, transformers_server, body)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")


def test_transformers_drops_the_connection_after_a_500(transformers_server: RealServer) -> None:
    """An unhandled server error closes (resets) the connection with no `Connection: close` header: a pooled
    client's next request on it fails with a connection reset."""
    request = keep_alive_request({"model": transformers_server.model, "max_tokens": 1})
    head, closed = raw_exchange(transformers_server.origin, request)
    assert head.startswith(b"HTTP/1.1 500")
    assert b"connection: close" not in head.lower()
    assert closed


def test_transformers_unknown_path_is_404_detail(http: httpx.Client, transformers_server: RealServer) -> None:
    response = http.get(f"{transformers_server.origin}/no/such/path")
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


def test_transformers_ignores_any_api_key(http: httpx.Client, transformers_server: RealServer) -> None:
    server = transformers_server
    response = http.post(
        f"{server.base_url}/chat/completions",
        json=chat(server, max_tokens=1),
        headers={"Authorization": "Bearer anything"},
    )
    assert response.status_code == 200


def test_transformers_has_no_context_size_error(http: httpx.Client, transformers_server: RealServer) -> None:
    server = transformers_server
    body = chat(server, messages=[{"role": "user", "content": "a" * 2100}], max_tokens=1)
    response = post(http, server, body)
    assert response.status_code == 200  # longer than max_position_embeddings (2048), and still answered
    assert response.json()["usage"]["prompt_tokens"] > 2048
