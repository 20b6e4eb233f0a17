"""Cline's requests, captured from its real client stacks (tests/clients/node/cline_clients.mjs) through the proxy.

The model is the in-memory provider, scripted with the same two turns for each client: reasoning and a tool call
(`read_file`), then reasoning and the answer, with cache reads in the usage. Recapture the fixtures with

    bash tests/clients/setup_node_clients.sh && .venv/bin/python tests/cline_clients.py

which writes tests/fixtures/cline/<client>.json: the requests each client sent, exactly as sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from puter_magic.datatypes import ReasoningDelta, ToolCall, Usage

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "cline"
NODE_CLIENTS = Path(os.environ.get("NODE_CLIENTS", ROOT / ".cache" / "node-clients"))
CLIENTS = ("openai-node", "ai-sdk")
MODEL = "memory-model"
CALL = ToolCall("call_1", "read_file", {"path": "README.md"})
# Per turn: the reply's steps, and what Cline must read from the stream.
TURNS: list[dict[str, Any]] = [
    {
        "steps": (ReasoningDelta("Read the file first."), CALL, Usage(1200, 20, cached_tokens=1000)),
        "text": "",
        "reasoning": "Read the file first.",
        "tool_call": CALL,
        "usage": (1200, 20, 1000),
        "finish_reason": "tool_calls",
    },
    {
        "steps": (ReasoningDelta("It has a title."), "It is a demo ", "project.", Usage(1300, 8, cached_tokens=1200)),
        "text": "It is a demo project.",
        "reasoning": "It has a title.",
        "tool_call": None,
        "usage": (1300, 8, 1200),
        "finish_reason": "stop",
    },
]


def enqueue_turns(memory: Any, clients: int = 1) -> None:
    for _ in range(clients):
        for turn in TURNS:
            memory.enqueue(*turn["steps"])


def node_clients_installed() -> bool:
    return shutil.which("node") is not None and (NODE_CLIENTS / "node_modules" / "openai").is_dir()


def run_clients(base_url: str, key: str) -> dict[str, Any]:
    """Both clients' two-turn loops against `base_url`: {client: {"requests": [...], "turns": [...]}}."""
    script = NODE_CLIENTS / "cline_clients.mjs"
    done = subprocess.run(
        ["node", str(script), base_url, key, MODEL], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"the node clients failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def fixture(client: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{client}.json").read_text(encoding="utf-8"))
    return data


def capture() -> None:
    from puter_magic.config import Settings
    from puter_magic.core.sessions import Session
    from puter_magic.server.serve import start
    from puter_magic.testing.memory import MemoryProvider

    memory = MemoryProvider()
    session = Session(Settings(api_origin="http://127.0.0.1:9", token=None), provider=memory)
    session.set_model(MODEL)
    enqueue_turns(memory, len(CLIENTS))
    try:
        with start(session) as proxy:
            ran = run_clients(proxy.url + "/v1", proxy.key)
    finally:
        session.close()
    versions = json.loads((ROOT / "tests" / "clients" / "node" / "package.json").read_text())["dependencies"]
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for client in CLIENTS:
        data = {"client": client, "packages": versions, "requests": ran[client]["requests"]}
        (FIXTURES / f"{client}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {FIXTURES / client}.json ({len(data['requests'])} requests)")


if __name__ == "__main__":
    capture()
