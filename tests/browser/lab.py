"""A real JupyterLab on 127.0.0.1 and Debian's Chromium driven by Playwright, for the browser tests.

    with JupyterLab(root, env) as lab:            # a free port, a known token, temp JUPYTER_* dirs
        lab.url("lab/tree/panel.ipynb")           # http://127.0.0.1:PORT/lab/tree/panel.ipynb?token=…
    with chromium(profile_dir) as context:        # /usr/bin/chromium, headless, a fresh profile
        page = context.new_page()

JupyterLab runs in its own process group: stopping it (SIGTERM, then SIGKILL after a grace period) also ends the
kernels it started. Its log goes to a file, shown when it does not come up. Widget state is saved into the
notebook ("Save widget state automatically" on), so a test can look for secrets in the saved file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM = Path(os.environ.get("PUTER_MAGIC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
START_TIMEOUT = 60.0  # seconds until JupyterLab serves
STOP_TIMEOUT = 10.0

# User settings of JupyterLab's extensions: save widget state, no news or update checks, no autosave.
LAB_SETTINGS = {
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class JupyterLab:
    """`jupyter lab` serving `root`, with every Jupyter directory under `home` and `env` for its kernels."""

    def __init__(self, root: Path, home: Path, env: dict[str, str]) -> None:
        self.root = root
        self.home = home
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.log_path = home / "jupyterlab.log"
        self.env = {**env, **self._jupyter_dirs()}
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    def _jupyter_dirs(self) -> dict[str, str]:
        dirs = {
            "JUPYTER_CONFIG_DIR": self.home / "config",
            "JUPYTER_DATA_DIR": self.home / "data",
            "JUPYTER_RUNTIME_DIR": self.home / "runtime",
            "JUPYTERLAB_SETTINGS_DIR": self.home / "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": self.home / "lab-workspaces",
            "IPYTHONDIR": self.home / "ipython",
        }
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        for name, value in LAB_SETTINGS.items():
            target = dirs["JUPYTERLAB_SETTINGS_DIR"] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(value))
        return {name: str(path) for name, path in dirs.items()} | {"JUPYTER_PLATFORM_DIRS": "1"}

    def url(self, path: str = "lab") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?token={self.token}"

    def start(self) -> JupyterLab:
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            "--ServerApp.allow_root=True",  # the test machine runs as root; harmless otherwise
            "--LabApp.extension_manager=readonly",  # no PyPI queries
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            command, env=self.env, cwd=self.root, stdout=log, stderr=subprocess.PIPE, start_new_session=True
        )
        ready = threading.Event()
        marker = f"127.0.0.1:{self.port}/".encode()

        def pump(stream: Any) -> None:  # copy the log, and tell when the server says where it listens
            for line in stream:
                log.write(line)
                log.flush()
                if marker in line:
                    ready.set()
            log.close()

        self._pump = threading.Thread(target=pump, args=(self._process.stderr,), daemon=True)
        self._pump.start()
        if not ready.wait(START_TIMEOUT) or self._process.poll() is not None:
            self.stop()
            raise RuntimeError(f"JupyterLab did not start; its log:\n{self.log_tail()}")
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to JupyterLab's process group (it shuts its kernels down), SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        if self._pump is not None:
            self._pump.join(STOP_TIMEOUT)  # it has read the log to its end
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A headless Chromium context with a fresh profile (Playwright's own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
