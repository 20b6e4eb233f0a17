"""The panel in a real JupyterLab, in a real (headless) Chromium: Fetch, the badge, a pasted token, the model
choice reaching a %%puter cell, Stop ending an answer while it streams, and a saved notebook whose widget state
holds no token.

Every wait is one of Playwright's bounded waits for something visible; nothing sleeps. Nothing is skipped
either: without Chromium, Playwright or JupyterLab the test fails and says what to install.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat

from puter_magic.notebook.commands import COMMANDS

# `%puter panel` once the command is wired; the Python call until then.
PANEL_CELL = (
    "%load_ext puter_magic\n%puter panel"
    if "panel" in COMMANDS
    else "%load_ext puter_magic\nimport puter_magic\nputer_magic.panel()"
)
PROMPT = "Hello from JupyterLab"
LONG_ANSWER = 2000  # words of the slow model's answer: fifty seconds of streaming unless Stop ends it


def write_notebook(path: Path) -> None:
    cells = [
        nbformat.v4.new_code_cell(PANEL_CELL),
        nbformat.v4.new_code_cell(f"%%puter\n{PROMPT}"),
        nbformat.v4.new_code_cell("%%puter -m slow\nA long answer, please."),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)


def run_cell(page: Any, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


def test_the_panel_in_jupyterlab(lab, page, puter_server, artifacts):
    notebook = lab.root / "panel.ipynb"
    write_notebook(notebook)
    pasted = puter_server.state.issue_token("admin")  # typed into the panel's token field below
    puter_server.state.settings.slow_chunks = LONG_ANSWER
    puter_server.state.settings.slow_rate = 40
    try:
        drive(page, lab, pasted, artifacts)
    except Exception as error:
        page.screenshot(path=artifacts / "panel-in-jupyterlab-failure.png", full_page=True)
        raise AssertionError(f"{error}\n--- JupyterLab log (tail) ---\n{lab.log_tail()}") from error
    check_saved(notebook.read_text(), secrets=[puter_server.token, pasted])


def drive(page: Any, lab: Any, pasted: str, artifacts: Path) -> None:
    from playwright.sync_api import expect  # imported here: a missing package fails this test, not collection

    expect.set_options(timeout=20_000)
    page.goto(lab.url("lab/tree/panel.ipynb"))
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=40_000)

    run_cell(page, 0)
    panel = page.locator(".puter-panel")
    badge, message = panel.locator(".puter-panel-badge"), panel.locator(".puter-panel-message")
    expect(badge).to_have_text("Connected as admin")

    panel.locator("button.puter-panel-fetch").click()
    expect(panel.locator(".puter-panel-count")).to_have_text("3 models")
    options = panel.locator(".puter-panel-model datalist option")
    expect(options).to_have_count(3)
    assert sorted(options.evaluate_all("all => all.map(o => o.value)")) == ["deterministic", "echo", "slow"]

    panel.locator("button.puter-panel-log-out").click()
    expect(badge).to_have_text("Not connected")
    token_field = panel.locator(".puter-panel-token input")
    token_field.fill(pasted)
    panel.locator("button.puter-panel-use-token").click()
    expect(badge).to_have_text("Connected as admin")
    expect(token_field).to_have_value("")

    model = panel.locator(".puter-panel-model input")
    model.fill("deterministic")
    model.press("Enter")
    expect(message).to_have_text("Model set to deterministic.")  # the kernel has it

    run_cell(page, 1)
    answer = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(answer).to_contain_text(f"Turn 1. You said: {PROMPT}.")
    expect(panel.locator(".puter-panel-thread select")).to_contain_text("default (1 turn)")  # magics → panel
    page.screenshot(path=artifacts / "panel-in-jupyterlab.png", full_page=True)

    stop = panel.locator("button.puter-panel-stop")
    run_cell(page, 2)
    long_answer = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output")
    expect(long_answer).to_contain_text("adipisicing")  # it streams…
    expect(stop).to_have_class(re.compile("mod-danger"))  # …and Stop shows there is an answer to stop
    stop.click()
    expect(message).to_contain_text("Stopped the answer")
    expect(long_answer).to_contain_text("(interrupted)")
    expect(stop).not_to_have_class(re.compile("mod-danger"))
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
    assert len(long_answer.inner_text().split()) < LONG_ANSWER, "the answer stopped part-way"
    page.screenshot(path=artifacts / "panel-stop-in-jupyterlab.png", full_page=True)

    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)


def check_saved(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a token was saved into the notebook"
    saved = json.loads(text)
    assert f"Turn 1. You said: {PROMPT}." in text, "the answer was saved"
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = list(state.values())
    passwords = [m["state"] for m in models if m["model_name"] == "PasswordModel"]
    assert len(passwords) == 2 and all(p.get("value", "") == "" for p in passwords), passwords
    badges = [m["state"].get("value", "") for m in models if "puter-panel-badge" in m["state"].get("_dom_classes", [])]
    assert badges and "Connected as admin" in badges[0], "the widget state was saved, so the check above means it"
