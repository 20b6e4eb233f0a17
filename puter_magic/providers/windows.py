"""A model's context window, from wherever an OpenAI-compatible server says it. Pure.

    /v1/models item   llama.cpp `meta.n_ctx` (the window it was started with; `meta.n_ctx_train` is only what
                      the model was trained for, so it is not used), vLLM `max_model_len`, OpenRouter-style
                      `context_length`, LM Studio `max_context_length`
    /props            llama.cpp: `default_generation_settings.n_ctx` (per slot), or a top-level `n_ctx`
    /api/show         Ollama: `num_ctx` in `parameters` (what the model runs with), else
                      `model_info["<architecture>.context_length"]`
    /api/v0/models    LM Studio: `loaded_context_length` of a loaded model, else `max_context_length`

The probing (which endpoint, in which order, cached per model) is the provider's: providers/openai.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PROBES = ("props", "ollama", "lmstudio")  # after /v1/models, in this order; each is one request at most


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def from_models_item(item: Mapping[str, Any]) -> int | None:
    """The window a `/v1/models` entry states, or None."""
    meta = _mapping(item.get("meta"))
    for value in (
        meta.get("n_ctx"),
        item.get("max_model_len"),
        item.get("context_length"),
        item.get("loaded_context_length"),
        item.get("max_context_length"),
    ):
        if _positive(value):
            return _positive(value)
    return None


def from_models_list(data: Any, model: str) -> int | None:
    """The window of `model` in a `/v1/models` (or LM Studio `/api/v0/models`) answer; a single entry answers for
    any model (llama-server without a router serves whatever is asked)."""
    items = [i for i in _items(data) if isinstance(i, Mapping)]
    for item in items:
        if model in (item.get("id"), *(item.get("aliases") or ())):
            return from_models_item(item)
    return from_models_item(items[0]) if len(items) == 1 else None


def _items(data: Any) -> list[Any]:
    if isinstance(data, Mapping):
        data = data.get("data")
    return list(data) if isinstance(data, list) else []


def from_props(data: Any) -> int | None:
    """llama.cpp's `/props`: the window of one slot (`-c` divided by `-np`)."""
    props = _mapping(data)
    return _positive(_mapping(props.get("default_generation_settings")).get("n_ctx")) or _positive(props.get("n_ctx"))


_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


def from_ollama_show(data: Any) -> int | None:
    """Ollama's `/api/show`: the `num_ctx` the model runs with, else the architecture's `context_length`."""
    show = _mapping(data)
    parameters = show.get("parameters")
    if isinstance(parameters, str):
        found = _NUM_CTX.search(parameters)
        if found:
            return _positive(int(found.group(1)))
    info = _mapping(show.get("model_info"))
    architecture = info.get("general.architecture")
    if isinstance(architecture, str):
        return _positive(info.get(f"{architecture}.context_length"))
    lengths = [v for k, v in info.items() if str(k).endswith(".context_length") and _positive(v)]
    return lengths[0] if len(lengths) == 1 else None
