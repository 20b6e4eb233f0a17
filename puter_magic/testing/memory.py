"""A provider that lives in memory, for tests that are about what happens above the wire: no socket, no server.

Each request takes the next reply a test enqueued; a reply is a list of steps, played in order::

    memory = MemoryProvider()
    memory.enqueue("Hello, ", "world")                        # two text chunks, then Finished
    memory.enqueue(ReasoningDelta("hmm"), "42", Usage(3, 1))  # reasoning, text; Usage goes into Finished
    memory.enqueue("half an ans", StreamFailed("cut", partial="half an ans"))  # an error after some text
    memory.enqueue(ServerError("down"))                       # an error before any text
    memory.enqueue("Let me look.", ToolCall("c1", "weather", {"city": "Oslo"}))
    gate = Gate()
    memory.enqueue("first ", gate, "never")                   # waits at the gate until the test releases it

    session = Session(settings, provider=memory)               # or registry.adopt(memory)
    memory.requests[-1].messages                                # what the session sent

A request with nothing enqueued is answered by `otherwise(request)` (by default `echo`: the last user message).
`complete()` plays the same steps and returns what they add up to. Safe to script from the test's thread while
the session's loop thread plays the replies.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from ..datatypes import (
    ChatRequest,
    Completion,
    Finished,
    ModelInfo,
    ProviderStatus,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from ..errors import PuterError

MEMORY = "memory"
MEMORY_MODELS = (ModelInfo("memory-model", MEMORY, "Memory model", context=8192), ModelInfo("other-model", MEMORY))


class Gate:
    """A point in a reply where it waits until the test calls `release()` (from any thread).

    `arrived(n)` waits (boundedly) until `n` replies have reached it, and their text before the gate has been handed
    on; a reply cancelled while it waits (Stop, Ctrl-C) is counted in `cancelled`. Never released, it holds
    the replies until they are cancelled, or for `timeout` seconds: then they fail with GateTimeout, so a test
    whose Stop does not work fails instead of hanging.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._condition = threading.Condition()
        self._released = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.waiting = 0  # replies waiting here now
        self.arrivals = 0  # replies that ever reached the gate
        self.cancelled = 0

    def release(self) -> None:
        with self._condition:
            self._released = True
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def arrived(self, count: int = 1, timeout: float = 10.0) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self.arrivals >= count, timeout)

    def wait_cancelled(self, count: int = 1, timeout: float = 10.0) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self.cancelled >= count, timeout)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        with self._condition:
            if self._released:
                return
            self._waiters.append((loop, event))
        loop.call_soon(self._arrive)  # after the hand-off of the text yielded before the gate, scheduled earlier
        try:
            await asyncio.wait_for(event.wait(), self.timeout)
        except asyncio.TimeoutError:
            raise GateTimeout(f"the gate was not released within {self.timeout} s") from None
        except asyncio.CancelledError:
            with self._condition:
                self.cancelled += 1
                self._condition.notify_all()
            raise
        finally:
            with self._condition:
                self.waiting -= 1

    def _arrive(self) -> None:
        with self._condition:
            self.waiting += 1
            self.arrivals += 1
            self._condition.notify_all()


class GateTimeout(RuntimeError):
    """A reply waited at a Gate longer than its timeout."""


Step = str | TextDelta | ReasoningDelta | ToolCall | Usage | Finished | PuterError | Gate


@dataclass(frozen=True)
class Received:
    """One request as the provider received it: `method` is "stream" or "complete"."""

    method: str
    request: ChatRequest


def echo(request: ChatRequest) -> list[Step]:
    """The default answer to a request nothing was enqueued for: the text of its last user message."""
    users = [message for message in request.messages if message.role == "user"]
    return [users[-1].text if users else ""]


class MemoryProvider:
    """A Provider whose replies a test scripts with `enqueue()`; see the module docstring."""

    def __init__(
        self,
        name: str = MEMORY,
        *,
        models: Sequence[ModelInfo] = MEMORY_MODELS,
        otherwise: Callable[[ChatRequest], Sequence[Step]] = echo,
        structured_output: bool = False,
    ) -> None:
        self.name = name
        self.structured_output = structured_output  # like Puter by default: answers are not made to fit a schema
        self.model_list = list(models)
        self.otherwise = otherwise
        self.received: list[Received] = []
        self.closed = False
        self._replies: deque[tuple[Step, ...]] = deque()
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"memory://{self.name}"

    # --- scripting ---------------------------------------------------------------------------------------

    def enqueue(self, *steps: Step) -> None:
        """Add one reply: its steps are played in order when a request takes it (the first enqueued first)."""
        for step in steps:
            if not isinstance(step, _STEP_TYPES):
                raise TypeError(f"a reply step is text, a stream event, Usage, a PuterError or a Gate, not {step!r}")
        with self._lock:
            self._replies.append(steps)

    @property
    def pending(self) -> int:
        """How many enqueued replies no request has taken yet."""
        with self._lock:
            return len(self._replies)

    @property
    def requests(self) -> list[ChatRequest]:
        return [received.request for received in self.received]

    def _take(self, method: str, request: ChatRequest) -> Sequence[Step]:
        with self._lock:
            self.received.append(Received(method, request))
            if self._replies:
                return self._replies.popleft()
        return self.otherwise(request)

    # --- the Provider protocol ---------------------------------------------------------------------------

    async def models(self) -> list[ModelInfo]:
        return list(self.model_list)

    async def status(self) -> ProviderStatus:
        return ProviderStatus(self.name, self.origin, True, model_count=len(self.model_list))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async for event in _play(self._take("stream", request), request):
            yield event

    async def complete(self, request: ChatRequest) -> Completion:
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        finished = Finished()
        async for event in _play(self._take("complete", request), request):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, ToolCall):
                calls.append(event)
            else:
                finished = event
        model = finished.model or request.model
        return Completion(
            "".join(text), model, finished.usage, finished.finish_reason, "".join(reasoning), tuple(calls)
        )

    async def aclose(self) -> None:
        self.closed = True


_STEP_TYPES = (str, TextDelta, ReasoningDelta, ToolCall, Usage, Finished, PuterError, Gate)


async def _play(steps: Sequence[Step], request: ChatRequest) -> AsyncIterator[StreamEvent]:
    """The stream events of one reply; ends with one Finished (the reply's own, or one made from its Usage)."""
    usage = Usage()
    called = False
    for step in steps:
        if isinstance(step, Gate):
            await step.wait()
        elif isinstance(step, PuterError):
            raise step
        elif isinstance(step, Usage):
            usage = step
        elif isinstance(step, Finished):
            yield step
            return
        else:
            called = called or isinstance(step, ToolCall)
            yield TextDelta(step) if isinstance(step, str) else step
    yield Finished(usage, "tool_calls" if called else "stop", request.model)
