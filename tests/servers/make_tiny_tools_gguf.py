"""Write a tiny random-weight GGUF that makes llama.cpp's llama-server answer with OpenAI tool calls.

See shared/openai-servers.md, "Tool calls and JSON schemas from a random-weight model". The model is the tiny
2-layer llama of make_tiny_gguf.py (same vocabulary, same sizes) with three changes:

1. Five more tokens: ``<tools>``, ``<tool_call>``, ``</tool_call>``, ``<tool_response>``, ``</tool_response>``.
2. A chat template in the Qwen2.5 tool format (tools listed inside ``<tools>`` in the system turn, calls written
   as ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>``, results as ``<tool_response>`` in a user
   turn). llama-server recognises it and then constrains a call with a grammar built from the tool schemas.
3. Hand-set weights on top of the random ones, so the model *starts* calls: the grammar only forces the JSON once
   ``<tool_call>`` is written, and a random model never writes it.

How the hand-set part works: the two random layers barely move the residual stream, so the next token is decided
by the current token's embedding ("bigram" rules in the LM head), plus two flags. Each flag is written by one
layer-0 attention head whose query is constant and whose key is non-zero only on one marker token, so the head
attends to that marker wherever it is in the context and copies a fixed value into the flag's dimension:
``TOOLS_SEEN`` (a ``<tools>`` token: tools were offered) and ``RESULT_SEEN`` (a ``<tool_response>``). The rules:

    after "\\n" with tools offered and no result yet   -> "<tool_call>"     (the first turn calls a tool)
    after "<tool_call>"                                -> "\\n", then "{"   (the grammar takes over the JSON)
    after "}"                                          -> "</tool_call>" -> end of turn
    a result in the context: after "\\n" -> "O" -> "K" -> end of turn   (the follow-up answers "OK")
    '"' slightly favoured everywhere but right after '"'  (string values end after a few characters)

With ``tool_choice: "required"`` after a result, the end of turn is not allowed, so "OK" is followed by a call.
Without tools the model writes gibberish to ``max_tokens`` like make_tiny_gguf.py's. ``response_format`` with a
JSON schema works through the same grammar machinery; the '"' rule is what lets its strings end.

Usage: python make_tiny_tools_gguf.py --out DIR   (writes DIR/tiny-tools.gguf in ~0.2 s; the same bytes for the
same seed, and a file whose bytes would not change is left alone). Keep it out of a router's --models-dir.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tiny_gguf as base  # the sibling script: vocabulary, sizes and the writer

try:
    import gguf
except ImportError:  # pragma: no cover - a set-up error, reported plainly
    sys.exit("make_tiny_tools_gguf.py needs the 'gguf' package: pip install 'gguf==0.19.0'")

STEM = "tiny-tools"
SEED = 0
N_CTX = 4096  # a tools prompt is long: every character is a token
TOOL_MARKERS = ("<tools>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")

# The Qwen2.5 tool-calling format, written for this model (a shorter default system line).
TEMPLATE = r"""{%- set sys = messages[0].content if messages and messages[0].role == 'system' else none -%}
{%- if tools -%}
<|im_start|>system
{{ sys if sys else 'You are a helpful assistant.' }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
{% elif sys -%}
<|im_start|>system
{{ sys }}<|im_end|>
{% endif -%}
{%- for m in messages -%}
{%- if m.role == 'system' and loop.first -%}
{%- elif m.role == 'assistant' and m.tool_calls -%}
<|im_start|>assistant{% if m.content %}
{{ m.content }}{% endif %}
{%- for call in m.tool_calls %}{% set f = call.function if call.function is defined else call %}
<tool_call>
{"name": "{{ f.name }}", "arguments": {{ f.arguments | tojson }}}
</tool_call>
{%- endfor %}<|im_end|>
{% elif m.role == 'tool' -%}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}<|im_start|>user{% endif %}
<tool_response>
{{ m.content }}
</tool_response>
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}<|im_end|>
{% endif -%}
{%- else -%}
<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif -%}
"""

# Residual-stream dimensions. Dimension 0 is make_tiny_gguf's constant; 1-9 say "the current token is ...";
# 10-11 are the flags the marker heads write; the rest stay random.
CONST = 0
IS = {"\n": 1, "<tool_call>": 2, "}": 3, '"': 4, "O": 5, "K": 6, "</tool_call>": 7, "<tools>": 8, "<tool_response>": 9}
TOOLS_SEEN, RESULT_SEEN = 10, 11
FIRST_RANDOM = 12
NEWLINE_PIECE = "<0x0A>"  # "\n" is a byte-fallback token in this vocabulary

# next token -> {dimension: weight}: the logit of a token is the sum of weight x activation over the dims listed.
# Every rule's CONST weight keeps the token out of free text; one active feature (20 before the norm) lifts it.
RULES: dict[str, dict[int, float]] = {
    "<tool_call>": {CONST: -50, IS["\n"]: 40, TOOLS_SEEN: 40, RESULT_SEEN: -30, IS["K"]: 50},
    NEWLINE_PIECE: {CONST: -50, IS["<tool_call>"]: 100},
    "{": {CONST: -20, IS["\n"]: 20, TOOLS_SEEN: 20},
    "</tool_call>": {CONST: -50, IS["}"]: 100},
    "<|im_end|>": {CONST: -50, IS["</tool_call>"]: 100, IS["K"]: 45, RESULT_SEEN: 45},
    '"': {CONST: 1.5, IS['"']: -30},
    "}": {CONST: -3},
    "O": {CONST: -40, IS["\n"]: 35, RESULT_SEEN: 35},
    "K": {CONST: -40, IS["O"]: 35, RESULT_SEEN: 35},
}
FEATURE = 20.0  # the embedding value of an active "is" feature, as make_tiny_gguf's constant
MARKER_KEY = 2.3  # query x key on a marker ~ 20 x 20 x 2.3² / sqrt(16) after the norms: attention goes there
FLAG_GAIN = 1.9  # value and output scale: the flag ends near +20 in its dimension


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    tokens, scores, types = base.vocabulary()
    for marker in TOOL_MARKERS:
        tokens.append(marker)
        scores.append(0.0)
        types.append(int(gguf.TokenType.USER_DEFINED))
    return tokens, scores, types


def embeddings(rng: np.random.Generator, tokens: list[str]) -> np.ndarray:
    embd = (rng.standard_normal((len(tokens), base.N_EMBD))).astype(np.float32)
    embd[:, :FIRST_RANDOM] = 0.0
    embd[:, CONST] = FEATURE
    for text, dim in IS.items():
        embd[tokens.index(NEWLINE_PIECE if text == "\n" else text), dim] = FEATURE
    return embd


def lm_head(rng: np.random.Generator, tokens: list[str], types: list[int]) -> np.ndarray:
    head = (rng.standard_normal((len(tokens), base.N_EMBD))).astype(np.float32)
    head[:, :FIRST_RANDOM] = 0.0
    for index, kind in enumerate(types):
        if kind != gguf.TokenType.NORMAL:  # control, byte and marker tokens never come by chance
            head[index, :] = 0.0
            head[index, CONST] = -50.0
    for text, weights in RULES.items():
        row = tokens.index(text)
        for dim, weight in weights.items():
            head[row, dim] = weight
    return head


def attention_layer0(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Layer 0's q/k/v/output weights: random, except heads 0 and 1, which raise TOOLS_SEEN and RESULT_SEEN."""
    weights = base.random_attention(rng)
    head_dim = base.N_EMBD // base.N_HEAD
    for head, (marker, flag) in enumerate(((IS["<tools>"], TOOLS_SEEN), (IS["<tool_response>"], RESULT_SEEN))):
        # The last dimension of a head has RoPE's lowest frequency (in both layouts), so position barely matters.
        qk = head * head_dim + head_dim - 1
        v = head * head_dim
        weights["q"][qk, :] = 0.0
        weights["q"][qk, CONST] = MARKER_KEY
        weights["k"][qk, :] = 0.0
        weights["k"][qk, marker] = MARKER_KEY
        weights["v"][v, :] = 0.0
        weights["v"][v, marker] = FLAG_GAIN
        weights["o"][:, v] = 0.0
        weights["o"][flag, v] = FLAG_GAIN
    return weights


def write_model(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocab = vocabulary()
    tokens, _, types = vocab
    name = f"puter-magic tiny random llama that calls tools (seed {seed})"
    # slow rotation: the marker heads look back thousands of tokens
    writer = base.llama_writer(path, name, N_CTX, vocab, TEMPLATE, rope_freq_base=1e6)
    embd = embeddings(rng, tokens)
    head = lm_head(rng, tokens, types)
    base.write_tensors(
        writer, rng, embd, head, lambda layer: attention_layer0(rng) if layer == 0 else base.random_attention(rng)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help=f"folder for {STEM}.gguf")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base.write_if_changed(args.out, STEM, args.seed, write_model, "make_tiny_tools_gguf")


if __name__ == "__main__":
    main()
