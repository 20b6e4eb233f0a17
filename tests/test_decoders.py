"""Tests for puter_magic.wire.decoders: lines, NDJSON and server-sent events, fed in every possible way."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puter_magic.errors import MalformedStream, StreamError
from puter_magic.wire.decoders import LineDecoder, NDJSONDecoder, ServerSentEvent, SSEDecoder

T = TypeVar("T")


class Decoder(Protocol[T]):
    def decode(self, chunk: bytes) -> list[T]: ...
    def flush(self) -> list[T]: ...


def feed(decoder: Decoder[T], chunks: Iterable[bytes]) -> list[T]:
    """Everything the decoder gives for these chunks, flush included."""
    out: list[T] = []
    for chunk in chunks:
        out.extend(decoder.decode(chunk))
    out.extend(decoder.flush())
    return out


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    cuts = [0, *sorted(points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


def lines_of(data: bytes) -> list[bytes]:
    return feed(LineDecoder(), [data])


def events_of(data: bytes) -> list[ServerSentEvent]:
    return feed(SSEDecoder(), [data])


# --- representative streams -----------------------------------------------------------------------

NDJSON_STREAM = (
    b'{"type": "text", "text": "h\xc3\xa9llo"}\n'
    b"\n"
    b"  \t \r\n"
    b'{"text": "\xe2\x82\xac \xf0\x9f\x98\x80"}\r\n'
    b"[1, 2.5, null]\r"
    b'{"done": true}'  # no final newline
)
NDJSON_VALUES: list[Any] = [
    {"type": "text", "text": "héllo"},
    {"text": "€ 😀"},
    [1, 2.5, None],
    {"done": True},
]

SSE_STREAM = (
    b"\xef\xbb\xbf: ping\r\n"
    b"event: delta\r\n"
    b"data: first\r\n"
    b"data:  second\r\n"
    b"id: 7\r\n"
    b"\r\n"
    b'data: {"x": "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}\n'
    b"\n"
    b"retry: 1500\r"
    b"data: [DONE]\r"
    b"\r"
    b"data: tail"  # the stream ends abruptly
)
SSE_EVENTS = [
    ServerSentEvent(event="delta", data="first\n second", id="7"),
    ServerSentEvent(data='{"x": "é€😀"}', id="7"),
    ServerSentEvent(data="[DONE]", id="7", retry=1500),
    ServerSentEvent(data="tail", id="7"),
]

SHORT_SSE_STREAM = b"event: a\r\ndata: \xc3\xa9\r\n\r\ndata: x\rdata\n\n"
SHORT_SSE_EVENTS = [ServerSentEvent(event="a", data="é"), ServerSentEvent(data="x\n")]

STREAMS: list[tuple[Callable[[], Decoder[Any]], bytes, list[Any]]] = [
    (NDJSONDecoder, NDJSON_STREAM, NDJSON_VALUES),
    (SSEDecoder, SSE_STREAM, SSE_EVENTS),
    (SSEDecoder, SHORT_SSE_STREAM, SHORT_SSE_EVENTS),
    (LineDecoder, b"a\r\nb\rc\n\r\n\rd", [b"a", b"b", b"c", b"", b"", b"d"]),
]


@pytest.mark.parametrize(("make", "stream", "expected"), STREAMS)
def test_whole_stream(make: Callable[[], Decoder[Any]], stream: bytes, expected: list[Any]) -> None:
    assert feed(make(), [stream]) == expected


@pytest.mark.parametrize(("make", "stream", "expected"), STREAMS)
def test_every_single_split_point(make: Callable[[], Decoder[Any]], stream: bytes, expected: list[Any]) -> None:
    for i in range(len(stream) + 1):
        assert feed(make(), split_at(stream, [i])) == expected, f"split at {i}"


@pytest.mark.parametrize(("make", "stream", "expected"), STREAMS)
def test_byte_by_byte(make: Callable[[], Decoder[Any]], stream: bytes, expected: list[Any]) -> None:
    assert feed(make(), [stream[i : i + 1] for i in range(len(stream))]) == expected


def test_every_pair_of_split_points() -> None:
    n = len(SHORT_SSE_STREAM)
    for i in range(n + 1):
        for j in range(i, n + 1):  # i == j gives an empty chunk, which must change nothing
            chunks = split_at(SHORT_SSE_STREAM, [i, j])
            assert feed(SSEDecoder(), chunks) == SHORT_SSE_EVENTS, f"split at {i}, {j}"


@pytest.mark.parametrize("char", ["é", "€", "😀"])
def test_multibyte_character_split_at_every_byte(char: str) -> None:
    text = f"a{char}b"
    ndjson = json.dumps({"t": text}, ensure_ascii=False).encode() + b"\n"
    sse = f"data: {text}\n\n".encode()
    for i in range(len(ndjson) + 1):
        assert feed(NDJSONDecoder(), split_at(ndjson, [i])) == [{"t": text}]
    for i in range(len(sse) + 1):
        assert feed(SSEDecoder(), split_at(sse, [i])) == [ServerSentEvent(data=text)]
        assert feed(LineDecoder(), split_at(sse, [i])) == [f"data: {text}".encode(), b""]


# --- LineDecoder -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\nb\n", [b"a", b"b"]),
        (b"a\r\nb\r\n", [b"a", b"b"]),
        (b"a\rb\r", [b"a", b"b"]),
        (b"a\n\nb\n", [b"a", b"", b"b"]),
        (b"a\r\rb\r", [b"a", b"", b"b"]),
        (b"a\n\rb", [b"a", b"", b"b"]),
        (b"\r\n", [b""]),
        (b"\n\r", [b"", b""]),
    ],
)
def test_line_endings(data: bytes, expected: list[bytes]) -> None:
    assert lines_of(data) == expected


def test_cr_at_chunk_end_then_lf_at_next_chunk_start() -> None:
    decoder = LineDecoder()
    assert decoder.decode(b"one\r") == [b"one"]  # delivered at once, no waiting for the next chunk
    assert decoder.decode(b"\ntwo\r") == [b"two"]
    assert decoder.decode(b"") == []  # an empty chunk does not forget the pending `\r`
    assert decoder.decode(b"\n") == []
    assert decoder.decode(b"\r") == [b""]
    assert decoder.decode(b"\r\n") == [b""]
    assert decoder.decode(b"\nthree") == [b""]
    assert decoder.flush() == [b"three"]


def test_line_decoder_buffers_until_a_terminator() -> None:
    decoder = LineDecoder()
    assert decoder.decode(b"lo") == []
    assert decoder.decode(b"ng li") == []
    assert decoder.decode(b"ne\nnext") == [b"long line"]
    assert decoder.flush() == [b"next"]


def test_flush_delivers_unterminated_input_and_resets() -> None:
    decoder = LineDecoder()
    assert decoder.decode(b"a\nb") == [b"a"]
    assert decoder.flush() == [b"b"]
    assert decoder.flush() == []
    assert decoder.decode(b"c\n") == [b"c"]


def test_flush_on_empty_state_returns_nothing() -> None:
    assert LineDecoder().flush() == []
    assert NDJSONDecoder().flush() == []
    assert SSEDecoder().flush() == []
    decoder = LineDecoder()
    assert decoder.decode(b"x\r") == [b"x"]
    assert decoder.flush() == []  # the `\r` already ended the line
    assert decoder.decode(b"\ny\n") == [b"", b"y"]  # and flush forgot it: this `\n` is a new line


# --- NDJSONDecoder -----------------------------------------------------------------------------------


def test_ndjson_skips_blank_lines() -> None:
    assert feed(NDJSONDecoder(), [b"\n \n\t\r\n1\n\n \x0c\n2\n   "]) == [1, 2]


def test_ndjson_unterminated_last_line_comes_with_flush() -> None:
    decoder = NDJSONDecoder()
    assert decoder.decode(b'{"a": 1}\n{"b"') == [{"a": 1}]
    assert decoder.decode(b": 2}") == []
    assert decoder.flush() == [{"b": 2}]
    assert decoder.flush() == []


def test_ndjson_strips_a_bom_at_the_start_only() -> None:
    assert feed(NDJSONDecoder(), [b"\xef", b"\xbb\xbf1\n2\n"]) == [1, 2]
    with pytest.raises(MalformedStream):
        feed(NDJSONDecoder(), [b"1\n\xef\xbb\xbf2\n"])


def test_malformed_json_line_raises_with_an_excerpt() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(MalformedStream) as info:
        decoder.decode(b'{"ok": 1}\n{"oops\n')
    assert isinstance(info.value, StreamError)
    assert info.value.message == "malformed line in the stream: '{\"oops'"
    assert isinstance(info.value.__cause__, json.JSONDecodeError)


def test_malformed_long_line_excerpt_is_short() -> None:
    line = b"<html>" + b"x" * 5000 + b"</html>"
    with pytest.raises(MalformedStream) as info:
        feed(NDJSONDecoder(), [line])
    message = info.value.message
    prefix = "malformed line in the stream: "
    assert message.startswith(prefix + "'<html>xxx")
    assert len(message) - len(prefix) <= 85
    assert message.endswith("…'")


def test_malformed_excerpt_escapes_control_characters_and_stays_short() -> None:
    with pytest.raises(MalformedStream) as info:
        feed(NDJSONDecoder(), [b"\x01" * 500 + b"\n"])
    excerpt = info.value.message.removeprefix("malformed line in the stream: ")
    assert excerpt.startswith("'\\x01\\x01")
    assert len(excerpt) <= 85


def test_invalid_utf8_line_raises() -> None:
    with pytest.raises(MalformedStream) as info:
        feed(NDJSONDecoder(), [b'{"t": "\xff\xfe"}\n'])
    assert info.value.message == 'malformed line in the stream: \'{"t": "\ufffd\ufffd"}\''
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_malformed_unterminated_line_raises_on_flush() -> None:
    decoder = NDJSONDecoder()
    assert decoder.decode(b"1\n[") == [1]
    with pytest.raises(MalformedStream, match=r"'\['"):
        decoder.flush()


# --- SSEDecoder --------------------------------------------------------------------------------------


def test_sse_comments_are_ignored() -> None:
    assert events_of(b": ping\n\n:\ndata: x\n: more\n\n") == [ServerSentEvent(data="x")]


def test_sse_multiline_data() -> None:
    assert events_of(b"data: a\ndata: b\ndata:\ndata: c\n\n") == [ServerSentEvent(data="a\nb\n\nc")]


def test_sse_fields() -> None:
    stream = b"event: delta\nid: 1\nretry: 3000\ndata: x\n\ndata: y\n\nid\nevent:\ndata: z\n\n"
    assert events_of(stream) == [
        ServerSentEvent(event="delta", data="x", id="1", retry=3000),
        ServerSentEvent(data="y", id="1"),  # id persists; event type and retry do not
        ServerSentEvent(data="z", id=""),  # `id` with no value resets it; an empty event type is "message"
    ]


def test_sse_id_with_nul_is_ignored() -> None:
    assert events_of(b"id: 1\n\nid: 2\x003\ndata: x\n\n") == [ServerSentEvent(data="x", id="1")]


@pytest.mark.parametrize("retry", [b"", b"12a", b"-5", b"1.5", b" 10", "١٢".encode()])
def test_sse_retry_needs_ascii_digits(retry: bytes) -> None:
    assert events_of(b"retry: " + retry + b"\ndata: x\n\n") == [ServerSentEvent(data="x")]


def test_sse_line_without_colon_is_a_field_with_empty_value() -> None:
    assert events_of(b"data\ndata\n\nevent\ndata: x\n\n") == [
        ServerSentEvent(data="\n"),
        ServerSentEvent(data="x"),
    ]


def test_sse_only_one_leading_space_is_stripped() -> None:
    assert events_of(b"data:no space\ndata: one\ndata:  two\ndata:\tt\n\n") == [
        ServerSentEvent(data="no space\none\n two\n\tt")
    ]
    assert events_of(b"event:  spaced\ndata:x\n\n") == [ServerSentEvent(event=" spaced", data="x")]


def test_sse_bom_at_stream_start_only() -> None:
    assert events_of(b"\xef\xbb\xbfdata: x\n\n") == [ServerSentEvent(data="x")]
    # a BOM later on is part of the line: this one makes the field name unknown
    assert events_of(b"data: x\n\n\xef\xbb\xbfdata: y\n\n") == [ServerSentEvent(data="x")]


def test_sse_empty_data_is_not_dispatched_but_resets_event_type() -> None:
    stream = b"event: lonely\n\nid: 4\nretry: 10\n\ndata: x\n\n\n\n"
    assert events_of(stream) == [ServerSentEvent(data="x", id="4")]


def test_sse_unknown_fields_are_ignored() -> None:
    assert events_of(b"foo: bar\nDATA: no\ndata: yes\n\n") == [ServerSentEvent(data="yes")]


def test_sse_done_passes_through() -> None:
    assert events_of(b"data: [DONE]\n\n") == [ServerSentEvent(data="[DONE]")]


def test_sse_stream_ending_without_blank_line_is_delivered_by_flush() -> None:
    decoder = SSEDecoder()
    assert decoder.decode(b"event: e\ndata: a\n\ndata: b\n") == [ServerSentEvent(event="e", data="a")]
    assert decoder.decode(b"data: c") == []
    assert decoder.flush() == [ServerSentEvent(data="b\nc")]
    assert decoder.flush() == []


def test_sse_flush_resets_the_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.decode(b"id: 1\nevent: e\n") == []
    assert decoder.flush() == []
    assert decoder.decode(b"\xef\xbb\xbfdata: x\n\n") == [ServerSentEvent(data="x")]


def test_sse_invalid_utf8_is_replaced() -> None:
    assert events_of(b"data: a\xffb\n\n") == [ServerSentEvent(data="a\ufffdb")]


def test_server_sent_event_is_a_slotted_record() -> None:
    event = ServerSentEvent()
    assert event == ServerSentEvent(event="message", data="", id=None, retry=None)
    with pytest.raises(AttributeError):
        event.colour = "x"  # type: ignore[attr-defined]


# --- properties --------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=8,
)
line_endings = st.sampled_from([b"\n", b"\r\n", b"\r"])
line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)


@st.composite
def split_points(draw: st.DrawFn, data: bytes) -> list[int]:
    return draw(st.lists(st.integers(0, len(data)), max_size=12))


@settings(max_examples=150, deadline=None)
@given(values=st.lists(json_values, max_size=6), data=st.data())
def test_ndjson_any_chunking_gives_the_same_values(values: list[Any], data: st.DataObject) -> None:
    stream = b"".join(
        json.dumps(value, ensure_ascii=data.draw(st.booleans())).encode() + data.draw(line_endings) for value in values
    )
    points = data.draw(split_points(stream))
    assert feed(NDJSONDecoder(), split_at(stream, points)) == values


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    blocks: list[bytes] = []
    expected: list[ServerSentEvent] = []
    for _ in range(draw(st.integers(0, 5))):
        event = draw(line_text)
        data = draw(st.lists(line_text, min_size=1, max_size=3))
        lines = [f"data: {line}" for line in data]
        if event or draw(st.booleans()):
            lines.insert(0, f"event: {event}")
        if draw(st.booleans()):
            lines.insert(draw(st.integers(0, len(lines))), ": comment")
        for line in [*lines, ""]:
            ending = draw(line_endings)
            if not line and ending == b"\n" and blocks[-1].endswith(b"\r"):
                ending = b"\r\n"  # `\r` then a blank line ended by `\n` would read as one `\r\n`
            blocks.append(line.encode() + ending)
        expected.append(ServerSentEvent(event=event or "message", data="\n".join(data)))
    return b"".join(blocks), expected


@settings(max_examples=150, deadline=None)
@given(case=sse_streams(), data=st.data())
def test_sse_any_chunking_gives_the_same_events(case: tuple[bytes, list[ServerSentEvent]], data: st.DataObject) -> None:
    stream, expected = case
    assert feed(SSEDecoder(), split_at(stream, data.draw(split_points(stream)))) == expected
