"""The local Puter server against shared/puter-recorded-2.md §7 and §8 (numbered as there): image parts in chat
messages, and the other AI drivers (image and video generation, text-to-speech, OCR, speech-to-text,
speech-to-speech) with their model lists, both on the keyless backend (§8a) and with providers configured (§8b);
then what goes beyond the recordings: the local, deterministic results, their metering and their errors.

Raw httpx over the real socket, as in test_local_server.py (whose helpers this file reuses).
"""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

import httpx
import pytest
from test_local_server import JSON_TYPE, Http, assert_matches, chat, compact, err, json_of, ndjson_lines, recorded_chat

from puter_magic.testing import media

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
PNG_URL = f"data:image/png;base64,{PNG_1X1}"
WAV_URL = "data:audio/wav;base64,UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="
WHAT = {"type": "text", "text": "what is this"}
IMAGE = "puter-image-generation"
CAT = "a cat in a hat"
MISSING_MODEL = err("Missing `model`", "bad_request")
INTERNAL = err("Internal Server Error", "internal_error")


def image_url(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def parts_chat(model: str, *parts: dict[str, Any], **args: Any) -> dict[str, Any]:
    return chat(model, messages=[{"role": "user", "content": list(parts)}], **args)


def call(interface: str, method: str, driver: str | None = None, **args: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"interface": interface}
    if driver is not None:
        body["driver"] = driver
    return body | {"method": method, "args": args}


def ok(result: Any, service: str) -> bytes:
    return compact({"success": True, "result": result, "service": {"name": service}})


def assert_answer(response: httpx.Response, status: int, body: bytes) -> None:
    """Status, content type and the body byte for byte (which is also the recorded Content-Length)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_TYPE
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))


@pytest.fixture
def keyless(http: Http) -> Http:
    """The backend of §8a: no keys for any AI provider."""
    http.server.state.settings.media_providers = False
    return http


# -- §7 image parts in chat messages ----------------------------------------------------------------------------


def test_113_image_url_part_is_accepted_and_logged(http: Http) -> None:
    assert_matches(
        json_of(http.call(parts_chat("fake", WHAT, image_url(PNG_URL)))), recorded_chat(), frozenset({"text"})
    )
    [part] = http.server.state.last_image_parts()
    assert (part.message, part.kind, part.url, part.media_type) == (0, "image_url", PNG_URL, "image/png")
    assert part.data == base64.b64decode(PNG_1X1) and media.png_size(part.data) == (1, 1)


def test_114_image_url_part_streamed(http: Http) -> None:
    response, raw = http.stream(parts_chat("fake", WHAT, image_url(PNG_URL), stream=True))
    assert [line["type"] for line in ndjson_lines(response, raw)] == ["text", "usage"]
    assert raw.split(b"\n")[-2] == b'{"type":"usage","usage":{"usd_cents":null}}'
    assert http.server.state.last_image_parts()[0].data == base64.b64decode(PNG_1X1)


def test_115_costly_counts_the_text_parts_only(http: Http) -> None:
    body = json_of(http.call(parts_chat("costly", WHAT, image_url(PNG_URL))))
    assert_matches(body, recorded_chat("costly", 3, 173), frozenset({"text", "output_tokens"}))
    assert body["result"]["usage"]["input_tokens"] == 3  # ceil(len("what is this") / 4): the image adds nothing


def test_116_image_only_message(http: Http) -> None:
    assert_matches(json_of(http.call(parts_chat("fake", image_url(PNG_URL)))), recorded_chat(), frozenset({"text"}))
    assert [part.kind for part in http.server.state.last_image_parts()] == ["image_url"]


def test_117_anthropic_image_block(http: Http) -> None:
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1}}
    assert_matches(json_of(http.call(parts_chat("fake", WHAT, block))), recorded_chat(), frozenset({"text"}))
    [part] = http.server.state.last_image_parts()
    assert (part.kind, part.url, part.media_type, part.data) == ("image", None, "image/png", base64.b64decode(PNG_1X1))


def test_118_a_data_url_that_is_not_base64_is_accepted_all_the_same(http: Http) -> None:
    bad = "data:image/png;base64,%%%not-base64%%%"
    assert_matches(json_of(http.call(parts_chat("fake", WHAT, image_url(bad)))), recorded_chat(), frozenset({"text"}))
    [part] = http.server.state.last_image_parts()
    assert (part.url, part.media_type, part.data) == (bad, "image/png", None)


def test_https_image_urls_pass_and_are_logged_as_sent(http: Http) -> None:
    url = "https://example.com/plot.png"
    second = {"role": "user", "content": [WHAT, {"image_url": {"url": PNG_URL}}]}  # a part without "type"
    messages = [{"role": "user", "content": [image_url(url)]}, {"role": "assistant", "content": "a plot"}, second]
    assert json_of(http.call(chat("echo", messages=messages)))["result"]["message"]["content"] == "what is this"
    parts = http.server.state.last_image_parts()
    assert [(p.message, p.url, p.data, p.is_data) for p in parts] == [
        (0, url, None, False),
        (2, PNG_URL, base64.b64decode(PNG_1X1), True),
    ]
    http.call(call(IMAGE, "list", "ai-image"))  # a later request without messages does not hide them
    assert len(http.server.state.last_image_parts()) == 2


# -- §8a the keyless backend --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "body", "status", "expected"),
    [
        (119, call(IMAGE, "generate", "ai-image", prompt=CAT), 400, MISSING_MODEL),
        (
            120,
            call(IMAGE, "generate", "ai-image", prompt=CAT, model="gpt-image-1-mini"),
            400,
            err("Model not found: gpt-image-1-mini", "bad_request"),
        ),
        (121, call(IMAGE, "generate", "ai-image", prompt=CAT, test_mode=True), 400, MISSING_MODEL),
        (122, call(IMAGE, "generate", "openai-image-generation", prompt=CAT, test_mode=True), 400, MISSING_MODEL),
        (
            125,
            call("puter-tts", "synthesize", "ai-tts", text="hello world"),
            400,
            err("TTS provider not configured: aws-polly. Available: ", "bad_request"),
        ),
        (
            126,
            call("puter-tts", "synthesize", "ai-tts", text="hello world", test_mode=True),
            400,
            err("TTS provider not configured: aws-polly. Available: ", "bad_request"),
        ),
        (
            127,
            call("puter-tts", "synthesize", "ai-tts", text="hello world", provider="openai", test_mode=True),
            400,
            err("TTS provider not configured: openai. Available: ", "bad_request"),
        ),
        (
            132,
            call("puter-ocr", "recognize", "ai-ocr", source=PNG_URL),
            500,
            err("No OCR provider configured", "internal_error"),
        ),
        (133, call("puter-video-generation", "generate", "ai-video", prompt="a cat walking"), 500, INTERNAL),
        (
            134,
            call("puter-video-generation", "generate", "ai-video", prompt="a cat walking", test_mode=True),
            500,
            INTERNAL,
        ),
        (
            138,
            call("puter-speech2txt", "transcribe", "ai-speech2txt", file=WAV_URL),
            500,
            err("OpenAI API key not configured", "internal_error"),
        ),
        (
            142,
            call("puter-speech2speech", "convert", "ai-speech2speech", audio=WAV_URL, voice="abc"),
            500,
            err("ElevenLabs API key not configured", "internal_error"),
        ),
    ],
)
def test_keyless_refusals(keyless: Http, number: int, body: dict[str, Any], status: int, expected: Any) -> None:
    assert_answer(keyless.call(body), status, compact(expected))


@pytest.mark.parametrize(
    ("number", "interface", "method", "service"),
    [
        (123, IMAGE, "models", "ai-image"),
        (124, IMAGE, "list", "ai-image"),
        (128, "puter-tts", "list", "ai-tts"),
        (129, "puter-tts", "list_voices", "ai-tts"),
        (130, "puter-tts", "list_engines", "ai-tts"),
        (135, "puter-video-generation", "models", "ai-video"),
    ],
)
def test_keyless_lists_are_empty(keyless: Http, number: int, interface: str, method: str, service: str) -> None:
    assert_answer(keyless.call(call(interface, method, service)), 200, ok([], service))


SAMPLE_OCR = {
    "blocks": [
        {
            "type": "text/puter:sample-output",
            "confidence": 1,
            "text": "test_mode is enabled; this is a sample OCR response.",
        }
    ]
}
SAMPLE_TRANSCRIPT = {
    "text": "Hello! This is a sample transcription returned while test mode is enabled.",
    "language": "en",
    "duration_seconds": 2,
    "words": [
        {"start": 0, "end": 0.5, "text": "Hello"},
        {"start": 1.1, "end": 2, "text": "This is a sample transcription."},
    ],
}
SAMPLE_AUDIO = "https://puter-sample-data.puter.site/tts_example.mp3"


@pytest.mark.parametrize("configured", [False, True])
def test_131_136_137_141_test_mode_samples_answer_even_without_keys(http: Http, configured: bool) -> None:
    http.server.state.settings.media_providers = configured
    ocr = http.call(call("puter-ocr", "recognize", "ai-ocr", source=PNG_URL, test_mode=True))
    assert_answer(ocr, 200, ok(SAMPLE_OCR, "ai-ocr"))
    assert len(ocr.content) == 179
    for method, model, length in (("transcribe", "gpt-4o-mini-transcribe", 326), ("translate", "whisper-1", 313)):
        response = http.call(call("puter-speech2txt", method, "ai-speech2txt", file=WAV_URL, test_mode=True))
        assert_answer(response, 200, ok(SAMPLE_TRANSCRIPT | {"model": model}, "ai-speech2txt"))
        assert len(response.content) == length
    convert = call("puter-speech2speech", "convert", "ai-speech2speech", audio=WAV_URL, voice="abc", test_mode=True)
    sample = {"url": SAMPLE_AUDIO, "content_type": "audio/mpeg"}
    assert_answer(http.call(convert), 200, ok(sample, "ai-speech2speech"))


RECORDED_140_START = (
    b'{"success":true,"result":[{"id":"gpt-4o-mini-transcribe","name":"gpt-4o-mini-transcribe","type":"transcription",'
    b'"response_formats":["json","text"],"supports_prompt":true,"supports_logprobs":true},'
)


@pytest.mark.parametrize("configured", [False, True])
def test_139_140_speech_to_text_lists_its_providers_even_without_keys(http: Http, configured: bool) -> None:
    http.server.state.settings.media_providers = configured
    listed = http.call(call("puter-speech2txt", "list", "ai-speech2txt"))
    assert_answer(listed, 200, ok(["openai", "xai"], "ai-speech2txt"))
    models = http.call(call("puter-speech2txt", "list_models", "ai-speech2txt"))
    assert json_of(models)["result"][-1] == {
        "id": "whisper-1",
        "name": "whisper-1",
        "type": "translation",
        "response_formats": ["json", "text", "srt", "verbose_json", "vtt"],
        "supports_prompt": True,
        "supports_logprobs": False,
        "supports_timestamp_granularities": True,
    }
    assert models.content.startswith(RECORDED_140_START) and len(models.content) == 824
    assert [model["id"] for model in models.json()["result"]] == [
        "gpt-4o-mini-transcribe",
        "gpt-4o-transcribe",
        "gpt-4o-transcribe-diarize",
        "whisper-1",
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/puterai/image/models",
        "/puterai/image/models/details",
        "/puterai/video/models",
        "/puterai/video/models/details",
    ],
)
def test_143_to_146_keyless_public_model_lists_are_empty(keyless: Http, path: str) -> None:
    assert_answer(keyless.api("GET", path, token=None), 200, b'{"models":[]}')


# -- §8b providers configured (the default) ---------------------------------------------------------------------

SAMPLE_IMAGE = ok("https://puter-sample-data.puter.site/image_example.png", "ai-image")
RECORDED_152 = ["openai:openai/gpt-image-1", "openai:openai/gpt-image-1-mini", "openai:openai/gpt-image-1.5"]
RECORDED_152 += ["openai:openai/gpt-image-2"]
RECORDED_154_START = (
    b'{"models":[{"puterId":"openai:openai/gpt-image-1","id":"gpt-image-1","aliases":["openai/gpt-image-1"],'
    b'"name":"GPT Image 1","version":"1.0","costs_currency":"usd-cents","index_cost_key":"low:1024x1024",'
    b'"costs":{"text_input":500,"text_cached_input":125,"image_input":1000,"image_cached_input":250,'
    b'"image_output":4000,"low:1024x1024":1.1,"low:1024x1536":1.6,"low:1536x1024":1.6,"medium:1024x1024":4.2,'
    b'"medium:1024x1536":6.3,"medium:1536x1024":6.3,"high:1024x1024":16.7,"high:1024x1536":25,"high:1536x1024":25},'
    b'"allowedQualityLevels":["low","medium","high"],"allowedRatios":[{"w":1024,"h":1024},{"w":1024,"h":1536},'
    b'{"w":1536,"h":1024}],"provider":"openai-image-generation"},{"puterId":"openai:openai/gpt-image-1-mini",'
    b'"id":"gpt-image-1-mini","aliases":["openai/gpt-image-1-mini"],"name":"GPT Image 1 Mini","version":"1.0",'
    b'"costs_currency":"usd-cents","index_cost_key":"low:1024x1024","costs":{"text_input":200,'
    b'"text_cached_input":20,"image_input":250,"image_cached_input":25,"image_output":800,"low:1024x1024":0.5,'
    b'"low:1024x1536":0.6,"low:1536x1024":0.6,"medium:1024x1024":1.1,"medium:1024x1536":1.5,'
    b'"medium:1536x1024":1.5,"high:1024x1024":3.6,"high:1024x1536":5.2,"high:1536x1024":5.2},'
    b'"allowedQualityLevels":["low","medium","high"],"allowedRatios":[{"w":1024,"h":1024},{"w":1024,"h":1536},'
    b'{"w":1536,"h":1024}],"provider":"openai-image-generation"},{"puterId":"openai:openai/gpt-image-1.5",'
    b'"id":"gpt-image-1.5","aliases":["openai/gpt-image-1.5"],"name":"GPT Image 1.5","version":"1.5",'
    b'"costs_currency":"'  # where the recording was cut
)
VOICE = {"language": {"name": "English", "code": "en"}, "provider": "openai"}
ALL_ENGINES = ["gpt-4o-mini-tts", "tts-1", "tts-1-hd"]
RECORDED_159 = [
    {"id": "gpt-4o-mini-tts", "name": "GPT-4o mini TTS", "pricing_per_million_chars": 15, "provider": "openai"},
    {"id": "tts-1", "name": "TTS 1", "pricing_per_million_chars": 15, "provider": "openai"},
    {"id": "tts-1-hd", "name": "TTS 1 HD", "pricing_per_million_chars": 30, "provider": "openai"},
]
SAMPLE_VIDEO = ok("https://assets.puter.site/txt2vid.mp4", "ai-video")
RECORDED_163 = (
    b'{"models":[{"id":"sora-2","puterId":"openai:openai/sora-2","aliases":["openai/sora-2","openai:openai/sora-2",'
    b'"sora-2"],"name":"Sora 2","costs_currency":"usd-cents","costs":{"per-second":10,"default-duration-per-video":40},'
    b'"output_cost_key":"default-duration-per-video","durationSeconds":[4,8,12],"dimensions":["720x1280","1280x720"],'
    b'"defaultUsageKey":"openai:sora-2:default","provider":"openai-video-generation"},{"id":"sora-2-pro",'
    b'"puterId":"openai:openai/sora-2-pro","aliases":["openai/sora-2-pro","openai:openai/sora-2-pro","sora-2-pro"],'
    b'"name":"Sora 2 Pro","costs_currency":"usd-cents","costs":{"per-second":30,"default-duration-per-video":120,'
    b'"per-second-xl":50,"default-duration-per-video-xl":200,"per-second-xxl":70,"default-duration-per-video-xxl":280},'
    b'"output_cost_key":"default-duration-per-video","durationSeconds":[4,8,12],"dimensions":["720x1280","1280x720",'
    b'"1024x1792","1792x1024","1080x1920","1920x1080"],"defaultUsageKey":"openai:sora-2-pro:default",'
    b'"provider":"openai-video-generation"}]}'
)


def test_147_driver_ai_image_without_a_model_is_refused_even_with_a_provider(http: Http) -> None:
    body = call(IMAGE, "generate", "ai-image", prompt=CAT, test_mode=True)
    assert_answer(http.call(body), 400, compact(MISSING_MODEL))


@pytest.mark.parametrize(
    ("number", "body"),
    [
        (148, call(IMAGE, "generate", prompt=CAT, test_mode=True)),
        (149, call(IMAGE, "generate", "ai-image", prompt=CAT, model="gpt-image-1", test_mode=True)),
        (150, call(IMAGE, "generate", "ai-image", prompt=CAT, provider="openai-image-generation", test_mode=True)),
        (151, call(IMAGE, "generate", "openai-image-generation", prompt=CAT, test_mode=True)),
    ],
)
def test_148_to_151_image_test_mode(http: Http, number: int, body: dict[str, Any]) -> None:
    response = http.call(body)
    assert_answer(response, 200, SAMPLE_IMAGE)
    assert len(response.content) == 112


def test_152_153_154_image_model_lists(http: Http) -> None:
    assert_answer(http.call(call(IMAGE, "list", "ai-image")), 200, ok(RECORDED_152, "ai-image"))
    assert_answer(http.api("GET", "/puterai/image/models", token=None), 200, compact({"models": RECORDED_152}))
    details = http.api("GET", "/puterai/image/models/details", token=None)
    assert details.status_code == 200 and details.headers["content-type"] == JSON_TYPE
    assert details.content.startswith(RECORDED_154_START) and len(details.content) == 2490
    models = json_of(http.call(call(IMAGE, "models", "ai-image")))["result"]
    assert models == details.json()["models"]


def test_155_156_tts_test_mode(http: Http) -> None:
    sample = ok({"url": SAMPLE_AUDIO, "content_type": "audio"}, "ai-tts")
    assert_answer(http.call(call("puter-tts", "synthesize", "ai-tts", text="hello world", test_mode=True)), 200, sample)
    body = call(
        "puter-tts", "synthesize", "ai-tts", text="hello world", provider="openai", voice="alloy", test_mode=True
    )
    assert_answer(http.call(body), 200, sample)
    assert len(sample) == 139


def test_157_158_159_tts_lists(http: Http) -> None:
    assert_answer(http.call(call("puter-tts", "list", "ai-tts")), 200, ok(["openai"], "ai-tts"))
    voices = http.call(call("puter-tts", "list_voices", "ai-tts"))
    assert len(voices.content) == 1549
    result = json_of(voices)["result"]
    assert [voice["id"] for voice in result[:10]] == [
        "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"
    ]  # fmt: skip
    assert result[0] == {"id": "alloy", "name": "Alloy", **VOICE, "supported_models": ALL_ENGINES}
    assert all(list(voice) == ["id", "name", "language", "provider", "supported_models"] for voice in result)
    assert_answer(http.call(call("puter-tts", "list_engines", "ai-tts")), 200, ok(RECORDED_159, "ai-tts"))


def test_160_161_162_163_video(http: Http) -> None:
    for args in ({}, {"model": "sora-2"}):
        body = call("puter-video-generation", "generate", "ai-video", prompt="a cat walking", test_mode=True, **args)
        assert_answer(http.call(body), 200, SAMPLE_VIDEO)
    listed = ok(["openai:openai/sora-2", "openai:openai/sora-2-pro"], "ai-video")
    assert_answer(http.call(call("puter-video-generation", "list", "ai-video")), 200, listed)
    assert_answer(http.api("GET", "/puterai/video/models/details", token=None), 200, RECORDED_163)
    names = compact({"models": ["openai:openai/sora-2", "openai:openai/sora-2-pro"]})
    assert_answer(http.api("GET", "/puterai/video/models", token=None), 200, names)


# -- beyond the recordings: local results, metering, errors ----------------------------------------------------


def usage(http: Http) -> dict[str, Any]:
    return json_of(http.api("GET", "/metering/usage"))["usage"]


def test_image_generation_draws_a_png_of_the_asked_size_and_meters_it(http: Http) -> None:
    before = json_of(http.api("GET", "/metering/usage"))["allowanceInfo"]["remaining"]
    body = call(IMAGE, "generate", prompt=CAT, model="gpt-image-1", ratio={"w": 1536, "h": 1024}, quality="high")
    result = json_of(http.call(body))["result"]
    assert result.startswith("data:image/png;base64,")
    png = base64.b64decode(result.removeprefix("data:image/png;base64,"), validate=True)
    assert media.png_size(png) == (1536, 1024) and media.png_text(png) == CAT
    assert json_of(http.call(body))["result"] == result, "the same prompt draws the same picture"
    spent = usage(http)
    assert spent["openai:gpt-image-1:high:1536x1024:output"] == {"units": 2, "cost": 50_000_000, "count": 2}
    # 5 tokens a prompt
    assert spent["openai:gpt-image-1:high:1536x1024:input"] == {"units": 10, "cost": 5000, "count": 2}
    remaining = json_of(http.api("GET", "/metering/usage"))["allowanceInfo"]["remaining"]
    assert before - remaining == 50_005_000


def test_image_generation_defaults_to_the_first_size_and_quality(http: Http) -> None:
    body = call(IMAGE, "generate", "openai-image-generation", prompt="x", ratio={"w": 10, "h": 10}, quality="ultra")
    png = base64.b64decode(json_of(http.call(body))["result"].split(",", 1)[1])
    assert media.png_size(png) == (1024, 1024)
    assert set(usage(http)) >= {"openai:gpt-image-1-mini:low:1024x1024:output"}


def test_image_generation_without_credit_is_402_with_the_upgrade_header(http: Http) -> None:
    http.server.state.set_remaining("admin", 0)
    response = http.call(call(IMAGE, "generate", prompt=CAT, model="gpt-image-1"))
    assert_answer(response, 402, compact(err("Insufficient credits for image generation", "insufficient_funds")))
    assert response.headers["x-needs-upgrade"] == "true"
    assert_answer(
        http.call(call(IMAGE, "generate", prompt=CAT, model="gpt-image-1", test_mode=True)), 200, SAMPLE_IMAGE
    )


def test_an_unconfirmed_account_gets_403_from_every_ai_driver(http: Http) -> None:
    http.server.state.add_user("rp_bob", "bob-password", email="bob@example.com", requires_email_confirmation=True)
    token = http.server.state.issue_token("rp_bob")
    expected = compact(err("Please confirm your email to continue", "email_confirmation_required"))
    for body in (
        call(IMAGE, "generate", prompt=CAT, model="gpt-image-1", test_mode=True),
        call("puter-tts", "synthesize", "ai-tts", text="hello world"),
        call("puter-ocr", "recognize", "ai-ocr", source=PNG_URL, test_mode=True),
    ):
        assert_answer(http.call(body, token=token), 403, expected)


def test_tts_streams_mp3_bytes_that_carry_the_text_and_meters_characters(http: Http) -> None:
    response = http.call(call("puter-tts", "synthesize", "ai-tts", text="hello world", voice="nova"))
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
    assert response.headers["transfer-encoding"] == "chunked" and "content-length" not in response.headers
    assert media.mp3_frames(response.content) == 31 and media.audio_text(response.content) == "hello world"
    assert usage(http)["openai:gpt-4o-mini-tts:character"] == {"units": 11, "cost": 16500, "count": 1}


def test_tts_makes_a_wav_when_asked(http: Http) -> None:
    body = call("puter-tts", "synthesize", "ai-tts", text="hello world", response_format="wav", model="tts-1-hd")
    response = http.call(body)
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as reader:
        assert (reader.getnchannels(), reader.getframerate(), reader.getnframes()) == (1, 16000, 11733)
    assert media.audio_text(response.content) == "hello world"
    assert usage(http)["openai:tts-1-hd:character"]["cost"] == 33000


@pytest.mark.parametrize(
    ("args", "status", "expected"),
    [
        ({}, 400, err("Missing required field: text", "field_required")),
        (
            {"text": "hi", "voice": "bob"},
            400,
            err(
                "Invalid voice: bob. Expected: alloy, ash, ballad, coral, echo, fable, nova, onyx, sage, shimmer",
                "field_invalid",
            ),
        ),
        (
            {"text": "hi", "model": "tts-9"},
            400,
            err("Invalid model: tts-9. Expected: gpt-4o-mini-tts, tts-1, tts-1-hd", "field_invalid"),
        ),
        (
            {"text": "hi", "provider": "aws-polly"},
            400,
            err("TTS provider not configured: aws-polly. Available: openai", "bad_request"),
        ),
    ],
)
def test_tts_refusals(http: Http, args: dict[str, Any], status: int, expected: Any) -> None:
    assert_answer(http.call(call("puter-tts", "synthesize", "ai-tts", **args)), status, compact(expected))


def test_ocr_reads_back_what_image_generation_drew(http: Http) -> None:
    drawn = json_of(http.call(call(IMAGE, "generate", prompt="two lines\nof text", model="gpt-image-1")))["result"]
    blocks = json_of(http.call(call("puter-ocr", "recognize", "ai-ocr", source=drawn)))["result"]["blocks"]
    assert [block["text"] for block in blocks] == ["two lines", "of text"]
    assert list(blocks[0]) == ["type", "confidence", "text"]
    other = json_of(http.call(call("puter-ocr", "recognize", "ai-ocr", source=PNG_URL)))["result"]["blocks"]
    assert [block["text"] for block in other] == [""]


def test_speech_to_text_transcribes_what_tts_said_and_meters_seconds(http: Http) -> None:
    spoken = http.call(call("puter-tts", "synthesize", "ai-tts", text="hello world")).content
    audio = "data:audio/mpeg;base64," + base64.b64encode(spoken).decode()
    body = call("puter-speech2txt", "transcribe", "ai-speech2txt", file=audio)
    assert_answer(http.call(body), 200, ok({"text": "hello world"}, "ai-speech2txt"))
    as_text = call("puter-speech2txt", "translate", "ai-speech2txt", file=audio, response_format="text")
    assert_answer(http.call(as_text), 200, ok("hello world", "ai-speech2txt"))
    assert usage(http)["openai:gpt-4o-mini-transcribe:second"] == {"units": 1, "cost": 5000, "count": 1}
    refused = call("puter-speech2txt", "transcribe", "ai-speech2txt", file=audio, response_format="srt")
    assert_answer(http.call(refused), 400, compact(err("response_format must be one of: json, text", "bad_request")))


def test_speech_to_speech_streams_the_same_words(http: Http) -> None:
    wav = http.call(call("puter-tts", "synthesize", "ai-tts", text="hello", response_format="wav")).content
    audio = "data:audio/wav;base64," + base64.b64encode(wav).decode()
    response = http.call(call("puter-speech2speech", "convert", "ai-speech2speech", audio=audio, voice="abc"))
    assert response.headers["content-type"] == "audio/mpeg" and media.audio_text(response.content) == "hello"


def test_videos_are_never_made_and_unknown_methods_are_404(http: Http) -> None:
    body = call("puter-video-generation", "generate", "ai-video", prompt="a cat walking")
    expected = err("The local Puter server makes no videos; send test_mode:true.", "not_implemented")
    assert_answer(http.call(body), 501, compact(expected))
    missing = err("Method 'draw' not found on driver 'puter-image-generation'", "not_found")
    assert_answer(http.call(call(IMAGE, "draw", "ai-image")), 404, compact(missing))


def test_media_providers_is_a_setting_of_the_control_api(http: Http) -> None:
    response = http.client.post("/__fake__/settings", json={"media_providers": False})
    assert response.status_code == 200 and http.server.state.settings.media_providers is False
    assert_answer(http.api("GET", "/puterai/image/models", token=None), 200, b'{"models":[]}')
