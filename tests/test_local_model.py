"""The real small model: `puter-magic local-model`, the `local` preset, the demo's terminal, and `make demo`
where the model cannot be set up. The real ones run SmolLM2-135M on llama.cpp's llama-server (tests/servers/)."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runs import reaped
from nbformat.v4 import new_code_cell

from puter_magic.cli import build_parser
from puter_magic.config import Settings
from puter_magic.core.sessions import Session
from puter_magic.demo.terminal import Echo
from puter_magic.errors import ConnectionFailed
from puter_magic.providers import openai_wire
from puter_magic.testing import local_model
from puter_magic.testing.processes import free_port

SETUP = pytest.mark.timeout(1500)  # a first run builds the chroot and fetches the model


@pytest.fixture(scope="module")
def model_ready(llama_setup: Path) -> None:
    local_model.prepare(progress=lambda line: None)


@pytest.fixture(scope="module")
def running_model(model_ready):
    server = local_model.start(free_port(), reuse=False)
    yield server
    server.stop()


def test_the_local_preset_is_where_local_model_serves_by_default():
    default_port = build_parser().parse_args(["local-model"]).port
    assert openai_wire.PRESETS["local"] == f"http://127.0.0.1:{default_port}/v1"
    assert "puter-magic local-model" in openai_wire.START_HINTS["local"]


def test_the_local_preset_says_how_to_start_the_model_when_nothing_answers(monkeypatch):
    monkeypatch.setitem(openai_wire.PRESETS, "local", f"http://127.0.0.1:{free_port()}/v1")
    session = Session(Settings(token="unused"))
    try:
        session.use_provider("local")
        with pytest.raises(ConnectionFailed) as caught:
            session.models(refresh=True)
    finally:
        session.close()
    assert "puter-magic local-model" in caught.value.one_line()


@SETUP
def test_the_local_preset_reaches_the_real_model(monkeypatch, running_model):
    monkeypatch.setitem(openai_wire.PRESETS, "local", running_model.base_url)
    session = Session(Settings(token="unused"))
    try:
        session.use_provider("local")
        session.set_model(local_model.MODEL)
        answer = session.chat("What is the capital of France?", max_tokens=24)
    finally:
        session.close()
    assert (answer.provider, answer.model) == ("local", local_model.MODEL)
    assert answer.text.strip() and answer.usage.output_tokens


def _read_until(stream, marker: str, timeout: float) -> str:
    """The lines of `stream` up to and including the one that starts with `marker` (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(marker):
            return "".join(lines)
    raise AssertionError(f"no line starting with {marker!r} within {timeout:.0f} s; got:\n{''.join(lines)}")


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@SETUP
def test_local_model_command_starts_answers_and_stops_cleanly_on_ctrl_c(model_ready):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "puter_magic", "local-model", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # pytest may run as a background job, which ignores SIGINT: a user's Ctrl-C is not ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    with reaped(proc):
        shown = _read_until(proc.stdout, "Press Ctrl-C", timeout=60)
        url = f"http://127.0.0.1:{port}/v1"
        assert f"URL:    {url}" in shown and f"%puter provider {url}" in shown
        session = Session(Settings(token="unused"))
        try:
            session.use_provider(url)
            answer = session.chat("Say hello.", model=local_model.MODEL, max_tokens=8)
        finally:
            session.close()
        assert answer.text.strip()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Stopped the local model." in out
    assert "Traceback" not in err and "Traceback" not in out
    assert _refused(port), "llama-server still listens after local-model stopped"


def test_demo_without_the_chroot_says_so_in_one_line_and_runs_the_puter_part(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    failing = 'echo "[setup_llama] ERROR: must run as root (debootstrap and chroot need it)" >&2\nexit 1\n'
    (scripts / "setup_llama.sh").write_text(failing)
    env = {
        **os.environ,
        "PUTER_MAGIC_SETUP_DIR": str(scripts),
        "PUTER_MAGIC_SERVERS_CACHE": str(tmp_path / "cache"),  # nothing cached: the set-up must run
    }
    env.pop("LLAMA_CHROOT", None)
    result = subprocess.run(
        [sys.executable, "-m", "puter_magic", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = result.stdout + result.stderr
    assert result.returncode == 0, text
    assert "Traceback" not in text
    said = [line for line in text.splitlines() if "must run as root" in line]
    assert said == [
        "Part 1 is skipped: could not set up the real model: must run as root (debootstrap and chroot need it)"
        " — it needs root or password-less sudo, and apt, deb.debian.org and PyPI once. Part 2 runs alone."
    ]
    assert "Part 2: the Puter side" in text and "as admin" in text
    assert (tmp_path / "demo-output" / "quickstart.ipynb").is_file()
    assert not (tmp_path / "demo-output" / "local-model.ipynb").exists()


# --- the demo's terminal ---------------------------------------------------------------------------------


def _display(text: str, kind: str = "update_display_data", metadata: dict | None = None) -> dict:
    content = {"data": {"text/plain": text}, "metadata": metadata or {}, "transient": {"display_id": "answer"}}
    return {"msg_type": kind, "content": content}


def test_the_terminal_streams_an_answer_as_it_grows_then_its_provenance():
    out = io.StringIO()
    echo = Echo(out=out)
    cell = new_code_cell("%%puter -t colours -o names\nName three primary colors.")
    echo.cell_started(cell)
    echo.message(_display("…", "display_data"), cell)
    assert out.getvalue() == "%%puter -t colours -o names\nyou> Name three primary colors.\n"
    for text in ("Red", "Red,\nblue ▍", "Red,\nblue and yellow."):
        echo.message(_display(text), cell)
    provenance = {"puter_magic": {"provider": "local", "model": "smollm2-135m", "usage": {"output_tokens": 7}}}
    cell.outputs = [
        {"output_type": "display_data", "data": {"text/plain": "Red,\nblue and yellow."}, "metadata": provenance}
    ]
    echo.cell_done(cell)
    lines = out.getvalue().splitlines()
    assert lines[2:5] == ["ai>  Red,", "     blue and yellow.", lines[4]]
    assert lines[4].startswith("     [smollm2-135m via local · 7 tokens · first text after ")
    assert lines[4].endswith(" s · kept in `names`]")
    assert len(echo.first_token) == 1


def test_the_terminal_shortens_long_answers_and_shows_errors_in_one_line():
    out = io.StringIO()
    echo = Echo(out=out, shorten=10)
    cell = new_code_cell("%%puter\nTell me everything.")
    echo.cell_started(cell)
    echo.message(_display("0123456"), cell)
    echo.message(_display("0123456789abcdef"), cell)
    echo.message(_display("0123456789abcdefghij"), cell)
    assert out.getvalue().endswith("ai>  0123456789…")
    failed = new_code_cell("exec(snippet)")
    echo = Echo(out=out, show_code=True)
    echo.cell_started(failed)
    failed.outputs = [{"output_type": "error", "ename": "NameError", "evalue": "name 'snippet' is not defined"}]
    echo.cell_done(failed)
    assert out.getvalue().endswith("py>  exec(snippet)\n     NameError: name 'snippet' is not defined\n\n")
