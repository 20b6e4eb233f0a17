"""Image parts to OpenAI-compatible servers and through the proxy.

llama.cpp's llama-server without a multimodal projector (the tiny test models have none) refuses an image in one
line, whether the refusal comes from the server or, once its model list says the model reads only text, before
sending; the local OpenAI-compatible server receives a figure as an `image_url` part with a PNG data URL; the proxy
hands a chat-completions image part from the real openai SDK to the local Puter server unchanged.
"""

from __future__ import annotations

import base64
import io

import matplotlib
import openai
import pytest
from IPython.core.error import UsageError

from puter_magic.core.sessions import Session
from puter_magic.notebook.magics import PuterMagics, unload
from puter_magic.providers import openai_wire
from puter_magic.testing.media import png_image
from puter_magic.testing.openai_server import LocalOpenAI

matplotlib.use("Agg")

PNG = png_image(4, 3, "a tiny picture")
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# llama-server b11669's /v1/models entry for a text-only GGUF (recorded in this repository's test set-up)
LLAMA_MODELS_ITEM = {
    "id": "tiny",
    "aliases": ["tiny"],
    "object": "model",
    "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
    "owned_by": "llamacpp",
    "meta": {"n_ctx": 2048},
}


@pytest.fixture
def magics_on(shell):
    """A function that registers the magics over a fresh Session pointed at a server's base URL."""
    made: list[Session] = []

    def on(base_url: str) -> Session:
        session = Session()
        made.append(session)
        shell.register_magics(PuterMagics(shell, session_=session))
        shell.run_line_magic("puter", f"provider {base_url}")
        return session

    yield on
    unload(shell)
    for session in made:
        session.close()


# --- llama-server without a projector ---------------------------------------------------------------------


def test_a_llama_server_models_list_says_what_the_model_reads_and_writes():
    (info,) = openai_wire.parse_models({"object": "list", "data": [LLAMA_MODELS_ITEM]}, "llama")
    assert (info.input_modalities, info.output_modalities) == (("text",), ("text",))
    assert info.reads("image") is False
    (silent,) = openai_wire.parse_models({"data": [{"id": "m"}]}, "other")
    assert silent.reads("image") is None, "a server that says nothing is not taken to refuse images"


@pytest.mark.parametrize("no_stream", ["", "--no-stream"])
def test_llama_server_refuses_an_image_in_one_line_and_the_thread_is_unchanged(
    shell, magics_on, llama_server, no_stream
):
    session = magics_on(llama_server.base_url)
    shell.run_line_magic("puter", f"model {llama_server.model} --any")  # no model list: the server must refuse
    shell.user_ns["pic"] = PNG
    with pytest.raises(UsageError) as info:
        shell.run_cell_magic("puter", f"--max-tokens 4 {no_stream}", "What is in @{pic}?")
    assert str(info.value) == (
        f"the server at {llama_server.base_url} cannot read images (no multimodal projector loaded)"
        " — pick a model that reads images, or leave the image out"
    )
    assert session.conversations.thread().turns == []
    shell.run_cell_magic("puter", "--max-tokens 4 --quiet", "The same without it")
    assert len(session.conversations.thread().turns) == 1, "the model still answers text"


def test_once_llama_server_listed_its_models_an_image_is_refused_before_sending(shell, magics_on, llama_server):
    session = magics_on(llama_server.base_url)
    shell.run_line_magic("puter", f"model {llama_server.model}")  # checked against the fetched list
    shell.user_ns["pic"] = PNG
    with pytest.raises(UsageError) as info:
        shell.run_cell_magic("puter", "--max-tokens 4", "What is in @{pic}?")
    assert str(info.value).startswith("tiny does not read images, and no model of this provider says it does — ")
    assert session.conversations.thread().turns == []


# --- the local OpenAI-compatible server ---------------------------------------------------------------------


def test_a_figure_reaches_the_local_openai_server_as_an_image_url_part_with_a_png(shell, magics_on):
    from matplotlib.figure import Figure
    from PIL import Image

    figure = Figure(figsize=(2, 1.5), dpi=50)
    figure.add_subplot().plot([1, 3, 2])
    shell.user_ns["fig"] = figure
    with LocalOpenAI() as server:
        session = magics_on(server.base_url)
        shell.run_line_magic("puter", "model echo")
        shell.run_cell_magic("puter", "--quiet", "What is wrong with @{fig} here?")
        body = server.options.seen[-1]["body"]
        (image,) = server.last_image_parts()
    parts = body["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["text", "image_url", "text"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert (image.kind, image.media_type) == ("image_url", "image/png")
    assert image.data is not None and image.data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(image.data)) as decoded:
        decoded.load()
        assert decoded.size == (100, 75)
    assert session.conversations.thread().turns[-1].answer == "What is wrong with  here?"


# --- through the proxy --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_completions_image_part_passes_through_the_proxy(puter_proxy, puter_server, stream):
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": PNG_URL}},
    ]
    client = openai.OpenAI(base_url=puter_proxy.url + "/v1", api_key=puter_proxy.key, max_retries=0, timeout=10)
    with client:
        answer = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": content}], stream=stream
        )
        if stream:
            text = "".join(chunk.choices[0].delta.content or "" for chunk in answer if chunk.choices)
        else:
            text = answer.choices[0].message.content or ""
    assert text
    (image,) = puter_server.state.last_image_parts()
    assert (image.message, image.kind, image.url, image.media_type, image.data) == (
        0,
        "image_url",
        PNG_URL,
        "image/png",
        PNG,
    )
