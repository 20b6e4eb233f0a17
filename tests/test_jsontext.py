"""JSON that can always leave the process: lone surrogates, split pairs, NaN — and the request bodies built on it."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puter_magic.errors import InputError
from puter_magic.wire import jsontext
from puter_magic.wire.sending import request_body

EMOJI = "\U0001f600"  # 😀, "\ud83d\ude00" in UTF-16
HIGH, LOW = "\ud83d", "\ude00"


def test_a_split_pair_is_joined_and_lone_halves_become_the_replacement_character():
    assert jsontext.well_formed(HIGH + LOW) == EMOJI
    assert jsontext.well_formed("a" + HIGH) == "a\ufffd"
    assert jsontext.well_formed(LOW + "b" + HIGH) == "\ufffdb\ufffd"
    assert jsontext.well_formed(LOW + HIGH) == "\ufffd\ufffd", "a pair in the wrong order is two halves"
    plain = "déjà vu " + EMOJI
    assert jsontext.well_formed(plain) is plain


def test_json_text_with_an_escaped_lone_surrogate_decodes_to_one():
    assert json.loads('"\\ud83d"') == HIGH  # valid JSON: this is how lone surrogates get into the process


def test_dumps_encodes_what_utf8_cannot():
    value = {"text": "a" + HIGH, HIGH: [LOW, HIGH + LOW]}
    with pytest.raises(UnicodeEncodeError):
        json.dumps(value, ensure_ascii=False).encode()
    assert json.loads(jsontext.dumps(value)) == {"text": "a\ufffd", "\ufffd": ["\ufffd", EMOJI]}


def test_dumps_can_escape_lone_surrogates_as_javascript_does():
    raw = jsontext.dumps({"text": "a" + HIGH, "pair": HIGH + LOW}, escape_surrogates=True)
    assert raw == b'{"text":"a\\ud83d","pair":"\\ud83d\\ude00"}'
    assert json.loads(raw) == {"text": "a" + HIGH, "pair": EMOJI}


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_dumps_refuses_numbers_json_has_no_form_for(number):
    with pytest.raises(jsontext.NotJSON, match="NaN and infinite"):
        jsontext.dumps({"temperature": number})


def test_repaired_fixes_every_string_keys_included():
    assert jsontext.repaired({"a" + HIGH: [HIGH + LOW, 1, None, {"k": LOW}]}) == {
        "a\ufffd": [EMOJI, 1, None, {"k": "\ufffd"}]
    }


@given(st.lists(st.one_of(st.text(), st.sampled_from([HIGH, LOW])), max_size=8).map("".join))
def test_any_string_leaves_as_valid_utf8_json(text):
    for escape in (False, True):
        raw = jsontext.dumps({"text": text}, escape_surrogates=escape)
        decoded = json.loads(raw.decode("utf-8"))["text"]
        if not escape:
            assert decoded == jsontext.well_formed(text) and not jsontext.has_surrogates(decoded)


def test_a_request_body_repairs_text_and_refuses_nan_before_sending():
    body = request_body({"messages": [{"role": "user", "content": "half " + HIGH}]})
    assert body == '{"messages":[{"role":"user","content":"half \ufffd"}]}'.encode()
    with pytest.raises(InputError, match="NaN and infinite numbers") as caught:
        request_body({"temperature": math.nan})
    assert "\n" not in caught.value.one_line()
