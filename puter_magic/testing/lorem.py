"""A tiny lorem-ipsum generator, shaped like the npm ``lorem-ipsum`` output that Puter's fake-chat provider sends."""

from __future__ import annotations

import random

# The word list of the npm lorem-ipsum package (note the capitalised "Lorem", as in the recordings).
LOREM_WORDS: tuple[str, ...] = tuple(
    [
        "ad",
        "adipisicing",
        "aliqua",
        "aliquip",
        "amet",
        "anim",
        "aute",
        "cillum",
        "commodo",
        "consectetur",
        "consequat",
        "culpa",
        "cupidatat",
        "deserunt",
        "do",
        "dolor",
        "dolore",
        "duis",
        "ea",
        "eiusmod",
        "elit",
        "enim",
        "esse",
        "est",
        "et",
        "eu",
        "ex",
        "excepteur",
        "exercitation",
        "fugiat",
        "id",
        "in",
        "incididunt",
        "ipsum",
        "irure",
        "labore",
        "laboris",
        "laborum",
        "Lorem",
        "magna",
        "minim",
        "mollit",
        "nisi",
        "non",
        "nostrud",
        "nulla",
        "occaecat",
        "officia",
        "pariatur",
        "proident",
        "qui",
        "quis",
        "reprehenderit",
        "sint",
        "sit",
        "sunt",
        "tempor",
        "ullamco",
        "ut",
        "velit",
        "veniam",
        "voluptate",
    ]
)


def sentence(rng: random.Random, min_words: int = 12, max_words: int = 20) -> str:
    words = [rng.choice(LOREM_WORDS) for _ in range(rng.randint(min_words, max_words))]
    first = words[0]
    words[0] = first[0].upper() + first[1:]
    return " ".join(words) + "."


def paragraph(rng: random.Random, min_sentences: int = 4, max_sentences: int = 8) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(min_sentences, max_sentences)))


def paragraphs(rng: random.Random, count: int) -> str:
    """``count`` paragraphs joined by a newline, like ``LoremIpsum.generateParagraphs``."""
    return "\n".join(paragraph(rng) for _ in range(count))
