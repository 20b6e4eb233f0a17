"""%%puter --tools in a real IPython kernel (jupyter_client) against the local Puter server's scripted tool model:
the Approve/Deny row's click arrives as a comm message while the cell awaits, as JupyterLab sends it."""

from __future__ import annotations

import pytest
from test_kernel import TIMEOUT, Kernel, kernel_env, outputs

from puter_magic.core.tool_calls import DENIED

pytest.importorskip("ipykernel")

SETUP = """
%load_ext puter_magic
ran = []
def get_weather(city: str) -> str:
    \"\"\"The weather now.\"\"\"
    ran.append(city)
    return f"sunny in {city}"
"""
CELL = "%%puter -m tools-scripted --tools get_weather\nWeather in Paris?"


@pytest.fixture
def kernel(puter_server, tmp_path):
    instance = Kernel(kernel_env(puter_server, tmp_path))
    try:
        reply, _ = instance.execute(SETUP)
        assert reply["content"]["status"] == "ok"
        yield instance
    finally:
        instance.close()


def send_with_a_person(kernel: Kernel, code: str, cell_id: str) -> str:
    """An execute_request as JupyterLab sends it: input allowed, so a person is there to approve."""
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": True}
    msg = kernel.client.session.msg("execute_request", content, metadata={"cellId": cell_id})
    kernel.client.shell_channel.send(msg)
    return str(msg["header"]["msg_id"])


def button_comm(kernel: Kernel, msg_id: str, description: str) -> str:
    """The comm id of the row's button, from the widget messages the running cell sends."""
    while True:
        msg = kernel.client.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id or msg["msg_type"] != "comm_open":
            continue
        state = msg["content"]["data"].get("state", {})
        if state.get("_model_name") == "ButtonModel" and state.get("description") == description:
            return str(msg["content"]["comm_id"])


def printed(kernel: Kernel, code: str) -> str:
    _, messages = kernel.execute(code)
    return "".join(m["content"]["text"] for m in outputs(messages, "stream")).strip()


@pytest.mark.parametrize(("button", "runs"), [("Approve", True), ("Deny", False)])
def test_a_click_on_the_row_decides_the_call(kernel, puter_server, button, runs):
    puter_server.state.script.enqueue(
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}, "Sunny in Paris."
    )
    msg_id = send_with_a_person(kernel, CELL, "t1")
    comm_id = button_comm(kernel, msg_id, button)
    click = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}}
    kernel.client.shell_channel.send(kernel.client.session.msg("comm_msg", click))
    reply, messages = kernel.collect(msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert printed(kernel, "print(ran)") == ("['Paris']" if runs else "[]")
    final = [m for m in messages if m["msg_type"] == "update_display_data"][-1]["content"]["data"]["text/plain"]
    assert final.startswith('→ get_weather({"city": "Paris"})') and final.endswith("Sunny in Paris.")
    check = "import puter_magic; t = puter_magic.session().conversations.thread().turns[-1]; print(t.steps[1].text)"
    assert printed(kernel, check) == ("sunny in Paris" if runs else DENIED)


def test_a_headless_run_denies_without_waiting(kernel, puter_server):
    """nbclient sends allow_stdin false: nobody can click, so the call is denied at once, in one line."""
    puter_server.state.script.enqueue(
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}, "Without it."
    )
    reply, messages = kernel.execute(CELL, "t2")
    assert reply["content"]["status"] == "ok"
    assert not [m for m in messages if m["msg_type"] == "comm_open"], "no row is shown"
    final = [m for m in messages if m["msg_type"] == "update_display_data"][-1]["content"]["data"]["text/plain"]
    assert "nobody can give it here" in final
    assert printed(kernel, "print(ran)") == "[]"
