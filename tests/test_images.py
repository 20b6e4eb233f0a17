"""Images into the conversation (issue 16): notebook objects as image parts (core/images.py), placed where their
reference stands (core/interpolate.py), counted against the budget, refused for models that read none, and
stored once beside a save (core/image_store.py)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from puter_magic.core import image_codec
from puter_magic.core.conversation import Conversations, Turn
from puter_magic.core.images import MAX_SIDE, picture_of, to_picture
from puter_magic.core.interpolate import interpolate_parts
from puter_magic.core.media_models import refuse_blind_model
from puter_magic.core.threads import MESSAGE_OVERHEAD, message_tokens
from puter_magic.datatypes import Message, ModelInfo
from puter_magic.errors import InputError

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def decoded(url: str) -> Image.Image:
    media_type, data = image_codec.decode_data_url(url) or ("", b"")
    assert media_type in ("image/png", "image/jpeg")
    return Image.open(io.BytesIO(data))


@pytest.fixture
def figure():
    fig = plt.figure(figsize=(19.2, 10.8), dpi=100)
    plt.plot([1, 3, 2])
    yield fig
    plt.close("all")


def test_a_large_figure_is_downscaled_to_the_longest_side_and_sent_as_png(figure):
    picture = to_picture(figure)
    assert picture.data.startswith(image_codec.PNG_SIGNATURE)
    assert (picture.width, picture.height) == (1568, 882) and picture.original == (1920, 1080)
    assert decoded(picture.part()["image_url"]["url"]).size == (1568, 882)
    assert picture.describe().startswith("1568×882 PNG") and "downscaled from 1920×1080" in picture.describe()
    assert to_picture(plt).data == picture.data, "@{plt} is the current figure"
    small = to_picture(figure.axes[0], max_side=3000)  # an Axes stands for its figure
    assert (small.width, small.height, small.original) == (1920, 1080, None)


def test_the_artists_a_plotting_call_returned_stand_for_their_figure(figure):
    lines = plt.plot([2, 1, 3])  # what a cell ending in plt.plot(...) leaves in Out[N]
    bars = plt.bar([1, 2], [3, 4])
    whole = to_picture(figure, max_side=400).data
    assert to_picture(lines, max_side=400).data == whole
    assert to_picture(bars, max_side=400).data == whole, "a bar container is a tuple of rectangles"
    parts = interpolate_parts("what is wrong with @{Out[7]}?", {"Out": {7: lines}}, lambda v: picture_of(v).part())
    assert [part["type"] for part in parts] == ["text", "image_url", "text"]
    other = plt.figure()
    mixed = [*lines, *other.add_subplot().plot([1, 2])]
    assert picture_of(mixed) is None, "artists of two figures name no one picture: the list stays text"
    assert picture_of([1, 2]) is None and picture_of([]) is None


def test_an_empty_current_figure_is_a_one_line_error():
    plt.close("all")
    with pytest.raises(InputError, match="the figure is empty") as caught:
        to_picture(plt)
    assert "fig = plt.gcf()" in caught.value.one_line()


def test_numpy_arrays_pil_images_bytes_and_files(tmp_path):
    rgb = np.zeros((20, 30, 3), dtype=np.uint8)
    rgb[:, :, 0] = 255
    image = decoded(to_picture(rgb).data_url())
    assert image.size == (30, 20) and image.getpixel((3, 3)) == (255, 0, 0)
    floats = to_picture(np.full((4, 5, 4), 0.5))
    assert decoded(floats.data_url()).getpixel((0, 0)) == (128, 128, 128, 128)
    assert to_picture(np.zeros((8, 8), dtype=np.uint8)).width == 8
    big = to_picture(np.zeros((4000, 100, 3), dtype=np.uint8))
    assert max(big.width, big.height) <= MAX_SIDE and big.original == (100, 4000)

    pil = Image.new("RGB", (3000, 1500), "blue")
    assert decoded(to_picture(pil).data_url()).size == (1568, 784)
    png = io.BytesIO()
    Image.new("L", (40, 10)).save(png, format="PNG")
    as_bytes = to_picture(png.getvalue())
    assert as_bytes.data == png.getvalue() and (as_bytes.width, as_bytes.height) == (40, 10), "small: sent as is"
    path = tmp_path / "plot.png"
    path.write_bytes(png.getvalue())
    assert to_picture(path).data == png.getvalue() == to_picture(str(path)).data
    jpeg = io.BytesIO()
    Image.new("RGB", (2000, 1000)).save(jpeg, format="JPEG")
    shrunk = to_picture(jpeg.getvalue())
    assert shrunk.media_type == "image/jpeg" and (shrunk.width, shrunk.height) == (1568, 784)


def test_urls_pass_through_and_plain_values_are_no_images():
    url = "https://example.com/chart.png?v=2"
    assert to_picture(url).part() == {"type": "image_url", "image_url": {"url": url}}
    for value in ("hello", "chart.png", "https://example.com/page", 3, np.zeros((5, 5)), [1, 2], b"not an image"):
        assert picture_of(value) is None
    with pytest.raises(InputError) as caught:
        to_picture(3)
    assert caught.value.one_line().startswith("cannot send a value of type int as an image — pass a matplotlib")


def test_an_ipython_image(tmp_path):
    from IPython.display import Image as IPythonImage

    png = image_codec.encode_png(bytes(3 * 4 * 2), 4, 2, 3)
    assert to_picture(IPythonImage(data=png)).data == png


def test_images_stand_where_their_reference_stands(figure):
    sent = []

    def image(value):
        picture = picture_of(value)
        if picture is not None:
            sent.append(picture)
        return None if picture is None else picture.part()

    parts = interpolate_parts("before @{fig} middle @{n} after @{fig}", {"fig": figure, "n": 7}, image)
    assert [part["type"] for part in parts] == ["text", "image_url", "text", "image_url"]
    assert [part.get("text") for part in parts] == ["before ", None, " middle 7 after ", None]
    assert len(sent) == 1, "a reference repeated is converted once"
    assert interpolate_parts("no images: @{n}", {"n": 7}, image) == "no images: 7"
    assert interpolate_parts(r"\@{fig}", {"fig": figure}, image) == "@{fig}"


def test_an_image_counts_against_the_budget_and_trims_with_its_turn():
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    message = Message("user", [{"type": "text", "text": "abcd"}, part])
    assert message_tokens(message) == 1 + image_codec.IMAGE_TOKENS + MESSAGE_OVERHEAD
    conversations = Conversations()
    conversations.record(Turn([{"type": "text", "text": "old"}, part], "seen"))
    conversations.record(Turn("recent", "ok"))
    kept = conversations.messages("now", budget=image_codec.IMAGE_TOKENS)
    assert [m.text for m in kept] == ["recent", "ok", "now"], "the turn with the image went, whole"
    roomy = conversations.messages("now", budget=image_codec.IMAGE_TOKENS * 2)
    assert roomy[0].content == [{"type": "text", "text": "old"}, part]


def test_a_model_that_reads_no_images_is_refused_naming_those_that_do():
    models = [
        ModelInfo("gpt-x", input_modalities=("text",)),
        ModelInfo("claude-y", input_modalities=("text", "image", "pdf")),
        ModelInfo("mystery"),
    ]
    with pytest.raises(InputError) as caught:
        refuse_blind_model("gpt-x", models[0], models)
    assert caught.value.one_line().startswith("gpt-x does not read images; models that do: claude-y —")
    refuse_blind_model("claude-y", models[1], models)
    refuse_blind_model("mystery", models[2], models)  # the server said nothing: sent, its refusal translated


def test_images_are_stored_once_beside_a_save_and_read_back(tmp_path):
    png = image_codec.encode_png(bytes(4 * 4 * 3), 4, 4, 3)
    part = image_codec.image_part(image_codec.data_url("image/png", png))
    conversations = Conversations()
    for number in range(3):
        conversations.record(Turn([{"type": "text", "text": f"look {number}"}, part], "seen", key=f"c{number}"))
    path = tmp_path / "chat.json"
    conversations.save(path)
    stored = list((tmp_path / "chat.images").iterdir())
    assert [file.suffix for file in stored] == [".png"] and stored[0].read_bytes() == png
    saved = json.loads(path.read_text())
    prompt = saved["threads"]["default"]["turns"][0]["prompt"]
    assert prompt[1] == {"type": "image_file", "path": f"chat.images/{stored[0].name}"}
    assert "base64" not in path.read_text()
    assert Conversations.load(path) == conversations
    stored[0].unlink()
    with pytest.raises(InputError, match="cannot read its image"):
        Conversations.load(path)


def test_history_shows_thumbnails_and_a_transcript_links_the_stored_file(tmp_path):
    url = image_codec.data_url("image/png", image_codec.encode_png(bytes(3), 1, 1, 3))
    conversations = Conversations()
    conversations.record(Turn([{"type": "text", "text": "what is this?"}, image_codec.image_part(url)], "a dot"))
    markdown = conversations.to_markdown()
    assert f'<img src="{url}" alt="image" width="160">' in markdown and "what is this?" in markdown
    assert "[image]" in conversations.to_markdown(image=lambda u: "[image]")
    conversations.save(tmp_path / "chat.md")
    [stored] = (tmp_path / "chat.images").iterdir()
    assert f"![image](chat.images/{stored.name})" in (tmp_path / "chat.md").read_text()


def test_the_stdlib_png_encoder_writes_what_pillow_reads():
    pixels = bytes(range(256)) * 3
    image = Image.open(io.BytesIO(image_codec.encode_png(pixels, 16, 16, 3)))
    assert image.size == (16, 16) and image.tobytes() == pixels
    assert image_codec.image_size(base64.b64decode(base64.b64encode(image_codec.encode_png(b"\0", 1, 1, 1)))) == (1, 1)
    with pytest.raises(ValueError):
        image_codec.encode_png(b"\0\0", 1, 1, 1)


def test_file_references_become_images(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("dot.png").write_bytes(image_codec.encode_png(bytes(3), 1, 1, 3))
    parts = interpolate_parts("see @{file:dot.png}", {}, lambda v: {"type": "image_url", "image_url": {"url": str(v)}})
    assert parts == [{"type": "text", "text": "see "}, {"type": "image_url", "image_url": {"url": "dot.png"}}]
