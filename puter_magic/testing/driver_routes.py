"""Driver and model routes (API host): ``POST /drivers/call``, ``GET /drivers/list-interfaces``,
``GET /puterai/chat/models`` and ``/puterai/chat/models/details``. The other AI drivers live in ai_drivers.py."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from puter_magic.testing import ai_drivers
from puter_magic.testing.chat_messages import BadRequest, normalize_messages
from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.faults import STREAM_FAULT_KINDS
from puter_magic.testing.gates import authenticate, read_json_body, require_verified
from puter_magic.testing.models import MODELS, ZERO_ID, ChatModel, GenerationRequest, find_model, public_models
from puter_magic.testing.payloads import INTERFACES
from puter_magic.testing.responses import ApiError, json_response
from puter_magic.testing.streaming import NDJSONStreamResponse, StreamPlan, pause, stream_body
from puter_magic.testing.tool_models import find_scripted_model
from puter_magic.testing.users import User

CHAT_INTERFACE = "puter-chat-completion"
CHAT_METHODS = ("complete", "models", "list")
# [B] registered each provider name as an alias of ai-chat; accepted in permissive and v1 mode.
LEGACY_CHAT_DRIVERS = frozenset(
    [
        "claude",
        "deepseek",
        "fake-chat",
        "gemini",
        "groq",
        "mistral",
        "ollama",
        "openai-completion",
        "openai-responses",
        "openrouter",
        "together-ai",
        "xai",
    ]
)
SERVICE = {"name": "ai-chat"}
USAGE_LIMIT_TEXT = "You have reached your AI usage limit for this account."


def _client_gone() -> Response:
    return Response(status_code=499)  # nobody is listening any more; uvicorn discards it


def _js_string(value: Any) -> str:
    """How a JavaScript template literal would print an argument."""
    if value is None:
        return "undefined"
    if isinstance(value, str):
        return value
    return json.dumps(value)


async def drivers_call(request: Request, state: FakePuter) -> Response:
    body = await read_json_body(request)
    user, _ = authenticate(state, request, body)  # auth gates run before the driver looks at the body
    require_verified(user)
    try:
        return await _dispatch(request, state, user, body)
    except ApiError as error:
        if state.settings.v1_mode:
            return json_response(error.v1_envelope())
        raise


def _check_driver(state: FakePuter, interface: str, driver: Any) -> None:
    if interface not in INTERFACES:
        named = "(no default)" if driver is None else _js_string(driver)
        raise ApiError(
            404,
            f"Driver not found: {interface}:{named}",
            "not_found",
            v1={"code": "no_implementation_available", "status": 502},
        )
    legacy = state.settings.permissive or state.settings.v1_mode
    if driver is None or driver in INTERFACES[interface]["drivers"]:
        return
    if interface == CHAT_INTERFACE and legacy and driver in LEGACY_CHAT_DRIVERS:
        return
    message = f"Driver not found: {interface}:{_js_string(driver)}"
    v1_message = f"No implementation available for interface `{interface}`."
    v1 = {"message": v1_message, "code": "no_implementation_available", "status": 502}
    raise ApiError(404, message, "not_found", v1=v1)


async def _dispatch(request: Request, state: FakePuter, user: User, body: dict[str, Any]) -> Response:
    interface, method = body.get("interface"), body.get("method")
    if not isinstance(interface, str) or not interface:
        raise ApiError(400, "Missing or invalid `interface`", "bad_request")
    if not isinstance(method, str) or not method:
        raise ApiError(400, "Missing or invalid `method`", "bad_request")
    driver = body.get("driver")
    if driver is None and (state.settings.permissive or state.settings.v1_mode):
        driver = body.get("service")  # [A]/[B] read `driver ?? service`
    _check_driver(state, interface, driver)
    if interface in ai_drivers.SERVICES:
        args = body.get("args")
        return ai_drivers.call_driver(state, user, interface, driver, method, args if isinstance(args, dict) else {})
    if interface != CHAT_INTERFACE:
        message = f"The local Puter server implements only {CHAT_INTERFACE}, not {interface}."
        raise ApiError(501, message, "not_implemented")
    if method not in CHAT_METHODS:
        raise ApiError(404, f"Method '{method}' not found on driver '{interface}'", "not_found")
    if method == "models":
        return json_response({"success": True, "result": [m.to_json() for m in MODELS], "service": SERVICE})
    if method == "list":
        return json_response({"success": True, "result": sorted(m.id for m in MODELS), "service": SERVICE})
    args = body.get("args")
    return await _complete(request, state, user, args if isinstance(args, dict) else {})


def _model_not_found(state: FakePuter, name: Any) -> ApiError:
    got = _js_string(name)
    expected = f"a valid model name from {state.api_origin}/puterai/chat/models"
    v1_message = f'Field "model" is invalid. Expected {expected}. Got {got}.'
    v1 = {"message": v1_message, "code": "field_invalid", "key": "model", "expected": expected, "got": got}
    return ApiError(400, f"Model not found: {got}", "bad_request", v1=v1)


async def _complete(request: Request, state: FakePuter, user: User, args: dict[str, Any]) -> Response:
    model = find_model(args.get("model")) or find_scripted_model(args.get("model"))
    if model is None:
        raise _model_not_found(state, args.get("model"))
    if args.get("tools") is not None and not isinstance(args["tools"], list):
        raise ApiError(500, "Internal Server Error", "internal_error")  # Puter's tool normaliser crashes (111)
    settings = state.settings
    stream = bool(args.get("stream"))
    try:
        messages = normalize_messages(args.get("messages"))
        job = GenerationRequest(
            messages, args.get("messages"), args, state.rng, settings.slow_chunks, settings.slow_rate, state.script
        )
        generation = model.generate(job)
    except BadRequest as error:
        raise ApiError(400, str(error), "bad_request") from None
    if not state.has_credit(user, model.cost(generation.input_tokens, 0)):
        if settings.v1_mode:
            return _usage_limited(state, request, stream)
        headers = {"X-Needs-Upgrade": "true"}
        raise ApiError(402, "No usage left for request.", "insufficient_funds", headers=headers)
    fault = state.faults.take(request.url.path, STREAM_FAULT_KINDS if stream else {"stall"})
    state.charge(user, model, generation)  # charged up front: a cancelled stream still costs its estimate
    if await pause(request, settings.latency):
        return _client_gone()
    if fault is not None and fault.kind == "stall" and (fault.after == 0 or not stream):
        if await pause(request, fault.seconds):  # before the response headers
            return _client_gone()
        fault = None
    if not stream:
        if generation.rate > 0 and await pause(request, (len(generation.chunks) - 1) / generation.rate):
            return _client_gone()
        return json_response(_envelope(model, model.result(generation)))
    tail = model.stream_tail(generation)
    if settings.v1_mode:  # [A] streams had no usage line
        tail = [line for line in tail if line["type"] != "usage"]
    plan = StreamPlan(
        generation.chunks, tail, generation.rate, max(1, settings.stream_batch), fault, model.id, request.url.path
    )
    return NDJSONStreamResponse(stream_body(state, plan))


def _envelope(model: ChatModel, result: dict[str, Any]) -> dict[str, Any]:
    metadata = {"service_used": model.provider, "providerUsed": model.id}
    return {"success": True, "result": result, "service": SERVICE, "metadata": metadata}


def _usage_limited(state: FakePuter, request: Request, stream: bool) -> Response:
    """[A]-era answer to a user without credit: a successful completion that says so."""
    if stream:
        lines: list[dict[str, Any]] = [
            {"type": "content_block_start", "index": 0},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text", "text": USAGE_LIMIT_TEXT}},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_stop", "stop_reason": "end_turn"},
        ]
        plan = StreamPlan((), lines, model="usage-limited", path=request.url.path)
        return NDJSONStreamResponse(stream_body(state, plan))
    usage = {"input_tokens": 0, "output_tokens": 1}
    message = {
        "id": ZERO_ID,
        "type": "message",
        "role": "assistant",
        "model": "usage-limited",
        "content": [{"type": "text", "text": USAGE_LIMIT_TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    result = {"index": 0, "message": message, "usage": usage, "logprobs": None, "finish_reason": "stop"}
    metadata = {"service_used": "usage-limited-chat", "usage_limited": True}
    return json_response({"success": True, "service": SERVICE, "result": result, "metadata": metadata})


async def list_interfaces(request: Request, state: FakePuter) -> Response:
    user, _ = authenticate(state, request, {})
    require_verified(user)
    return json_response(INTERFACES)


async def chat_models(request: Request, state: FakePuter) -> Response:
    models = [] if state.settings.self_hosted else public_models()
    return json_response({"models": sorted(model.id for model in models)})


async def chat_models_details(request: Request, state: FakePuter) -> Response:
    models = [] if state.settings.self_hosted else public_models()
    return json_response({"models": [model.to_json() for model in models]})
