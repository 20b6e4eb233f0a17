"""Write a tiny random-weight Llama and a byte-level BPE tokenizer into a Hugging Face cache (see
shared/openai-servers.md), so that `transformers serve` loads it by repo id with HF_HUB_OFFLINE=1.

Run with the transformers venv's Python (setup_transformers.sh does):
    python make_tiny_hf.py --hf-home DIR [--repo-id puter-magic/tiny-llama]
It writes DIR/hub/models--<org>--<name>/{refs/main, snapshots/<commit>/...}; the commit is a hash of the files, so
running it again with an unchanged generator leaves the cache as it is.

The model: LlamaConfig with 2 layers, hidden 64, 4 heads, ff 128, context 2048. The vocabulary: the 256 byte-level
BPE symbols (no merges: one token per byte, so about one token per character) plus <s>, </s>, <|im_start|> and
<|im_end|> (EOS); a ChatML chat template. As in make_tiny_gguf.py, a constant in dimension 0 of every embedding and
strongly negative LM-head rows for special tokens and non-printable bytes keep the sampled text printable ASCII and
never end it with EOS: generations run to `max_tokens` unless a `stop` sequence ends them.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIALS = ["<s>", "</s>", "<|im_start|>", "<|im_end|>"]
SEED = 0


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable symbol table that byte-level BPE vocabularies are written in."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1), *range(ord("\xae"), ord("\xff") + 1)]
    table = {byte: chr(byte) for byte in keep}
    extra = 0
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def build_tokenizer() -> PreTrainedTokenizerFast:
    byte_symbols = bytes_to_unicode()  # byte value -> printable unicode symbol, as GPT-2 does
    vocab = {symbol: byte for byte, symbol in byte_symbols.items()}
    for special in SPECIALS:
        vocab[special] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="</s>",
        unk_token=None,
    )
    fast.chat_template = CHATML
    return fast


def build_model(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    printable = set(range(0x20, 0x7F))
    suppressed = [i for i in range(len(tokenizer)) if i >= 256 or i not in printable]
    with torch.no_grad():
        embed = model.model.embed_tokens.weight
        embed.normal_(0.0, 1.0)
        embed[:, 0] = 20.0  # keeps the final hidden state positive in dimension 0
        head = model.lm_head.weight
        head.normal_(0.0, 1.0)
        head[:, 0] = 0.0
        head[suppressed, :] = 0.0
        head[suppressed, 0] = -50.0
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hf-home", type=Path, required=True)
    parser.add_argument("--repo-id", default="puter-magic/tiny-llama")
    args = parser.parse_args()

    repo = args.hf_home / "hub" / ("models--" + args.repo_id.replace("/", "--"))
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "snapshot"
        tokenizer = build_tokenizer()
        tokenizer.save_pretrained(staging)
        build_model(tokenizer).save_pretrained(staging)
        digest = hashlib.sha1()
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
        commit = digest.hexdigest()
        snapshot = repo / "snapshots" / commit
        if snapshot.is_dir():
            print(f"[make_tiny_hf] {args.repo_id} up to date at {snapshot}")
        else:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(staging, snapshot)
            print(f"[make_tiny_hf] wrote {args.repo_id} to {snapshot}")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)


if __name__ == "__main__":
    main()
