"""Structured answers: JSON that fits a schema, whichever surface asks and whatever the provider does with it.

    wanted = Wanted.of(list[Person])             # a type, or a JSON-schema dict (the proxy: from_response_format())
    reply = StructuredReply(request, provider, loop, wanted=wanted)    # what Session.ask(schema=…) returns
    reply.wait().value                           # [Person(…), …]; reply.asked: 1, or 2 after the retry

The rule is the same for `chat(schema=)`, `%%puter --schema`, `batch(schema=)` and the proxy:
- the request carries `response_format` json_schema (an OpenAI-compatible server honours it — llama.cpp constrains
  its output with a grammar; Puter forwards it as `text.format` / `outputFormat` to the models that read it), and,
  where the provider does not honour it (`structured_output` is False: Puter), the instruction in the prompt too;
- the answer's JSON (a fenced block, or the whole text) is checked here and converted to the type asked for;
- an answer that does not fit is asked again once, with what was wrong; a second misfit is a one-line
  SchemaMismatch that keeps the text (`error.text`);
- the Reply's text arrives only once it has been checked (a streamed answer is held until then), and only the
  answer that fits is recorded, as the turn of the prompt asked: the retry leaves no turn of its own, and a failure
  leaves the conversation byte for byte as it was. The usage of both requests is added up.

A schema whose root is not an object (`list[Person]`) is sent wrapped as `{"items": …}` (OpenAI's json_schema wants
an object at the root); either form is accepted back.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..datatypes import ChatRequest, Finished, Message, StreamEvent, TextDelta, Usage
from ..errors import InputError, SchemaMismatch
from .formats import first_code_block
from .reply import Reply
from .schemas import Schema, type_name, type_schema
from .validate import check, convert, parse_json, show

WRAPPER = "items"
_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_SPEC = re.compile(r"^\s*(?:(?P<outer>list|List)\s*\[\s*(?P<inner>[A-Za-z_][\w.]*)\s*\]|(?P<bare>[A-Za-z_][\w.]*))\s*$")


@dataclass(frozen=True)
class Wanted:
    """What a structured answer must be: its schema, its name in `response_format`, the type it becomes."""

    schema: Schema
    name: str
    type: Any = None  # None: the JSON data as it is (a JSON-schema dict, or the proxy's client's schema)
    wrapped: bool = False  # sent as {"items": schema}: the root is not an object
    any_object: bool = False  # json_object: any JSON object will do

    @classmethod
    def of(cls, tp: Any) -> Wanted:
        """From a dataclass, TypedDict, pydantic model, `list[…]` of one, or a JSON-schema dict."""
        if isinstance(tp, Wanted):
            return tp
        schema = type_schema(tp)
        label = str(tp.get("title") or "answer") if isinstance(tp, dict) else type_name(tp)
        name = _NAME.sub("_", label).strip("_")[:64] or "answer"
        return cls(schema, name, None if isinstance(tp, dict) else tp, wrapped=schema.get("type") != "object")

    @classmethod
    def from_response_format(cls, response_format: Mapping[str, Any] | None) -> Wanted | None:
        """What an OpenAI `response_format` asks for (None for "text" or none)."""
        kind = (response_format or {}).get("type")
        if kind == "json_schema":
            spec = response_format["json_schema"]  # type: ignore[index]
            return cls(dict(spec.get("schema") or {}), str(spec.get("name") or "response"))
        if kind == "json_object":
            return cls({"type": "object"}, "json_object", any_object=True)
        return None

    @property
    def sent_schema(self) -> Schema:
        """The schema as the model is shown it (wrapped in an object when its root is not one)."""
        if not self.wrapped:
            return self.schema
        inner = {key: value for key, value in self.schema.items() if key != "$defs"}
        wrapper: Schema = {"type": "object", "properties": {WRAPPER: inner}, "required": [WRAPPER]}
        wrapper["additionalProperties"] = False
        return {**wrapper, "$defs": self.schema["$defs"]} if "$defs" in self.schema else wrapper

    def response_format(self) -> dict[str, Any]:
        if self.any_object:
            return {"type": "json_object"}
        return {"type": "json_schema", "json_schema": {"name": self.name, "schema": self.sent_schema}}

    def instruction(self) -> str:
        if self.any_object:
            return "Answer with one JSON object and nothing else: no prose before or after it, no code fence."
        schema = json.dumps(self.sent_schema, ensure_ascii=False, separators=(",", ":"))
        return f"Answer with JSON only, no prose before or after it and no code fence, fitting this schema: {schema}"

    def read(self, text: str) -> Any:
        """The answer's value, checked and converted; SchemaMismatch (keeping `text`) when it does not fit."""
        data = parse_json(extract_json(text))
        if self.wrapped and isinstance(data, dict) and list(data) == [WRAPPER]:
            data = data[WRAPPER]
        if self.any_object and not isinstance(data, dict):
            raise SchemaMismatch(f"expected a JSON object, got {show(data)}", text=text)
        check(data, self.schema, text=text)
        return convert(data, self.type) if self.type is not None else data

    def retry(self, request: ChatRequest, text: str, mismatch: SchemaMismatch) -> ChatRequest:
        """The request asked again: the answer that did not fit, then what was wrong with it."""
        findings = "; ".join(mismatch.problems[:5])
        again = f"That answer does not fit: {findings}. Answer again with only the JSON. {self.instruction()}"
        said = (Message("assistant", text),) if text.strip() else ()
        return dataclasses.replace(request, messages=(*request.messages, *said, Message("user", again)))

    def failed(self, mismatch: SchemaMismatch, text: str) -> SchemaMismatch:
        """The one-line error once the retry did not fit either; it keeps the text."""
        what = "a JSON object" if self.any_object else self.name
        return SchemaMismatch(
            f"the answer does not fit {what}, even when asked again: {mismatch.message}",
            problems=mismatch.problems,
            text=text,
            hint="the answer is kept in the error's .text; simplify the schema, or try another model",
        )


def honours_schemas(provider: Any) -> bool:
    """Does the provider make its answers fit `response_format` itself? (Its `structured_output` flag: an
    OpenAI-compatible server does, Puter does not: most of its models ignore the format.)"""
    return bool(getattr(provider, "structured_output", False))


def extract_json(text: str) -> str:
    """The JSON of an answer: its first fenced block (```json or bare), else the whole text."""
    lang, body = first_code_block(text)
    return (body if lang.lower() in ("json", "") else text).strip()


def instructed(content: str | list[dict[str, Any]], wanted: Wanted) -> str | list[dict[str, Any]]:
    """A prompt (text or content parts) with the instruction after it."""
    if isinstance(content, str):
        return f"{content}\n\n{wanted.instruction()}"
    return [*content, {"type": "text", "text": wanted.instruction()}]


def with_instruction(request: ChatRequest, wanted: Wanted) -> ChatRequest:
    """The request with the instruction in its last user message (one more user message when there is none)."""
    messages = list(request.messages)
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].role == "user":
            content = instructed(messages[position].content, wanted)
            messages[position] = dataclasses.replace(messages[position], content=content)
            return dataclasses.replace(request, messages=tuple(messages))
    return dataclasses.replace(request, messages=(*messages, Message("user", wanted.instruction())))


def resolve(spec: str, namespace: Mapping[str, Any]) -> Any:
    """`Person`, `list[Person]` or `module.Person`, looked up in `namespace` (nothing is evaluated)."""
    match = _SPEC.match(spec)
    if match is None:
        raise InputError(f"--schema {spec}: give a name or list[Name]", hint="e.g. `--schema Person`")
    dotted = match.group("inner") or match.group("bare")
    head, *rest = dotted.split(".")
    if head not in namespace:
        raise InputError(f"--schema {spec}: {head} is not defined", hint="define the class (a @dataclass, say) first")
    found = namespace[head]
    for part in rest:
        if not hasattr(found, part):
            raise InputError(f"--schema {spec}: {dotted} is not defined", hint="check the name")
        found = getattr(found, part)
    if not isinstance(found, (type, dict)):
        raise InputError(
            f"--schema {spec}: {dotted} is a {type(found).__name__}, not a class or a JSON-schema dict",
            hint="use a dataclass, TypedDict or pydantic model, or a dict holding a JSON schema",
        )
    return list[found] if match.group("outer") else found  # type: ignore[valid-type]


class StructuredReply(Reply):
    """A Reply whose answer must fit `wanted` (see the module docstring). Its events come only once the answer has
    been checked; `value` is then the typed value, `asked` how many requests it took (1 or 2)."""

    def __init__(self, *args: Any, wanted: Wanted, **options: Any) -> None:
        super().__init__(*args, **options)
        self.wanted = wanted
        self.value: Any = None
        self.asked = 0

    async def _source(self) -> AsyncIterator[StreamEvent]:
        first = [event async for event in super()._source()]  # the request as sent (fitted to the window)
        self.asked = 1
        try:
            self.value = self.wanted.read(text_of(first))
            events = first
        except SchemaMismatch as mismatch:
            retry = Reply(
                self.wanted.retry(self.request, text_of(first), mismatch),
                self._provider,
                self.loop,
                streamed=self.streamed,
                every_event=True,
            )
            events = [event async for event in retry]
            self.asked = 2
            try:
                self.value = self.wanted.read(text_of(events))
            except SchemaMismatch as again:
                raise self.wanted.failed(again, text_of(events)) from None
            events = with_usage_of(events, first)
        for event in events:
            yield event


def text_of(events: Sequence[StreamEvent]) -> str:
    return "".join(event.text for event in events if type(event) is TextDelta)


def with_usage_of(events: list[StreamEvent], earlier: Sequence[StreamEvent]) -> list[StreamEvent]:
    """`events` whose Finished also counts the usage of the `earlier` attempt (both requests were paid for)."""
    before = next((event.usage for event in earlier if isinstance(event, Finished)), None)
    if before is None:
        return events
    return [
        dataclasses.replace(event, usage=added(before, event.usage)) if isinstance(event, Finished) else event
        for event in events
    ]


def added(a: Usage, b: Usage) -> Usage:
    def total(x: Any, y: Any) -> Any:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return Usage(
        total(a.input_tokens, b.input_tokens),
        total(a.output_tokens, b.output_tokens),
        total(a.cost_usd, b.cost_usd),
        a.estimated or b.estimated,
        total(a.cached_tokens, b.cached_tokens),
    )


def enforcing(request: ChatRequest, provider: Any, loop: Any, *, streamed: bool) -> Reply:
    """The proxy's Reply to a client's request (every event, no conversation): where the provider does not honour
    the request's `response_format` (json_schema or json_object), a StructuredReply that instructs, checks and asks
    again once; otherwise a plain Reply, the format passed on as it is."""
    wanted = None if honours_schemas(provider) else Wanted.from_response_format(request.response_format)
    if wanted is None:
        return Reply(request, provider, loop, streamed=streamed, every_event=True)
    instructed_request = with_instruction(request, wanted)
    return StructuredReply(instructed_request, provider, loop, streamed=streamed, every_event=True, wanted=wanted)
