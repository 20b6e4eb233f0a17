"""The README's install from a built wheel: `python -m build`, then `pip install dist/*.whl` into a fresh venv.

Offline: the wheel is built without build isolation (setuptools comes from the dev extra), and the fresh venv
installs it with `--no-index --no-deps`; its dependencies are borrowed from this environment through a `.pth`
line (path lines in a `.pth` add a folder, but the `.pth` files inside it, such as this checkout's editable
install, are not run). So the venv imports puter_magic from the wheel and nothing else from the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "puter_magic", source / "puter_magic", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path / "dist", source)
    (wheel,) = (tmp_path / "dist").glob("puter_magic-*-py3-none-any.whl")

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (purelib / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel)

    assert "chat" in run(env / "bin" / "puter-magic", "--help", cwd=tmp_path).stdout
    code = (
        "import importlib.metadata as m, puter_magic, puter_magic.notebook.magics;"
        "print(puter_magic.__file__); print(m.metadata('puter-magic')['License-Expression'])"
    )
    where, license_ = run(python, "-c", code, cwd=tmp_path).stdout.split()
    assert Path(where).is_relative_to(env), "imported from the wheel, not from the checkout"
    assert license_ == "MIT"
