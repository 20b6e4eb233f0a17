"""The token estimate (core/tokens.py) against a real BPE tokenizer: SmolLM2-135M's, as llama.cpp counts it.

tests/fixtures/tokens/ holds the corpus (code, prose, pretty and compact JSON) and smollm2-counts.json the counts
llama-server's /tokenize gave for each file, whole and in pieces of about 600 characters cut at line ends. The last
test asks the real model again, so the recorded counts cannot drift from the tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from puter_magic.core import tokens
from puter_magic.core.tokens import estimate_tokens
from puter_magic.testing import local_model
from puter_magic.testing.processes import free_port

CORPUS = Path(__file__).parent / "fixtures" / "tokens"
RECORDED = json.loads((CORPUS / "smollm2-counts.json").read_text())
LOWEST, HIGHEST = 0.90, 1.35  # never low by more than 10%; not so high that a window is wasted


def pieces(text: str, size: int = RECORDED["piece_chars"]) -> list[str]:
    """The text in pieces of at least `size` characters, cut at line ends (the last one may be shorter)."""
    cut, current = [], ""
    for line in text.splitlines(keepends=True):
        current += line
        if len(current) >= size:
            cut.append(current)
            current = ""
    if current.strip():
        cut.append(current)
    return cut


def corpus() -> list[tuple[str, str, int]]:
    """(name, text, tokens) for each file, whole and in pieces."""
    cases = []
    for name, counts in RECORDED["files"].items():
        text = (CORPUS / name).read_text()
        cases.append((name, text, counts["whole"]))
        split = pieces(text)
        assert len(split) == len(counts["pieces"]), f"{name} is cut differently from when it was recorded"
        cases += [(f"{name}[{i}]", piece, n) for i, (piece, n) in enumerate(zip(split, counts["pieces"], strict=True))]
    return cases


@pytest.mark.parametrize(("name", "text", "tokens"), corpus(), ids=[case[0] for case in corpus()])
def test_the_estimate_is_never_more_than_ten_percent_low(name, text, tokens):
    estimate = estimate_tokens(text)
    assert LOWEST * tokens <= estimate <= HIGHEST * tokens, f"{name}: {estimate} estimated, {tokens} counted"


def test_a_quarter_of_the_characters_is_far_too_low_for_json():
    text = (CORPUS / "compact.json").read_text()
    assert len(text) / 4 < 0.6 * RECORDED["files"]["compact.json"]["whole"]  # why the estimate exists


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("hello", 1), (" hello world", 2), ("2026", 4), ('{"a":1}', 5), ("\n\n", 1), ("東京", 4), ("é", 1)],
)
def test_small_texts(text, tokens):
    assert estimate_tokens(text) == tokens


@pytest.fixture(scope="module")
def smollm2(llama_setup: Path):
    local_model.prepare(progress=lambda line: None)
    server = local_model.start(free_port(), reuse=False)
    yield server
    server.stop()


@pytest.mark.timeout(1500)  # a first run builds the chroot and fetches the model
def test_the_recorded_counts_are_what_smollm2s_tokenizer_says(smollm2):
    origin = smollm2.base_url.removesuffix("/v1")
    with httpx.Client(trust_env=False, timeout=60) as client:
        for name, text, tokens in corpus():
            counted = client.post(f"{origin}/tokenize", json={"content": text}).json()["tokens"]
            assert len(counted) == tokens, name


def test_a_text_is_estimated_once_and_what_is_kept_stays_within_its_bound(monkeypatch):
    """A conversation's texts are estimated again at every request: the estimates are kept, up to a number of
    characters, the oldest let go first."""
    monkeypatch.setattr(tokens, "_kept", {})
    monkeypatch.setattr(tokens, "_kept_size", 0)
    monkeypatch.setattr(tokens, "KEPT_CHARACTERS", 25)
    worked_out: list[str] = []
    estimate = tokens._estimate
    monkeypatch.setattr(tokens, "_estimate", lambda text: worked_out.append(text) or estimate(text))

    first, second, third = "a" * 10, "b" * 10, "c" * 10
    assert [estimate_tokens(t) for t in (first, first, second, "".join(["b"] * 10))] == [2, 2, 2, 2]
    assert worked_out == [first, second], "an equal text, even another object, is not estimated again"
    estimate_tokens(third)
    assert list(tokens._kept) == [second, third] and tokens._kept_size == 20, "the oldest went to stay within 25"
    estimate_tokens("d" * 26)
    assert "d" * 26 not in tokens._kept, "a text larger than the bound is estimated, not kept"
