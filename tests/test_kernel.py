"""%%puter in a real IPython kernel (jupyter_client), against the local Puter server: what a frontend receives."""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("ipykernel")
from jupyter_client.manager import start_new_kernel

TIMEOUT = 60


class Kernel:
    """A kernel and its client; execute() returns the reply and the iopub messages of that request."""

    def __init__(self, env: dict[str, str]) -> None:
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env)

    def send(self, code: str, cell_id: str | None = None) -> str:
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
        msg = self.client.session.msg("execute_request", content, metadata={"cellId": cell_id} if cell_id else {})
        self.client.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def collect(self, msg_id: str, until_idle: bool = True) -> tuple[dict, list[dict]]:
        messages = []
        while True:
            msg = self.client.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            messages.append(msg)
        reply = self.reply(msg_id)
        return reply, messages

    def reply(self, msg_id: str) -> dict:
        while True:
            reply = self.client.get_shell_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def execute(self, code: str, cell_id: str | None = None) -> tuple[dict, list[dict]]:
        return self.collect(self.send(code, cell_id))

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def kernel_env(puter_server, tmp_path) -> dict[str, str]:
    """A kernel's environment: the local Puter server, no pacing, its own home and IPython folders."""
    return {
        **os.environ,
        "PUTER_API_ORIGIN": puter_server.api_origin,
        "PUTER_GUI_ORIGIN": puter_server.gui_origin,
        "PUTER_TOKEN": puter_server.token,
        "PUTER_RATE_LIMIT": "off",
        "PUTER_MAGIC_HOME": str(tmp_path / "home"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


@pytest.fixture
def kernel(puter_server, tmp_path):
    instance = Kernel(kernel_env(puter_server, tmp_path))
    try:  # closed even when the setup fails: its sockets would otherwise fail a later test as a ResourceWarning
        reply, _ = instance.execute("%load_ext puter_magic\n%puter model deterministic")
        assert reply["content"]["status"] == "ok"
        yield instance
    finally:
        instance.close()


def outputs(messages, kind):
    return [m for m in messages if m["msg_type"] == kind]


def text_of(messages) -> str:
    final = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")][-1]
    return final["content"]["data"]["text/plain"]


def test_streaming_is_one_display_with_bounded_updates(kernel, puter_server):
    puter_server.state.settings.slow_chunks = 60
    puter_server.state.settings.slow_rate = 30  # two seconds of streaming
    started = time.monotonic()
    reply, messages = kernel.execute("%%puter -m slow\nstream please", "c1")
    elapsed = time.monotonic() - started
    assert reply["content"]["status"] == "ok"
    displays = outputs(messages, "display_data")
    updates = outputs(messages, "update_display_data")
    assert len(displays) == 1, "one display handle per answer"
    display_id = displays[0]["content"]["transient"]["display_id"]
    assert all(u["content"]["transient"]["display_id"] == display_id for u in updates)
    assert len(updates) >= 5, "the answer visibly streams"
    assert len(updates) <= elapsed / 0.08 + 2, "updates are coalesced, not one per chunk"
    final = updates[-1]["content"]
    assert len(final["data"]["text/plain"].split()) == 60, "every chunk arrived"
    assert "text/markdown" in final["data"]
    assert final["metadata"]["puter_magic"]["model"] == "slow"
    assert final["metadata"]["puter_magic"]["provider"] == "puter"


def test_history_across_cells_and_rerun_replaces(kernel):
    kernel.execute("%%puter\nfirst", "a")
    kernel.execute("%%puter\nsecond", "b")
    _, messages = kernel.execute("%%puter\nsecond", "b")
    assert text_of(messages).startswith("Turn 2. You said: second. Before that you said: first.")
    _, messages = kernel.execute("import puter_magic; print(len(puter_magic.session().conversations.thread().turns))")
    assert outputs(messages, "stream")[-1]["content"]["text"].strip() == "2"


def test_interrupt_mid_stream_keeps_the_partial_answer(kernel, puter_server):
    puter_server.state.settings.slow_chunks = 2000
    puter_server.state.settings.slow_rate = 40
    msg_id = kernel.send("%%puter -m slow\na long one", "long")
    while True:
        msg = kernel.client.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "update_display_data":
            break
    interrupted_at = time.monotonic()
    kernel.manager.interrupt_kernel()
    reply, messages = kernel.collect(msg_id)
    stopped_after = time.monotonic() - interrupted_at
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "UsageError"
    assert stopped_after < 1.0, f"took {stopped_after:.2f} s to stop"
    assert "interrupted" in text_of(messages)
    assert puter_server.state.wait_for(lambda s: s.stats()["streams_cancelled"] == 1)
    code = "import puter_magic; t = puter_magic.session().conversations.thread().turns[-1]"
    _, messages = kernel.execute(code + "; print(t.interrupted, len(t.answer) > 0)")
    assert outputs(messages, "stream")[-1]["content"]["text"].strip() == "True True"
    reply, _ = kernel.execute("%%puter\nstill usable?", "after")
    assert reply["content"]["status"] == "ok"


def test_errors_are_one_line_and_the_token_never_shows(kernel, puter_server):
    reply, messages = kernel.execute("%%puter -m no-such-model\nhi", "e1")
    assert reply["content"]["status"] == "error"
    errors = outputs(messages, "error") + [m for m in outputs(messages, "stream") if m["content"]["name"] == "stderr"]
    text = " ".join(str(m["content"]) for m in errors)
    assert "pick a model from `%puter models`" in text
    assert "Traceback" not in text
    everything = []
    for code in ("%puter status", "%puter config", "%%puter\nhello", "%puter history", "%puter usage"):
        _, messages = kernel.execute(code)
        everything.append(str(messages))
    assert puter_server.token not in "".join(everything)


def test_serve_from_the_kernel_for_another_process(kernel, puter_server):
    import re
    import stat
    import subprocess
    import sys
    from pathlib import Path

    reply, messages = kernel.execute("%puter serve")
    assert reply["content"]["status"] == "ok"
    shown = str(messages)
    url = re.search(r"http://127\.0\.0\.1:\d+/v1", shown).group(0)
    key_file = Path(re.search(r"in `([^`]+proxy-key)`", shown).group(1))
    key = key_file.read_text().strip()
    assert key not in shown, "the key stays out of the notebook's outputs"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    client = (
        "import openai, sys\n"
        "c = openai.OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0)\n"
        "r = c.chat.completions.create(model='deterministic', messages=[{'role': 'user', 'content': 'via proxy'}])\n"
        "print(r.choices[0].message.content)"
    )
    result = subprocess.run([sys.executable, "-c", client, url, key], capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("Turn 1. You said: via proxy."), result.stderr
    upstream = [r for r in puter_server.state.requests if r.path == "/drivers/call"][-1]
    assert upstream.authorization == f"Bearer {puter_server.token}", "the notebook's own session answered"
    reply, messages = kernel.execute("%puter serve status")
    assert reply["content"]["status"] == "ok"
    [status] = [m["content"]["data"]["text/plain"] for m in outputs(messages, "execute_result")]
    counts = "1 requests, 1 answers, 0 streams open, 0 cancelled by their client, 0 errors."
    assert re.fullmatch(r"Serving at http://127\.0\.0\.1:\d+/v1 for [\d.]+ s: " + re.escape(counts), status), status
    reply, _ = kernel.execute("%puter serve stop")
    assert reply["content"]["status"] == "ok"


def printed(kernel, code: str) -> str:
    _, messages = kernel.execute(code)
    return "".join(m["content"]["text"] for m in outputs(messages, "stream"))


def test_the_panel_stop_button_ends_a_streaming_cell(kernel, puter_server):
    """The click is a comm message, as JupyterLab sends it; the cell is still running when it arrives."""
    kernel.execute("import puter_magic\npanel = puter_magic.panel()")
    stop_button = printed(kernel, "print(panel._stop.comm.comm_id)").strip()
    puter_server.state.settings.slow_chunks = 2000
    puter_server.state.settings.slow_rate = 40  # fifty seconds, if nothing stopped it
    msg_id = kernel.send("%%puter -m slow\na long one", "long")
    updates = 0
    while updates < 3:  # the answer is visibly streaming
        msg = kernel.client.get_iopub_msg(timeout=TIMEOUT)
        updates += msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "update_display_data"
    click = {"comm_id": stop_button, "data": {"method": "custom", "content": {"event": "click"}}}
    kernel.client.shell_channel.send(kernel.client.session.msg("comm_msg", click))
    reply, messages = kernel.collect(msg_id)
    assert reply["content"]["status"] == "ok", "a stopped answer is no error"
    assert text_of(messages).endswith("*(interrupted)*")
    check = "t = puter_magic.session().conversations.thread().turns[-1]; print(t.interrupted, len(t.answer.split()))"
    interrupted, words = printed(kernel, check).split()
    assert interrupted == "True" and 0 < int(words) < 2000
    assert "Stopped the answer" in printed(kernel, "print(panel._message.value)")
    assert puter_server.state.wait_for(lambda s: s.stats()["streams_cancelled"] == 1)
    reply, _ = kernel.execute("%%puter\nstill usable?", "after")
    assert reply["content"]["status"] == "ok"


@pytest.mark.parametrize(
    "cell",
    [
        "%%capture captured\n%%puter\ninside another cell magic",
        "%%time\n%%puter\ntimed",
        "%autoawait off\nget_ipython().run_cell('%%puter\\nrun from code')",
        "%%puter -o kept --no-stream\nnot streamed",
    ],
)
def test_puter_cells_still_run_wherever_they_cannot_be_awaited(kernel, cell):
    reply, _ = kernel.execute(cell)
    kernel.execute("%autoawait on")
    assert reply["content"]["status"] == "ok"
    count = "import puter_magic; print(len(puter_magic.session().conversations.thread().turns))"
    assert printed(kernel, count).strip() == "1"
