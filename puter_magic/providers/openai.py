"""Any OpenAI-compatible server: Ollama, vLLM, LM Studio, llama.cpp's llama-server, text-generation-webui, …

The API key is sent only to the configured base URL's origin (one client per endpoint, redirects not
followed); the Puter token is never part of this provider.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..datatypes import (
    ChatRequest,
    Completion,
    Finished,
    ModelInfo,
    ProviderStatus,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)
from ..errors import ConnectionFailed, MalformedStream, PuterError, StreamFailed, StreamTruncated
from ..redact import excerpt, register_secret
from ..wire.decoders import SSEDecoder
from ..wire.transport import Policy, decoded, json_or_text, make_client, open_response, retry_after_of, status_error
from . import openai_wire as wire
from .openai_wire import normalize_base_url


class OpenAIProvider:
    """An OpenAI-compatible chat server at `base_url`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        name: str | None = None,
        policy: Policy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.name = name or urlsplit(self.base_url).netloc
        self._api_key = api_key
        register_secret(api_key)
        self._policy = policy or Policy(first_byte_timeout=300.0, max_retries=2)
        self._client = make_client(self._policy, origins=(self.base_url,), transport=transport)

    def __repr__(self) -> str:
        return f"<OpenAIProvider {self.name} {self.base_url}{' (key set)' if self._api_key else ''}>"

    @property
    def origin(self) -> str:
        return self.base_url

    async def aclose(self) -> None:
        await self._client.aclose()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _error_for(self, response: httpx.Response, body: bytes) -> PuterError:
        data = json_or_text(body)
        message, code = wire.error_fields(data)
        error = status_error(response.status_code, message, code=code, body=data, retry_after=retry_after_of(response))
        return wire.refine(error)

    def _open(self, method: str, path: str, body: Any = None) -> Any:
        return open_response(
            self._client,
            method,
            self.base_url + path,
            policy=self._policy,
            error_for=self._error_for,
            json_body=body,
            headers=self._headers(),
        )

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async with self._open(method, path, body) as response:
                raw = await response.aread()
        except ConnectionFailed as error:
            raise self._unreachable(error) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise MalformedStream(f"{self.base_url}{path} answered with something that is not JSON") from None

    def _unreachable(self, error: ConnectionFailed) -> ConnectionFailed:
        hint = wire.START_HINTS.get(self.name)
        text = f"nothing answers at {self.base_url}" + (f" — is {self.name} running? {hint}" if hint else "")
        return ConnectionFailed(text, hint="check the URL, or start the server")

    async def models(self) -> list[ModelInfo]:
        return wire.parse_models(await self._json("GET", "/models"), self.name)

    async def status(self) -> ProviderStatus:
        try:
            models = await self.models()
        except PuterError as error:
            return ProviderStatus(self.name, self.base_url, reachable=False, error=error.one_line())
        return ProviderStatus(self.name, self.base_url, reachable=True, model_count=len(models))

    async def complete(self, request: ChatRequest) -> Completion:
        data = await self._json("POST", "/chat/completions", wire.chat_body(request, stream=False))
        return wire.parse_completion(data, request.model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        texts: list[str] = []
        finish_reason: str | None = None
        usage: Usage | None = None
        model = request.model
        calls = wire.ToolCallDeltas()
        try:
            async with self._open("POST", "/chat/completions", wire.chat_body(request, stream=True)) as response:
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    completion = wire.parse_completion(json.loads(await response.aread()), request.model)
                    yield TextDelta(completion.text)
                    for call in completion.tool_calls:
                        yield call
                    yield Finished(completion.usage, completion.finish_reason, completion.model)
                    return
                async with aclosing(decoded(response, SSEDecoder(), self._policy, texts)) as reads:
                    async for events in reads:
                        for event in events:  # no generator layer inside: this loop runs once per token
                            if event.data == "[DONE]":
                                for call in calls.calls():
                                    yield call
                                yield Finished(usage or Usage(), finish_reason, model)
                                return
                            try:
                                chunk = json.loads(event.data)
                            except ValueError:
                                shown = excerpt(event.data)
                                raise MalformedStream(f"malformed event: {shown}", partial="".join(texts)) from None
                            if not isinstance(chunk, dict):
                                continue
                            if "error" in chunk:
                                raise StreamFailed(wire.error_fields(chunk)[0], partial="".join(texts))
                            if chunk.get("usage"):
                                usage = wire.parse_usage(chunk["usage"])
                            for choice in chunk.get("choices") or ():
                                delta = choice.get("delta") or {}
                                content = delta.get("content")
                                if content:
                                    texts.append(content)
                                    yield TextDelta(content)
                                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                                if reasoning:
                                    yield ReasoningDelta(str(reasoning))
                                if delta.get("tool_calls"):
                                    calls.feed(delta["tool_calls"])
                                if choice.get("finish_reason"):
                                    finish_reason = choice["finish_reason"]
                                    model = str(chunk.get("model") or model)
        except ConnectionFailed as error:
            raise self._unreachable(error) from None
        if finish_reason is None:
            partial = "".join(texts)
            raise StreamTruncated("the stream ended before the server said the answer was complete", partial=partial)
        for call in calls.calls():
            yield call
        yield Finished(usage or Usage(), finish_reason, model)  # servers such as transformers serve send no [DONE]
