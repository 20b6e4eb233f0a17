"""Write tiny random-weight llama GGUF models for llama-server (see shared/openai-servers.md, "The tiny model").

Each model is a 2-layer llama (F32, n_embd 64, 4 heads, ff 128, context 2048, ~0.5 MB) with a SentencePiece-style
"llama" vocabulary: <unk>, <s>, </s>, <|im_start|>, <|im_end|> (EOS), 256 byte-fallback tokens and one piece per
printable ASCII character, plus a ChatML chat template. Its text is gibberish by design.

The sampled text stays printable ASCII and EOS never comes: every token embedding carries a large constant in
dimension 0, so the final hidden state is positive there, and the LM-head rows of control and byte tokens are
strongly negative in that dimension (rows of normal pieces are zero there). Generations thus always run to
`max_tokens` (finish_reason "length") unless a `stop` sequence ends them.

Usage: python make_tiny_gguf.py --out DIR   (writes DIR/tiny.gguf, DIR/tiny-b.gguf, DIR/tiny-c.gguf; a file whose
bytes would not change is left alone, so running it again is cheap and keeps mtimes).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - a set-up error, reported plainly
    sys.exit("make_tiny_gguf.py needs the 'gguf' package: pip install 'gguf==0.19.0'")

# file stem (= model id in router mode) -> seed
MODELS = {"tiny": 0, "tiny-b": 1, "tiny-c": 2}

N_EMBD = 64
N_HEAD = 4
N_LAYER = 2
N_FF = 128
N_CTX = 2048

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPACE = "\u2581"  # SentencePiece's word-boundary marker "▁"


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []

    def add(text: str, kind: gguf.TokenType, score: float = 0.0) -> None:
        tokens.append(text)
        scores.append(score)
        types.append(int(kind))

    add("<unk>", gguf.TokenType.UNKNOWN)
    add("<s>", gguf.TokenType.CONTROL)
    add("</s>", gguf.TokenType.CONTROL)
    add("<|im_start|>", gguf.TokenType.CONTROL)
    add("<|im_end|>", gguf.TokenType.CONTROL)
    for byte in range(256):
        add(f"<0x{byte:02X}>", gguf.TokenType.BYTE)
    add(SPACE, gguf.TokenType.NORMAL, -1.0)
    for code in range(33, 127):
        add(chr(code), gguf.TokenType.NORMAL, -1.0)
    return tokens, scores, types


def rand(rng: np.random.Generator, *shape: int, scale: float = 0.02) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def random_attention(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A layer's q/k/v/output weights, drawn in that order."""
    return {name: rand(rng, N_EMBD, N_EMBD) for name in "qkvo"}


def llama_writer(
    path: Path,
    name: str,
    n_ctx: int,
    vocab: tuple[list[str], list[float], list[int]],
    template: str,
    rope_freq_base: float | None = None,
) -> gguf.GGUFWriter:
    """A writer holding the tiny llama's hyperparameters and `vocab`'s tokenizer (tensors still to add)."""
    tokens, scores, types = vocab
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(len(tokens))
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    if rope_freq_base is not None:
        writer.add_rope_freq_base(rope_freq_base)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(template)
    return writer


def write_tensors(
    writer: gguf.GGUFWriter,
    rng: np.random.Generator,
    embd: np.ndarray,
    head: np.ndarray,
    attention: Callable[[int], dict[str, np.ndarray]],
) -> None:
    """Add the tensors (each layer's `attention(layer)`, random feed-forward weights after it) and write the file."""
    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", head)
    for layer in range(N_LAYER):
        blk = f"blk.{layer}"
        weights = attention(layer)
        writer.add_tensor(f"{blk}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{blk}.attn_q.weight", weights["q"])
        writer.add_tensor(f"{blk}.attn_k.weight", weights["k"])
        writer.add_tensor(f"{blk}.attn_v.weight", weights["v"])
        writer.add_tensor(f"{blk}.attn_output.weight", weights["o"])
        writer.add_tensor(f"{blk}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{blk}.ffn_gate.weight", rand(rng, N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.weight", rand(rng, N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_down.weight", rand(rng, N_EMBD, N_FF))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_model(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocab = vocabulary()
    name = f"puter-magic tiny random llama (seed {seed})"
    writer = llama_writer(path, name, N_CTX, vocab, CHATML)
    types = vocab[2]
    n_vocab = len(types)

    embd = rand(rng, n_vocab, N_EMBD, scale=1.0)
    embd[:, 0] = 20.0  # the constant that keeps the final hidden state positive in dimension 0
    head = rand(rng, n_vocab, N_EMBD, scale=1.0)
    head[:, 0] = 0.0
    suppressed = [i for i, kind in enumerate(types) if kind != gguf.TokenType.NORMAL]
    head[suppressed, :] = 0.0
    head[suppressed, 0] = -50.0
    write_tensors(writer, rng, embd, head, lambda layer: random_attention(rng))


def write_if_changed(out: Path, stem: str, seed: int, write: Callable[[Path, int], None], script: str) -> None:
    """`write` OUT/STEM.gguf through a temporary file, replacing the old file only if its bytes differ."""
    final = out / f"{stem}.gguf"
    tmp = out / f".{stem}.gguf.tmp"
    write(tmp, seed)
    if final.exists() and filecmp.cmp(tmp, final, shallow=False):
        tmp.unlink()
        print(f"[{script}] {final} up to date")
    else:
        os.replace(tmp, final)
        print(f"[{script}] wrote {final} ({final.stat().st_size} bytes, seed {seed})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the .gguf files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem, seed in MODELS.items():
        write_if_changed(args.out, stem, seed, write_model, "make_tiny_gguf")


if __name__ == "__main__":
    main()
