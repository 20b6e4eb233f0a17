"""Rendering cost: a 20,000-chunk answer through %%puter vs the same stream consumed by the client alone.

All run inside a real IPython kernel (jupyter_client) against the local Puter server in its own process; the
frontend side counts the display messages. %%puter is measured both ways it runs: called (IPython's cell-magic
call, the path of older kernels and nested cells) and awaited (what a top-level %%puter cell becomes in
ipykernel ≥ 7.4, so that Stop works; see notebook/awaiting.py). Targets: %%puter ≤ 1.3× the client alone, ≤ 20 display
updates per second of streaming whatever the chunk count. Also reported: how long after a click on the panel's
Stop (a comm message, as JupyterLab sends it) a streaming cell has ended and the kernel is idle again.
"""

from __future__ import annotations

import os
import tempfile
import time

import httpx
from common import Measurement, local_puter_process
from jupyter_client.manager import start_new_kernel

CHUNKS = 20_000
RUNS = 5
CLIENT_ALONE = """
import time, puter_magic
_s = puter_magic.session()
_r = _s.ask("go", model="slow", history=False)
_t = time.perf_counter(); _n = sum(1 for _ in _r); print("ELAPSED", time.perf_counter() - _t)
"""
THROUGH_MAGIC = """
import time
_t = time.perf_counter()
get_ipython().run_cell_magic("puter", "-m slow --no-history", "go")
print("ELAPSED", time.perf_counter() - _t)
"""
AWAITED = """
import time
_t = time.perf_counter()
await get_ipython().magics_manager.registry["PuterMagics"].ask_async("-m slow --no-history", "go")
print("ELAPSED", time.perf_counter() - _t)
"""


def execute(client, code: str, *, timed: bool = True) -> tuple[float, int]:
    msg_id = client.execute(code)
    elapsed, updates = None, 0
    while True:
        msg = client.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "update_display_data":
            updates += 1
        elif kind == "stream" and "ELAPSED" in msg["content"]["text"]:
            elapsed = float(msg["content"]["text"].split()[1])
        elif kind == "error":
            raise RuntimeError(msg["content"]["evalue"])
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    if timed and elapsed is None:
        raise RuntimeError("the cell did not report its time")
    return elapsed or 0.0, updates


def stop_latency(client, stop_button: str) -> float:
    """Seconds from the Stop click to the idle kernel, for an answer that would otherwise stream for minutes."""
    msg_id = client.execute("%%puter -m slow --no-history\ngo")
    updates = 0
    while updates < 3:
        msg = client.get_iopub_msg(timeout=120)
        updates += msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "update_display_data"
    click = {"comm_id": stop_button, "data": {"method": "custom", "content": {"event": "click"}}}
    clicked = time.perf_counter()
    client.shell_channel.send(client.session.msg("comm_msg", click))
    while True:
        msg = client.get_iopub_msg(timeout=120)
        done = msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
        if done and msg["parent_header"].get("msg_id") == msg_id:
            return time.perf_counter() - clicked


def stop_button(client) -> str:
    code = "import puter_magic; _panel = puter_magic.panel(); print('COMM', _panel._stop.comm.comm_id)"
    msg_id = client.execute(code)
    while True:
        msg = client.get_iopub_msg(timeout=120)
        mine = msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
        if mine and "COMM" in msg["content"]["text"]:
            return msg["content"]["text"].split()[1]


def run(runs: int = RUNS) -> dict[str, Measurement]:
    with local_puter_process() as facts, tempfile.TemporaryDirectory() as home:
        settings = {"slow_chunks": CHUNKS, "slow_rate": 0, "stream_batch": 1}
        httpx.post(f"{facts['origin']}/__fake__/settings", json=settings).raise_for_status()
        env = {
            **os.environ,
            "PUTER_API_ORIGIN": f"http://api.puter.localhost:{facts['port']}",
            "PUTER_GUI_ORIGIN": f"http://puter.localhost:{facts['port']}",
            "PUTER_TOKEN": facts["Admin token"],
            "PUTER_RATE_LIMIT": "off",
            "PUTER_MAGIC_HOME": home,
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        manager, client = start_new_kernel(kernel_name="python3", env=env)
        try:
            execute(client, "%load_ext puter_magic", timed=False)
            alone, magic, awaited, rates = [], [], [], []
            for _ in range(runs):
                alone.append(execute(client, CLIENT_ALONE)[0])
                elapsed, updates = execute(client, THROUGH_MAGIC)
                magic.append(elapsed)
                rates.append(updates / elapsed)
                elapsed, updates = execute(client, AWAITED)
                awaited.append(elapsed)
                rates.append(updates / elapsed)
            slow = {"slow_chunks": 10**6, "slow_rate": 50, "stream_batch": 1}
            httpx.post(f"{facts['origin']}/__fake__/settings", json=slow).raise_for_status()
            button = stop_button(client)
            stops = [stop_latency(client, button) for _ in range(runs)]
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return {
        "alone": Measurement("client alone (iterating the Reply)", alone),
        "magic": Measurement("%%puter called (streamed into one display)", magic),
        "awaited": Measurement("%%puter awaited (the same, Stop-able)", awaited),
        "rate": Measurement("display updates per second", rates),
        "stop": Measurement("Stop click → cell ended, kernel idle", stops),
    }


def report(results: dict[str, Measurement]) -> str:
    alone, magic, rate = results["alone"].median, results["magic"].median, results["rate"].median
    awaited = results["awaited"].median
    return "\n".join(
        [
            "| path | median time | |",
            "|---|---|---|",
            f"| {results['alone'].name} | {alone:.3f} s | 1.00× |",
            f"| {results['magic'].name} | {magic:.3f} s | {magic / alone:.2f}× (target ≤ 1.3×) |",
            f"| {results['awaited'].name} | {awaited:.3f} s | {awaited / alone:.2f}× (target ≤ 1.3×) |",
            f"| {results['rate'].name} | {rate:.1f} /s | target ≤ 20, independent of the chunk count |",
            f"| {results['stop'].name} | {results['stop'].median * 1000:.0f} ms | reported (no target) |",
        ]
    )
