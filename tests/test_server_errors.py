"""Context overflows in every server's words, and server text without internal paths (providers/server_errors.py).

The table holds the texts as servers send them; llama-server's is checked against the real server in
tests/test_windows.py (llama_small_context), so a new wording there fails a test instead of going unrecognised.
"""

from __future__ import annotations

import pytest

from puter_magic.errors import BadRequest, ContextOverflow, ModelNotFound, ServerError
from puter_magic.providers import openai_wire
from puter_magic.providers.server_errors import Overflow, context_overflow, unreadable_input, without_internals
from puter_magic.testing.openai_quirks import OVERFLOWS


def status_error(status: int, message: str, *, code: str | None = None, body=None):
    """What the wire makes of an error status before the provider refines it."""
    cls = BadRequest if status == 400 else ServerError
    return cls(message, status_code=status, code=code, body=body)


# (who, message, code, body, the overflow it reports)
RECORDED = [
    (
        "llama-server b11669 (recorded here, -c 512)",
        "request (1531 tokens) exceeds the available context size (512 tokens), try increasing it",
        "exceed_context_size_error",
        {"error": {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 1531, "n_ctx": 512}},
        Overflow(512, 1531),
    ),
    (
        "llama-server, older builds",
        "the request exceeds the available context size. try increasing the context size or enable context shift",
        "exceed_context_size_error",
        {"error": {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 14429, "n_ctx": 8192}},
        Overflow(8192, 14429),
    ),
    (
        "OpenAI",
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 10019 tokens. "
        "Please reduce the length of the messages.",
        "context_length_exceeded",
        None,
        Overflow(8192, 10019),
    ),
    (
        "OpenAI, newer models",
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "context_length_exceeded",
        None,
        Overflow(),
    ),
    (
        "llama-cpp-python's 400",
        "This model's maximum context length is 2048 tokens. However, you requested 2285 tokens (2029 in the "
        "messages, 256 in the completion). Please reduce the length of the messages or completion.",
        "context_length_exceeded",
        None,
        Overflow(2048, 2285),
    ),
    (
        "llama-cpp-python's 500",
        "Requested tokens (2285) exceed context window of 2048",
        None,
        None,
        Overflow(2048, 2285),
    ),
    ("llama-cpp-python, old", "Requested tokens exceed context window of 512", None, None, Overflow(512)),
    (
        "vLLM",
        "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the "
        "messages, 1000 in the completion). Please reduce the length of the messages or completion.",
        None,
        {"object": "error", "type": "BadRequestError", "code": 400},
        Overflow(4096, 5000),
    ),
    (
        "vLLM, newer",
        "'max_tokens' or 'max_completion_tokens' is too large: 1000. This model's maximum context length is 4096 "
        "tokens and your request has 3500 input tokens (1000 > 4096 - 3500).",
        None,
        None,
        Overflow(4096, 3500),
    ),
    (
        "vLLM, decoder prompt",
        "The decoder prompt (length 5000) is longer than the maximum model length of 4096. Make sure that "
        "`max_model_len` is no smaller than the number of text tokens.",
        None,
        None,
        Overflow(4096, 5000),
    ),
    (
        "Anthropic via Puter (upstream_bad_request)",
        "prompt is too long: 210012 tokens > 200000 maximum",
        "upstream_bad_request",
        {"code": "upstream_bad_request", "upstreamStatus": 400},
        Overflow(200000, 210012),
    ),
    (
        "Gemini via Puter",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        "upstream_bad_request",
        None,
        Overflow(1048576, 1200000),
    ),
    (
        "Mistral via Puter",
        "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
        "upstream_bad_request",
        None,
        Overflow(32768, 40000),
    ),
    (
        "OpenAI via Puter v1 (error_400_from_delegate)",
        "Error 400 from delegate `openai-completion`: This model's maximum context length is 128000 tokens. "
        "However, your messages resulted in 130511 tokens.",
        "error_400_from_delegate",
        None,
        Overflow(128000, 130511),
    ),
    ("LM Studio (MLX)", "Context size has been exceeded.", None, None, Overflow()),
    ("Ollama", "input length exceeds the context length", None, None, Overflow()),
]

NOT_OVERFLOWS = [
    ("model 'x' not found", None),
    ("'messages' is required", None),
    ("Model not found: gpt-9", "bad_request"),
    ("max_tokens must be at least 1, got 0.", None),
    ("Too many requests.", "too_many_requests"),
    ("The context parameter is not supported", None),
]


@pytest.mark.parametrize(("who", "message", "code", "body", "expected"), RECORDED, ids=[r[0] for r in RECORDED])
def test_every_recorded_overflow_is_recognised_with_its_window(who, message, code, body, expected):
    assert context_overflow(message, code, body) == expected


@pytest.mark.parametrize(("message", "code"), NOT_OVERFLOWS)
def test_other_refusals_are_not_overflows(message, code):
    assert context_overflow(message, code) is None


@pytest.mark.parametrize("server", sorted(OVERFLOWS))
def test_the_local_servers_overflow_answers_become_context_overflow_naming_the_window(server):
    status, body = OVERFLOWS[server](1531, 512)
    message, code = openai_wire.error_fields(body)
    error = openai_wire.refine(status_error(status, message, code=code, body=body))
    assert isinstance(error, ContextOverflow) and isinstance(error, BadRequest)
    assert error.window == 512
    assert "512 tokens" in error.one_line()
    assert "/usr/local" not in error.one_line() and "site-packages" not in error.one_line()


def test_other_errors_keep_their_class():
    error = openai_wire.refine(status_error(400, "model 'x' not found", code="invalid_request_error"))
    assert type(error) is ModelNotFound
    assert type(openai_wire.refine(status_error(500, "CUDA out of memory"))) is ServerError


def test_a_traceback_keeps_its_exception_line_and_loses_its_frames_and_paths():
    text = OVERFLOWS["llama-cpp-python"](2285, 2048)[1]
    assert without_internals(text) == "ValueError: Requested tokens (2285) exceed context window of 2048"


def test_paths_become_file_names_and_node_frames_go():
    text = (
        "Error: upstream failed at /srv/puter/src/backend/drivers/ai-chat/ChatCompletionDriver.ts:592:17\n"
        "    at Object.complete (/srv/puter/node_modules/openai/core.js:12:3)\n"
        "    at /srv/puter/src/backend/server.js:944:9"
    )
    assert without_internals(text) == "Error: upstream failed at ChatCompletionDriver.ts:592:17"


def test_text_without_internals_is_left_as_it_is():
    for text in ("model 'x' not found", "use 1/2 of the budget", "see https://example.com/a/b/c.html", "a\n\nb"):
        assert without_internals(text) == text


# llama-server b11669 with a text-only GGUF (no --mmproj), recorded here: the same 500 streamed or not
LLAMA_NO_PROJECTOR = {
    "error": {
        "code": 500,
        "message": "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
        "type": "server_error",
    }
}


def test_llama_servers_refusal_of_an_image_is_one_line_naming_the_server():
    error = openai_wire.error_from(500, LLAMA_NO_PROJECTOR, server="http://127.0.0.1:8080/v1")
    assert type(error) is BadRequest and error.status_code == 500
    assert error.one_line() == (
        "the server at http://127.0.0.1:8080/v1 cannot read images (no multimodal projector loaded)"
        " — pick a model that reads images, or leave the image out"
    )


def test_llama_servers_refusal_of_audio_says_audio():
    body = {
        "error": {
            **LLAMA_NO_PROJECTOR["error"],
            "message": "audio input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
        }
    }
    error = openai_wire.error_from(500, body)
    assert error.one_line() == (
        "the server cannot read audio (no multimodal projector loaded) — pick a model that reads audio, or leave the"
        " audio out"
    )


def test_other_refusals_are_not_about_images():
    assert unreadable_input("the image was too large") is None
    assert unreadable_input("'messages' is required") is None
