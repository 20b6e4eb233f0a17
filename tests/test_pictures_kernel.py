"""Pictures in a real kernel (nbclient), end to end against the local Puter server (issue 16): a matplotlib figure
through `@{fig}` arrives as a valid PNG data URL (decoded on the server's side), `--draw` leaves an image/png
output in the saved notebook and `--speak` an audio player."""

from __future__ import annotations

import base64
import json

import nbformat
from nbclient import NotebookClient

from puter_magic.core import image_codec

CELLS = [
    "%load_ext puter_magic",
    "%puter model echo",
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "fig = plt.figure(figsize=(19.2, 10.8), dpi=100)\nplt.plot([3, 1, 2]);",
    "%%puter\nWhat is wrong with this plot? @{fig}",
    "%%puter --draw --size 1024x1024 -o picture\na lighthouse at dusk",
    "%%puter --speak --voice nova\nHello from the notebook",
    "%puter export thread.json",
]


def test_a_figure_a_drawing_and_a_voice_in_a_real_kernel(puter_server, tmp_path, notebook_env, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    client = NotebookClient(
        notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    asked = next(r for r in puter_server.state.requests if image_codec.image_parts(_last_user(r.body)))
    [part] = [p for p in asked.image_parts() if p.is_data]
    assert part.media_type == "image/png" and part.data.startswith(image_codec.PNG_SIGNATURE)
    assert image_codec.image_size(part.data) == (1568, 882), "downscaled to the longest side of 1568"
    text = [p["text"] for p in _last_user(asked.body) if p.get("type") == "text"]
    assert text == ["What is wrong with this plot? "], "the image stands where its reference stood"
    answer = notebook.cells[3].outputs[-1]
    assert answer["metadata"]["puter_magic"]["images"] == [_described(part.data)]

    drawn = [o for o in notebook.cells[4].outputs if "image/png" in o.get("data", {})]
    assert len(drawn) == 1, notebook.cells[4].outputs
    png = base64.b64decode(drawn[0]["data"]["image/png"])
    assert image_codec.image_size(png) == (1024, 1024)
    spoken = notebook.cells[5].outputs
    assert any("<audio" in o.get("data", {}).get("text/html", "") for o in spoken), spoken

    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)
    assert '"image/png"' in saved.read_text() and puter_server.token not in saved.read_text()
    export = (tmp_path / "thread.json").read_text()
    assert "base64" not in export and len(list((tmp_path / "thread.images").iterdir())) == 1
    prompt = json.loads(export)["threads"]["default"]["turns"][0]["prompt"]
    assert prompt[1]["type"] == "image_file"


def _last_user(body):
    args = body.get("args") if isinstance(body, dict) else None
    messages = args.get("messages") or [] if isinstance(args, dict) else []
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    return content if isinstance(content, list) else []


def _described(png: bytes) -> str:
    return f"1568×882 PNG, {max(1, round(len(png) / 1000))} KB (downscaled from 1920×1080)"
