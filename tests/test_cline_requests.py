"""Cline's exact requests (tests/fixtures/cline/, captured from openai-node and @ai-sdk/openai-compatible with a
logging fetch, see tests/cline_clients.py), replayed through the proxy; every field Cline reads from the stream is
checked: `choices[0].delta.content`, `reasoning_content`, `tool_calls`, `usage` with
`prompt_tokens_details.cached_tokens`, and `finish_reason`. The clients themselves also run live when installed
(`make unit` installs them: tests/clients/setup_node_clients.sh).
"""

from __future__ import annotations

import json

import httpx
import pytest
from cline_clients import CLIENTS, TURNS, enqueue_turns, fixture, node_clients_installed, run_clients


def read_as_cline(proxy, request: dict) -> dict:
    """Send a captured request as captured and read its stream the way Cline's handlers do."""
    seen: dict = {"text": "", "reasoning": "", "calls": {}, "usage": None, "finish_reason": None}
    headers = {"Authorization": f"Bearer {proxy.key}"} | {k: v for k, v in request["headers"].items() if v}
    with (
        httpx.Client(base_url=proxy.url, timeout=10) as http,
        http.stream(request["method"], request["path"], json=request["body"], headers=headers) as answer,
    ):
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = [line[len("data: ") :] for line in answer.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    for chunk in map(json.loads, lines[:-1]):
        choice = (chunk.get("choices") or [{}])[0]
        delta = choice.get("delta") or {}
        seen["text"] += delta.get("content") or ""
        seen["reasoning"] += delta.get("reasoning_content") or delta.get("reasoning") or ""
        for part in delta.get("tool_calls") or ():
            call = seen["calls"].setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
            call["id"] = part.get("id") or call["id"]
            call["name"] = part.get("function", {}).get("name") or call["name"]
            call["arguments"] += part.get("function", {}).get("arguments") or ""
        seen["finish_reason"] = choice.get("finish_reason") or seen["finish_reason"]
        if chunk.get("usage"):
            usage = chunk["usage"]
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            seen["usage"] = (usage["prompt_tokens"], usage["completion_tokens"], cached)
    return seen


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("turn", [0, 1])
def test_clines_captured_requests_replayed_give_every_field_cline_reads(memory_proxy, memory_provider, client, turn):
    request = fixture(client)["requests"][turn]
    assert request["body"]["stream"] is True and request["body"]["stream_options"] == {"include_usage": True}
    expected = TURNS[turn]
    memory_provider.enqueue(*expected["steps"])
    seen = read_as_cline(memory_proxy, request)
    assert (seen["text"], seen["reasoning"]) == (expected["text"], expected["reasoning"])
    assert (seen["usage"], seen["finish_reason"]) == (expected["usage"], expected["finish_reason"])
    call = expected["tool_call"]
    assert list(seen["calls"].values()) == (
        [{"id": call.id, "name": call.name, "arguments": call.arguments_json}] if call else []
    )
    sent = memory_provider.requests[-1]  # and what the proxy sent on: parts apart, tools, the tool loop's history
    assert sent.messages[1].content == request["body"]["messages"][1]["content"]
    assert [tool["function"]["name"] for tool in sent.tools] == ["read_file"] and sent.temperature == 0
    if turn == 1:
        assistant, result = sent.messages[2:]
        assert [c.id for c in assistant.tool_calls] == ["call_1"] and result.tool_call_id == "call_1"


@pytest.mark.parametrize("client", CLIENTS)
def test_clines_tool_loop_request_reaches_puter_with_its_parts_apart_and_its_history_paired(
    puter_proxy, puter_server, client
):
    request = fixture(client)["requests"][1]
    request = request | {"body": request["body"] | {"model": "echo"}}
    seen = read_as_cline(puter_proxy, request)
    assert seen["text"] and seen["finish_reason"] == "stop"
    (call,) = [r.body["args"] for r in puter_server.state.requests if r.path == "/drivers/call"]
    system, user, assistant, result = call["messages"]
    assert system == request["body"]["messages"][0]
    assert user["content"] == request["body"]["messages"][1]["content"]  # <task> and <environment_details> apart
    assert assistant["tool_calls"][0]["id"] == result["tool_call_id"] == "call_1"
    assert call["tools"] == request["body"]["tools"]


def test_clines_clients_live_through_the_proxy_send_what_the_fixtures_hold_and_read_every_field(
    memory_proxy, memory_provider
):
    assert node_clients_installed(), "Cline's node clients are not installed: run `make node-clients` (make unit does)"
    enqueue_turns(memory_provider, len(CLIENTS))
    ran = run_clients(memory_proxy.url + "/v1", memory_proxy.key)
    for client in CLIENTS:
        assert ran[client]["requests"] == fixture(client)["requests"], f"{client} sends other requests now: recapture"
        for seen, expected in zip(ran[client]["turns"], TURNS, strict=True):
            assert (seen["text"], seen["reasoning"]) == (expected["text"], expected["reasoning"])
            names = [call.get("name") or call.get("function", {}).get("name") for call in seen["tool_calls"]]
            assert names == (["read_file"] if expected["tool_call"] else [])
    node, sdk = ran["openai-node"]["turns"], ran["ai-sdk"]["turns"]
    assert [turn["usage"]["cacheReadTokens"] for turn in node] == [1000, 1200]
    assert [turn["finish_reason"] for turn in node] == ["tool_calls", "stop"]
    assert [turn["usage"]["inputTokenDetails"]["cacheReadTokens"] for turn in sdk] == [1000, 1200]
    assert [turn["finish_reason"] for turn in sdk] == ["tool-calls", "stop"]
    assert all(not turn["errors"] for turn in sdk)
