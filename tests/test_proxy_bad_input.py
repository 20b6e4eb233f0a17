"""The proxy under bad input, through real sockets: lone UTF-16 surrogates in requests and answers, and numbers
that cannot be sent. Upstream is either the local Puter server or a small scripted OpenAI-compatible server that
splits an emoji across two events (as a server slicing strings by UTF-16 code units does)."""

from __future__ import annotations

import json

import httpx
import pytest
from proxies import running_proxy, sdk
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from puter_magic.testing.runner import serve

EMOJI = "\U0001f600"
HALF = b"\\ud83d"  # JSON text for a lone high surrogate: valid JSON, no text
SPLIT_EVENTS = [
    b'{"choices":[{"index":0,"delta":{"content":"smile \\ud83d"}}]}',
    b'{"choices":[{"index":0,"delta":{"content":"\\ude00!"}}]}',
    b'{"choices":[{"index":0,"delta":{"content":" half \\ud83d"}}]}',
    b'{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
]


def splitting_upstream(received: list[bytes]) -> Starlette:
    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "split", "object": "model", "owned_by": "test"}]})

    async def completions(request: Request) -> Response:
        raw = await request.body()
        received.append(raw)
        if not json.loads(raw).get("stream"):
            body = b'{"model":"split","choices":[{"index":0,"message":{"role":"assistant","content":"half \\ud83d"},'
            body += b'"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}'
            return Response(body, media_type="application/json")

        async def events():
            for event in SPLIT_EVENTS:
                yield b"data: " + event + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", completions, methods=["POST"])])


@pytest.fixture
def received():
    return []


@pytest.fixture
def split_proxy(puter_settings, loop, received):
    with (
        serve(splitting_upstream(received)) as upstream,
        running_proxy(puter_settings, loop, f"{upstream.origin}/v1") as proxy,
    ):
        yield proxy


def post_raw(proxy, raw: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {proxy.key}", "Content-Type": "application/json"}
    return httpx.post(proxy.url + "/v1/chat/completions", content=raw, headers=headers, timeout=10)


def test_an_emoji_split_upstream_arrives_whole_and_a_lone_half_as_the_replacement_character(split_proxy):
    with sdk(split_proxy) as client:
        stream = client.chat.completions.create(
            model="split", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == f"smile {EMOJI}! half \ufffd"


def test_a_whole_answer_with_a_lone_surrogate_is_sent_as_utf8(split_proxy):
    with sdk(split_proxy) as client:
        answer = client.chat.completions.create(model="split", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "half \ufffd"


def test_a_lone_surrogate_in_a_request_is_repaired_before_it_goes_upstream(split_proxy, received):
    raw = b'{"model":"split","messages":[{"role":"user","content":"cut ' + HALF + b'"}]}'
    response = post_raw(split_proxy, raw)
    assert response.status_code == 200, response.text
    assert b"cut \xef\xbf\xbd" in received[-1] and HALF not in received[-1]
    received[-1].decode("utf-8")  # strict UTF-8, what every upstream can read


@pytest.mark.parametrize("stream", [False, True])
def test_a_lone_surrogate_through_the_local_puter_server_is_answered_not_crashed_on(puter_proxy, stream):
    raw = b'{"model":"echo","stream":' + json.dumps(stream).encode()
    raw += b',"messages":[{"role":"user","content":"cut ' + HALF + b'"}]}'
    response = post_raw(puter_proxy, raw)
    assert response.status_code == 200, response.text
    if stream:
        events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    else:
        text = response.json()["choices"][0]["message"]["content"]
    assert text == "cut \ufffd"


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"max_tokens": 0}, "max_tokens"), ({"max_tokens": -5}, "max_tokens"), ({"temperature": "1e400"}, "temperature")],
)
def test_numbers_that_cannot_be_sent_are_refused_with_a_400_naming_them(puter_proxy, fields, param):
    raw = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "x"}], **fields}).encode()
    response = post_raw(puter_proxy, raw.replace(b'"1e400"', b"1e400"))  # valid JSON that Python reads as infinity
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


# --- the local servers ------------------------------------------------------------------------------


def test_the_local_servers_answer_a_lone_surrogate_escaped_as_their_real_counterparts_do(puter_server):
    """Puter (Node's JSON.stringify) and Python servers (json.dumps) escape a lone surrogate; the local servers
    used to fail encoding it (a plain-text 500, or a stream that broke)."""
    from puter_magic.testing.openai_server import LocalOpenAI

    message = b'[{"role":"user","content":"cut ' + HALF + b'"}]'
    with LocalOpenAI() as server:
        for stream in (b"false", b"true"):
            raw = b'{"model":"echo","stream":' + stream + b',"messages":' + message + b"}"
            answer = httpx.post(server.base_url + "/chat/completions", content=raw, timeout=10)
            assert answer.status_code == 200 and HALF in answer.content
    call = {"interface": "puter-chat-completion", "driver": "ai-chat", "method": "complete"}
    for stream in (b"false", b"true"):
        raw = json.dumps(call).encode()[:-1] + b',"args":{"model":"echo","stream":' + stream
        raw += b',"messages":' + message + b"}}"
        answer = httpx.post(
            f"http://127.0.0.1:{puter_server.port}/drivers/call",
            content=raw,
            headers={
                "Host": puter_server.api_host,
                "Authorization": f"Bearer {puter_server.token}",
                "Content-Type": "application/json",
            },
            timeout=10,
        )
        assert answer.status_code == 200 and HALF in answer.content, answer.text
