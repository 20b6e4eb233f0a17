"""Pictures, speech and text out of Puter (issue 16): draw(), speak(), transcribe(), read_text() and the
%%puter --draw / --speak cells, against the local Puter server's drivers (shaped as shared/puter-recorded-2.md §8),
with their refusals as one line."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from puter_magic.core import image_codec, media
from puter_magic.errors import ConfigurationError, InputError, InsufficientFunds, ModelNotFound, PuterError
from puter_magic.testing import media as local_media


def test_draw_uses_the_drivers_first_model_remembers_it_and_saves(session, puter_server, tmp_path):
    image = media.draw("a cat in a hat", size="1536x1024", save=tmp_path / "cat.png", session=session)
    assert isinstance(image, Image.Image) and image.size == (1536, 1024)
    saved = (tmp_path / "cat.png").read_bytes()
    assert local_media.png_text(saved) == "a cat in a hat", "the server drew this prompt"
    sent = puter_server.state.requests[-1].body
    first = media.image_models(session=session)[0].id
    assert sent["args"]["model"] == first and sent["args"]["ratio"] == {"w": 1536, "h": 1024}
    media.draw("again", model="gpt-image-1", session=session)
    media.draw("and again", session=session)
    assert puter_server.state.requests[-1].body["args"]["model"] == "gpt-image-1", "remembered per provider"


def test_speech_round_trips_through_transcription_and_text_through_ocr(session, tmp_path):
    speech = media.speak("hello world", voice="nova", save=tmp_path / "hello.mp3", session=session)
    assert isinstance(speech, bytes) and speech.media_type == "audio/mpeg"
    assert local_media.audio_text(speech) == "hello world" and (tmp_path / "hello.mp3").read_bytes() == speech
    assert speech._repr_html_().startswith('<audio controls="controls"><source src="data:audio/mpeg;base64,')
    assert media.transcribe(tmp_path / "hello.mp3", session=session) == "hello world"
    assert media.transcribe(bytes(speech), session=session) == "hello world"
    media.draw("two lines\nof text", save=tmp_path / "text.png", session=session)
    # the local OCR reads back the text the local drawer wrote into the PNG, so the file is sent as it is
    assert media.read_text(tmp_path / "text.png", session=session) == "two lines\nof text"
    assert [v["id"] for v in media.voices(session=session)][:2] == ["alloy", "ash"]


def one_line(error: PuterError) -> str:
    line = error.one_line()
    assert "\n" not in line and "Traceback" not in line
    return line


def test_a_keyless_server_refuses_in_one_line(session, puter_server):
    puter_server.state.settings.media_providers = False
    with pytest.raises(InputError) as caught:
        media.draw("a cat", session=session)
    assert one_line(caught.value).startswith("this server lists no image models")
    with pytest.raises(ModelNotFound) as not_found:
        media.draw("a cat", model="gpt-image-1-mini", session=session)
    assert one_line(not_found.value).startswith("Model not found: gpt-image-1-mini — `%puter models --images`")
    with pytest.raises(ConfigurationError) as tts:
        media.speak("hello", session=session)
    assert one_line(tts.value).startswith(
        "this Puter server cannot do text-to-speech: TTS provider not configured: aws-polly —"
    )
    with pytest.raises(ConfigurationError, match="cannot do text recognition: No OCR provider configured"):
        media.read_text(image_codec.encode_png(bytes(3), 1, 1, 3), session=session)


def test_no_credit_and_an_unconfirmed_account_are_one_line(session, puter_server):
    puter_server.state.set_remaining("admin", 0)
    with pytest.raises(InsufficientFunds) as caught:
        media.draw("a cat", model="gpt-image-1", session=session)
    assert "Insufficient credits for image generation" in one_line(caught.value)
    puter_server.state.add_user("rp_bob", "pw-bob-123", email="b@example.com", requires_email_confirmation=True)
    session.provider.settings = session.provider.settings.with_token(puter_server.state.issue_token("rp_bob"))
    with pytest.raises(PuterError) as unconfirmed:
        media.speak("hello", session=session)
    assert "confirm" in one_line(unconfirmed.value)


def test_a_provider_other_than_puter_is_told_in_one_line(memory_session):
    with pytest.raises(InputError) as caught:
        media.draw("a cat", model="x", session=memory_session)
    name = memory_session.provider.name
    assert one_line(caught.value).startswith(f"pictures and speech come from Puter; the active provider is {name}")


def test_bad_sizes_and_empty_prompts_fail_before_sending(session, puter_server):
    before = len(puter_server.state.requests)
    for call in (
        lambda: media.draw("a cat", model="gpt-image-1", size="big", session=session),
        lambda: media.draw("  ", model="gpt-image-1", session=session),
        lambda: media.speak("", session=session),
    ):
        with pytest.raises(InputError):
            call()
    assert len(puter_server.state.requests) == before


# --- the notebook cells -------------------------------------------------------------------------------------


def outputs(shell, source: str):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(source)
    return result, captured.outputs


def test_draw_cell_shows_a_png_and_keeps_it(shell, magics, tmp_path):
    result, shown = outputs(shell, f"%%puter --draw --size 1024x1024 -o img --save {tmp_path}/p.png\na red square")
    assert result.success, result.error_in_exec
    [output] = shown
    png = output.data["image/png"]
    assert Image.open(io.BytesIO(png)).size == (1024, 1024)
    assert output.metadata["puter_magic"]["model"] and output.metadata["puter_magic"]["drawn"] == "a red square"
    assert shell.user_ns["img"].size == (1024, 1024) and (tmp_path / "p.png").read_bytes() == png


def test_speak_cell_shows_an_audio_player_and_models_list_images_and_voices(shell, magics):
    result, shown = outputs(shell, "%%puter --speak --voice nova -o sound\nhello there")
    assert result.success, result.error_in_exec
    assert "<audio" in shown[0].data["text/html"]
    assert local_media.audio_text(shell.user_ns["sound"]) == "hello there"
    images = shell.run_cell("%puter models --images").result
    assert "gpt-image-1" in images.plain and "image models" in images.plain
    assert "alloy" in shell.run_cell("%puter models --voices").result.plain


def test_a_normal_answer_is_spoken_with_speak_answer(shell, magics):
    result, shown = outputs(shell, "%%puter -m echo --speak-answer\nsay this")
    assert result.success, result.error_in_exec
    assert "<audio" in shown[-1].data["text/html"]


# --- the terminal ---------------------------------------------------------------------------------------------


def test_the_cli_draws_and_speaks_into_files(puter_server, isolated_home, tmp_path):
    from cli_runs import cli_runner

    run = cli_runner(puter_server, isolated_home)
    drawn = run("draw", "a cat in a hat", "-o", str(tmp_path / "cat.png"), "--size", "1024x1024")
    assert drawn.returncode == 0, drawn.stderr
    assert local_media.png_text((tmp_path / "cat.png").read_bytes()) == "a cat in a hat"
    assert drawn.stderr.startswith(f"drew {tmp_path / 'cat.png'} (image/png,") and drawn.stdout == ""
    spoken = run("speak", "-o", str(tmp_path / "hello.mp3"), stdin="hello world")
    assert spoken.returncode == 0, spoken.stderr
    assert local_media.audio_text((tmp_path / "hello.mp3").read_bytes()) == "hello world"
    refused = run("draw", "a cat", "-o", str(tmp_path / "x.png"), "--size", "huge")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("error: 'huge' is not an image size — write it WIDTHxHEIGHT")
