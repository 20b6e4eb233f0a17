"""Any OpenAI-compatible server: Ollama, vLLM, LM Studio, llama.cpp's llama-server, text-generation-webui, …

The API key is sent only to the configured base URL's origin (one client per endpoint, redirects not
followed); the Puter token is never part of this provider.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
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
from ..errors import APIError, ConnectionFailed, MalformedStream, PuterError, StreamFailed, StreamTruncated
from ..redact import excerpt, register_secret
from ..wire.decoders import SSEDecoder
from ..wire.sending import attempts_of, open_response
from ..wire.transport import Policy, decoded, make_client, read_to_end
from . import openai_wire as wire
from . import windows
from .openai_wire import normalize_base_url
from .server_errors import context_overflow, overflow_error, without_internals

TOKEN_CACHE = 512  # texts whose /tokenize count is remembered (most recent first)


class OpenAIProvider:
    """An OpenAI-compatible chat server at `base_url`."""

    structured_output = True  # it honours response_format json_schema (llama.cpp constrains by grammar)

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
        self.root = self.base_url.removesuffix("/v1")  # llama.cpp's /props and /tokenize, Ollama's /api/show
        self._windows: dict[str, int | None] = {}
        self._token_counts: OrderedDict[str, int] = OrderedDict()
        self._can_tokenize: bool | None = None  # None: not asked yet

    def __repr__(self) -> str:
        return f"<OpenAIProvider {self.name} {self.base_url}{' (key set)' if self._api_key else ''}>"

    @property
    def origin(self) -> str:
        return self.base_url

    async def aclose(self) -> None:
        await self._client.aclose()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _open(self, method: str, path: str, body: Any = None, *, root: bool = False) -> Any:
        return open_response(
            self._client,
            method,
            (self.root if root else self.base_url) + path,
            policy=self._policy,
            error_for=functools.partial(wire.error_from, server=self.base_url),
            json_body=body,
            headers=self._headers(),
        )

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        return (await self._counted_json(method, path, body))[0]

    async def _counted_json(self, method: str, path: str, body: Any = None) -> tuple[Any, int]:
        """The answer's JSON and the number of attempts it took."""
        try:
            async with self._open(method, path, body) as response:
                raw = await response.aread()
                try:
                    return json.loads(raw), attempts_of(response)
                except ValueError:
                    text = f"{self.base_url}{path} answered with something that is not JSON"
                    raise MalformedStream(text) from None
        except ConnectionFailed as error:
            raise self._unreachable(error) from None

    def _unreachable(self, error: ConnectionFailed) -> ConnectionFailed:
        hint = wire.START_HINTS.get(self.name)
        text = f"nothing answers at {self.base_url}" + (f" — is {self.name} running? {hint}" if hint else "")
        unreachable = ConnectionFailed(text, hint="check the URL, or start the server")
        unreachable.attempts = error.attempts
        return unreachable

    async def _probe(self, method: str, path: str, body: Any = None, *, root: bool = True) -> Any:
        """The JSON at `path` (below the server's root, or its base URL), or None when the server has no such
        endpoint or fails there."""
        try:
            async with self._open(method, path, body, root=root) as response:
                return json.loads(await response.aread())
        except (APIError, ConnectionFailed, MalformedStream, ValueError):
            return None

    async def context_window(self, model: str) -> int | None:
        """The model's context window in tokens, from wherever the server says it (windows.py); asked once per
        model, None when the server does not say."""
        if model not in self._windows:
            window = windows.from_models_list(await self._probe("GET", "/models", root=False), model)
            for probe in windows.PROBES:
                if window:
                    break
                if probe == "props":
                    window = windows.from_props(await self._probe("GET", "/props"))
                elif probe == "ollama":
                    window = windows.from_ollama_show(await self._probe("POST", "/api/show", {"model": model}))
                else:
                    window = windows.from_models_list(await self._probe("GET", "/api/v0/models"), model)
            self._windows[model] = window
        return self._windows[model]

    def known_window(self, model: str) -> int | None:
        """The window context_window() found for `model`, if it was asked already (no request)."""
        return self._windows.get(model)

    async def count_tokens(self, text: str) -> int | None:
        """`text` in the server's own tokens (llama.cpp's /tokenize), remembered; None when the server cannot say."""
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        if key in self._token_counts:
            self._token_counts.move_to_end(key)
            return self._token_counts[key]
        if self._can_tokenize is False:
            return None
        answer = await self._probe("POST", "/tokenize", {"content": text})
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        self._can_tokenize = isinstance(tokens, list)
        if not isinstance(tokens, list):
            return None
        self._token_counts[key] = len(tokens)
        if len(self._token_counts) > TOKEN_CACHE:
            self._token_counts.popitem(last=False)
        return len(tokens)

    async def models(self) -> list[ModelInfo]:
        return wire.parse_models(await self._json("GET", "/models"), self.name)

    async def status(self) -> ProviderStatus:
        try:
            models = await self.models()
        except PuterError as error:
            return ProviderStatus(self.name, self.base_url, reachable=False, error=error.one_line())
        return ProviderStatus(self.name, self.base_url, reachable=True, model_count=len(models))

    async def complete(self, request: ChatRequest) -> Completion:
        data, attempts = await self._counted_json("POST", "/chat/completions", wire.chat_body(request, stream=False))
        return replace(wire.parse_completion(data, request.model), attempts=attempts)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        texts: list[str] = []
        finish_reason: str | None = None
        usage: Usage | None = None
        model = request.model
        calls = wire.ToolCallDeltas()
        try:
            async with self._open("POST", "/chat/completions", wire.chat_body(request, stream=True)) as response:
                attempts = attempts_of(response)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    completion = wire.parse_completion(json.loads(await response.aread()), request.model)
                    yield TextDelta(completion.text)
                    for call in completion.tool_calls:
                        yield call
                    yield Finished(completion.usage, completion.finish_reason, completion.model, attempts)
                    return
                async with aclosing(decoded(response, SSEDecoder(), self._policy, texts)) as reads:
                    async for events in reads:
                        done = False
                        for event in events:  # no generator layer inside: this loop runs once per token
                            if event.data == "[DONE]":
                                done = bool(finish_reason is not None or texts or calls.calls())
                                break  # nothing but [DONE] is LM Studio's way of failing; see below
                            try:
                                chunk = json.loads(event.data)
                            except ValueError:
                                shown = excerpt(event.data)
                                raise MalformedStream(f"malformed event: {shown}", partial="".join(texts)) from None
                            if not isinstance(chunk, dict):
                                continue
                            if "error" in chunk:
                                raise self._stream_error(chunk, "".join(texts))
                            model = chunk.get("model") or model  # the model that answers, whatever was asked
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
                        if done:
                            await read_to_end(reads)
                            for call in calls.calls():
                                yield call
                            yield Finished(usage or Usage(), finish_reason, str(model), attempts)
                            return
        except ConnectionFailed as error:
            raise self._unreachable(error) from None
        if finish_reason is None and not texts and not calls.calls():
            # An empty stream that just ends (llama-cpp-python) or holds only [DONE] (LM Studio) is how these
            # servers fail, say on a context overflow.
            # The same request once more, not streamed, gets the server's reason (or the answer it can give).
            completion = await self.complete(request)
            yield TextDelta(completion.text)
            for call in completion.tool_calls:
                yield call
            yield Finished(completion.usage, completion.finish_reason, completion.model)
            return
        if finish_reason is None:
            partial = "".join(texts)
            raise StreamTruncated("the stream ended before the server said the answer was complete", partial=partial)
        for call in calls.calls():
            yield call
        # servers such as transformers serve send no [DONE]
        yield Finished(usage or Usage(), finish_reason, str(model), attempts)

    @staticmethod
    def _stream_error(chunk: dict[str, Any], partial: str) -> PuterError:
        """An in-band `{"error": …}` event: a ContextOverflow before any text, else StreamFailed; no internals."""
        message, code = wire.error_fields(chunk)
        message = without_internals(message)
        overflow = context_overflow(message, code, chunk)
        if overflow is not None and not partial:
            return overflow_error(message, overflow, code=code, body=chunk)
        return StreamFailed(message, partial=partial)
