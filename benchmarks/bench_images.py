"""Images into a conversation: encoding a figure into a message, and saving a thread that holds many images.

In this process. Encoding: a 1920×1080 matplotlib figure (19.2×10.8 in at 100 dpi, two 500-point lines, a title,
a legend, Agg) turned into a message's image part by `@{fig}`'s path (`core/images.py`: rendered at the dpi that
makes its longest side 1568 px, PNG, data URL), 15 rounds after one warm-up. Export: a thread of 20 turns, each
with its own 1568×882 PNG of a plot (about 85 KB each), saved as JSON (`Conversations.save`: the images
stored once, content-addressed, beside the file), 15 rounds into the same file, so from the second round on the
images are already there (what autosave does after each answer); the first, cold, export is given too. The best
round is given beside the median: on this shared 2-core machine it is the figure least moved by other processes.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import Measurement, median_and_iqr

ROUNDS = 15
IMAGES = 20
ENCODE_TARGET_MS = 150.0
EXPORT_TARGET_MS = 100.0
FILE_TARGET_BYTES = 1_000_000


def _figure(seed: int):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure = plt.figure(figsize=(19.2, 10.8), dpi=100)
    x = np.linspace(0, 10, 500)
    plt.plot(x, np.sin(x + seed), label="sin")
    plt.plot(x, np.cos(x * (1 + seed / 10)), label="cos")
    plt.title(f"figure {seed}")
    plt.legend()
    return figure


def run() -> dict[str, object]:
    import matplotlib.pyplot as plt

    from puter_magic.core.conversation import Conversations, Turn
    from puter_magic.core.images import to_picture

    figure = _figure(0)
    to_picture(figure)  # warm-up: fonts, Agg
    encode = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        picture = to_picture(figure)
        picture.part()
        encode.append(time.perf_counter() - started)
    parts = []
    for seed in range(IMAGES):
        parts.append(to_picture(_figure(seed + 1)).part())
        plt.close("all")
    conversations = Conversations()
    for number, part in enumerate(parts):
        prompt = [{"type": "text", "text": f"What is wrong with plot {number}?"}, part]
        conversations.record(Turn(prompt, "The axes are not labelled. " * 20, key=f"cell-{number}"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thread.json"
        started = time.perf_counter()
        conversations.save(path)
        cold = time.perf_counter() - started
        export = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            conversations.save(path)
            export.append(time.perf_counter() - started)
        images = list((Path(folder) / "thread.images").iterdir())
        sizes = {"json": path.stat().st_size, "images": sum(p.stat().st_size for p in images), "files": len(images)}
    return {
        "encode": Measurement("encode", encode),
        "export": Measurement("export", export),
        "cold": cold,
        "sizes": sizes,
        "sent": (picture.width, picture.height, len(picture.data)),
    }


def headline(result: dict[str, object]) -> dict[str, float]:
    encode, export = result["encode"], result["export"]
    sizes = result["sizes"]
    assert isinstance(encode, Measurement) and isinstance(export, Measurement) and isinstance(sizes, dict)
    return {
        "encode ms": encode.median * 1000,
        "encode best ms": min(encode.samples) * 1000,
        "export ms": export.median * 1000,
        "export best ms": min(export.samples) * 1000,
        "export cold ms": float(result["cold"]) * 1000,  # type: ignore[arg-type]
        "json bytes": float(sizes["json"]),
        "image bytes": float(sizes["images"]),
        "image files": float(sizes["files"]),
    }


def report(result: dict[str, object]) -> str:
    figures = headline(result)
    width, height, size = result["sent"]  # type: ignore[misc]
    lines = ["| case | median | IQR | best round |", "|---|---|---|---|"]
    for name, key in (("encode a 1920×1080 figure into a message", "encode"), ("export a 20-image thread", "export")):
        measurement = result[key]
        assert isinstance(measurement, Measurement)
        lines.append(f"| {name} | {median_and_iqr(measurement)} | {min(measurement.samples) * 1000:.1f} ms |")
    lines += [
        "",
        f"The figure is sent as a {width}×{height} PNG of {size / 1000:.0f} KB, encoded in "
        f"**{figures['encode ms']:.0f} ms** (target ≤ {ENCODE_TARGET_MS:.0f} ms). The 20-image thread exports in "
        f"**{figures['export ms']:.1f} ms** (the first, cold export that writes the images: "
        f"{figures['export cold ms']:.0f} ms; target ≤ {EXPORT_TARGET_MS:.0f} ms); its JSON file is "
        f"**{figures['json bytes'] / 1000:.1f} KB** (target < 1 MB) and its {figures['image files']:.0f} images take "
        f"{figures['image bytes'] / 1e6:.2f} MB beside it, each stored once.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
