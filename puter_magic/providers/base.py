"""What every provider offers. The session and the proxy only ever talk to this."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from ..datatypes import ChatRequest, Completion, ModelInfo, ProviderStatus, StreamEvent


@runtime_checkable
class Provider(Protocol):
    """A chat backend: Puter, or an OpenAI-compatible server.

    A provider may say `structured_output = True` when its answers honour `response_format` json_schema by
    themselves; without it, core/structured.py adds the instruction (it validates every answer either way).
    """

    name: str

    @property
    def origin(self) -> str: ...

    async def models(self) -> list[ModelInfo]: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield TextDelta / ReasoningDelta / ToolCall events, then one Finished; raise a PuterError."""
        ...

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def status(self) -> ProviderStatus: ...

    async def aclose(self) -> None: ...
