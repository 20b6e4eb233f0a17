"""The kernel-wide Session: settings, the active provider and model, conversations, and the public API.

One Session serves the magics, the panel and user code alike, so a change made in one shows in the others.
Network work runs on the private loop thread; conversations change only when an answer has arrived.

    import puter_magic
    puter_magic.chat("Hello")                 # sync, anywhere
    await puter_magic.achat("Hello")          # from a notebook's top-level await
    for piece in puter_magic.stream("Hello"): print(piece, end="")
    reply = puter_magic.session().ask("Hello")   # what each of those reads: a Reply (core/reply.py)

The provider, model and account half of a Session is core/provider_choice.py's; `chat` and the other module-level
functions are core/public.py's, over the shared `session()` made here.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Settings
from ..datatypes import ChatRequest, ModelInfo, check_numbers, content_text
from ..errors import InputError, PuterError
from ..providers.base import Provider
from ..providers.registry import PUTER, ProviderRegistry
from ..redact import configure_logging, logger
from .autosave import Autosave
from .conversation import Conversations, Turn, message_tokens
from .first_session import session_made
from .fitting import DEFAULT_WINDOW, Windows
from .image_codec import image_parts
from .loop import LoopThread, default_loop, once
from .media_models import refuse_blind_model
from .provider_choice import ProviderChoice
from .reply import Answering, Reply
from .structured import StructuredReply, Wanted, honours_schemas, instructed

DEFAULT_BUDGET = DEFAULT_WINDOW


class Session(ProviderChoice):
    """Everything one notebook (or script) shares: see the module docstring."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        provider: Provider | None = None,
        loop: LoopThread | None = None,
    ) -> None:
        configure_logging(os.environ.get("PUTER_LOG_LEVEL"))
        self.settings = settings if settings is not None else Settings.load()
        self.loop = loop if loop is not None else default_loop()
        self.registry = ProviderRegistry(self.settings)
        self.provider_name = PUTER
        if provider is not None:
            self.registry.adopt(provider)
            self.provider_name = provider.name
        self.model: str | None = self.settings.model
        self._model_of: dict[str, str | None] = {}
        self.temperature: float | None = None
        self.max_tokens: int | None = None
        self.context_tokens: int | None = None  # the window to trim threads to, whatever the server says
        self.windows = Windows()  # the windows requests are trimmed to, and those overflows showed
        self.conversations = Conversations()
        self._autosaver: Autosave | None = None
        self._models: dict[str, list[ModelInfo]] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[str], None]] = []
        self.answering = Answering(self.notify)

    # --- conversations ----------------------------------------------------------------------------

    def ask(
        self,
        prompt: str | list[dict[str, Any]],
        *,
        stream: bool = True,
        held: bool = False,
        model: str | None = None,
        thread: str | None = None,
        system: str | None = None,
        key: str | None = None,
        history: bool = True,
        new: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop_sequences: tuple[str, ...] | None = None,
        extra: dict[str, Any] | None = None,
        provider: str | None = None,
        context: int | None = None,
        schema: Any = None,
    ) -> Reply:
        """The Reply to `prompt`, built from the thread's history; nothing is sent until it is read.

        Sent: the thread's system prompt and earlier turns (the newest that fit the model's context), then `prompt`;
        the answer becomes the thread's next turn when it completes (replacing the turn of the same `key`).
        `history=False` sends `prompt` alone (with `system`, if given) and keeps nothing. `new` and `system` change
        the thread only along with that turn, so a failure (a PuterError) leaves it byte for byte as it was.
        `stream=False` asks for the whole answer at once. `held=True` is for a caller that owns many replies (a
        batch): it records each with `reply.keep()`, and its own Stop ends them (stop() does not see them).
        `context` is the window to trim to, in tokens, whatever the server says (core/fitting.py says which
        window is used otherwise, and how a server's "too long" is retried once, trimmed).
        `schema` (a dataclass, TypedDict, pydantic model, `list[…]` of one, or a JSON-schema dict) asks for JSON that
        fits it: a StructuredReply (core/structured.py), checked, asked again once, its `value` of that type.
        """
        temperature = temperature if temperature is not None else self.temperature
        max_tokens = max_tokens if max_tokens is not None else self.max_tokens
        check_numbers(temperature=temperature, top_p=top_p, max_tokens=max_tokens)  # before the trimming reads them
        provider_name = self.registry.resolve(provider) if provider else self.provider_name
        default = self.model if provider_name == self.provider_name else self._model_of.get(provider_name)
        chosen = (model or default or "").strip()
        if not chosen:
            raise InputError("no model chosen", hint="pick one with `%puter model NAME` or `%%puter -m NAME`")
        images = len(image_parts(prompt))
        if not content_text(prompt).strip() and not images:
            raise InputError("the prompt is empty", hint="write the question in the cell, under %%puter")
        with self._lock:
            name = thread or self.conversations.active
            info = self.model_info(chosen, provider_name)
            earlier = self.conversations.context(name, key=key) if history and not new else []
            if images or any(image_parts(turn.prompt) for turn in earlier):
                refuse_blind_model(chosen, info, self.known_models(provider_name))
            source = self.conversations if history else Conversations()
            wanted = Wanted.of(schema) if schema is not None else None
            instruct = wanted is not None and not honours_schemas(self.registry.get(provider_name))
            sent = instructed(prompt, wanted) if wanted is not None and instruct else prompt
            head, turns, last = source.parts(sent, name, key=key, new=new, system=system)
            fitting = self.windows.fitting(
                self.registry.get(provider_name),
                chosen,
                info,
                (head, turns, last),
                override=context if context is not None else self.context_tokens,
                reserve=max_tokens,
            )
            messages = fitting.messages()
        request = ChatRequest(
            tuple(messages),
            chosen,
            temperature=temperature,
            max_tokens=max_tokens,
            top_p=top_p,
            seed=seed,
            stop=stop_sequences,
            extra=extra or {},
            response_format=wanted.response_format() if wanted else None,
        )
        record = functools.partial(self._keep, prompt=prompt, key=key, new=new, system=system) if history else None
        structured: dict[str, Any] = {"wanted": wanted} if wanted else {}
        return (StructuredReply if wanted else Reply)(
            request,
            self.registry.get(provider_name),
            self.loop,
            streamed=stream,
            thread=name if history else None,
            record=record,
            held=held,
            tracking=None if held else self.answering.tracking,
            fitting=fitting,
            **structured,
        )

    def window(self, model: str | None = None, provider: str | None = None) -> tuple[int, str]:
        """(tokens, where that came from) of the window a request to `model` is trimmed to, without asking the
        server; the source is "override", "learned", "server" or "default" (core/fitting.py)."""
        name = self.registry.resolve(provider) if provider else self.provider_name
        chosen = model or (self.model if name == self.provider_name else self._model_of.get(name)) or ""
        info = self.model_info(chosen, name) if chosen else None
        return self.windows.choose(self.registry.get(name), chosen, info, self.context_tokens)

    def thread_tokens(self, thread: str | None = None) -> int:
        """The estimated tokens the thread's system prompt and turns cost in a request."""
        with self._lock:
            head, turns, _ = self.conversations.parts("", thread)
            return sum(map(message_tokens, head)) + sum(turn.tokens() for turn in turns)

    def chat(self, prompt: str, **options: Any) -> Any:
        """Ask and wait for the whole answer; returns an Answer (text, model, provider, thread, usage).

        Sends what ask() sends (the thread's history unless `history=False`), with the same options, and keeps the
        answer as the thread's next turn. A failure raises a PuterError and leaves the thread as it was.
        With `schema=Person` (or `list[Person]`, a TypedDict, a pydantic model, a JSON-schema dict) it returns the
        answer as that type instead — `Person(name=…, age=…)` — or raises a one-line SchemaMismatch keeping the text;
        `ask(…, schema=…)` gives the StructuredReply, with `value` and the Answer's details.
        """
        if options.get("tools"):  # a question answered with tools: core/tool_ask.py
            from .tool_ask import ask_with_tools

            return ask_with_tools(self, prompt, stream=False, **options).answer()
        return finished(self.ask(prompt, stream=False, **options).wait())

    def _keep(
        self, reply: Reply, *, prompt: str | list[dict[str, Any]], key: str | None, new: bool, system: str | None
    ) -> None:
        """A Reply's `record`: its turn joins its thread, with the request's `new` and `system`; autosaved."""
        thread = reply.thread or self.conversations.active
        turn = Turn(prompt, reply.text(), key, reply.model, reply.provider, reply.usage, reply.interrupted)
        steps = getattr(reply, "steps", ())  # a ToolLoop's exchange: its calls and their results, kept as one turn
        if steps:
            turn = dataclasses.replace(turn, steps=tuple(steps))
        with self._lock:
            if new:
                self.conversations.new(thread)
            if system is not None:
                self.conversations.set_system(system, thread)
            self.conversations.record(turn, thread)
            self._autosave()
        self.notify("history")

    @property
    def autosave(self) -> Path | None:
        """The file the conversations are saved to after each answer (see start_autosave)."""
        return self._autosaver.path if self._autosaver is not None else None

    def start_autosave(self, path: Path | None) -> str | None:
        """Save the conversations to `path` after each answer from now on (None: stop); see core/autosave.py.

        What the file holds is read first and this session's turns are added to it; returns the line that says so
        ("resumed 2 threads, 5 turns from …") or None. A file that is no conversation save raises InputError.
        """
        with self._lock:
            saver = self._autosaver
            if path is None or (saver is not None and saver.path == path and saver.unchanged()):
                self._autosaver = saver if path is not None else None
                return None
            saver, conversations, line = Autosave.start(path, self.conversations)
            self.conversations, self._autosaver = conversations, saver
        self.notify("history")
        return line

    def _autosave(self) -> None:
        """Write the conversations to the autosave file; a failure is logged, the turn is kept in memory."""
        if self._autosaver is None:
            return
        try:
            self._autosaver.save(self.conversations)
        except PuterError as error:
            logger.warning("autosave: %s", error.one_line())

    def stop(self) -> int:
        """End every reply this session is receiving (the panel's Stop); returns how many there were.

        Each keeps the part that arrived, flagged as interrupted in the history. Safe from any thread.
        """
        return self.answering.stop_all()

    # --- observers (the panel listens) ------------------------------------------------------------

    def on_change(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(topic)` when the model, login, models, history or provider change."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def notify(self, topic: str) -> None:
        """Tell the listeners that `topic` changed (for changes made directly on `conversations` and the like)."""
        for callback in list(self._listeners):
            callback(topic)

    def close(self) -> None:
        for provider in self.registry.created():
            self.loop.run(provider.aclose())
        self.registry = ProviderRegistry(self.settings)


def finished(reply: Reply) -> Any:
    """What chat() returns for a Reply that has been read: the typed value of a structured one, else its Answer."""
    if not isinstance(reply, StructuredReply):
        return reply.answer()
    if reply.interrupted:
        raise InputError("stopped before the structured answer was complete: no value, nothing kept")
    return reply.value


def _first_session() -> Session:
    made = Session()
    session_made(made)
    return made


_session = once(_first_session)


def session() -> Session:
    """The process-wide Session the magics, the panel and the module-level functions share."""
    return _session()
