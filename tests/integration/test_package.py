"""RegSync as a package: the wheel built from pyproject.toml, installed into a fresh venv, runs `regsync`.

The fresh venv gets the wheel only (`--no-deps`); its dependencies come from the test's own venv through
a `.pth` line, so the test needs no network and no second copy of azure-ai-ml. The sources are copied to
a temporary directory first (setuptools writes build/ and *.egg-info next to them), and every command
runs from there, so nothing can be imported from the checkout by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

import shared
from devstack.azurite import RunningAzurite

pytestmark = [pytest.mark.integration, pytest.mark.package]

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "requirements.txt", "shared", "functions", "devstack")
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a fresh venv with the built wheel installed."""
    root = tmp_path_factory.mktemp("package")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(root / "dist"), str(source)],
        check=True,
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("regsync-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # After the venv's own site-packages: the dependencies, never RegSync itself (not installed there).
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    return venv / "bin"


def run(bin_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`args` from the venv, stdout piped (not a terminal), no COLUMNS, far from the checkout."""
    clean = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "PYTHONPATH", "AzureWebJobsStorage"}}
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        env={**clean, **(env or {})},
        cwd=bin_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_subpackage_is_installed_from_the_wheel(installed: Path) -> None:
    code = (
        "import shared, shared.cli, functions, devstack.host, devstack.emulator, importlib.resources as r;"
        "print(shared.__file__);"
        "print(r.files('devstack').joinpath('worlds/seed.yaml').is_file())"
    )
    shown = run(installed, "python", "-c", code)
    assert shown.returncode == 0, shown.stderr
    location, world = shown.stdout.split()
    assert Path(location).is_relative_to(installed.parent), location
    assert world == "True"


def test_help_and_version(installed: Path) -> None:
    helped = run(installed, "regsync", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "Usage: regsync" in helped.stdout
    assert "--install-completion" in helped.stdout
    versioned = run(installed, "regsync", "--version")
    assert (versioned.returncode, versioned.stdout) == (0, f"regsync {shared.__version__}\n")


def test_a_command_against_azurite_prints_one_line_per_row_into_a_pipe(
    installed: Path, azurite: RunningAzurite
) -> None:
    prefix = f"pkg{uuid.uuid4().hex[:8]}"
    storage = ["--connection-string", azurite.connection_string, "--table-prefix", prefix]
    added = run(
        installed,
        *("regsync", *storage, "registry", "add", "regsync-registry"),
        *("--subscription", SUBSCRIPTION, "--resource-group", "rg-registry"),
        *("--region", "eastus", "--region", "westeurope"),
    )
    assert added.returncode == 0, added.stderr
    listed = run(installed, "regsync", *storage, "registry", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    assert rows[0] == ["NAME", "SUBSCRIPTION", "RESOURCE", "GROUP", "REGIONS"]
    assert rows[-1] == ["regsync-registry", SUBSCRIPTION, "rg-registry", "eastus,", "westeurope"]


def test_shell_completion_installs_and_completes(installed: Path, tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    installed_completion = run(installed, "regsync", "--install-completion", "bash", env=home)
    assert installed_completion.returncode == 0, installed_completion.stderr
    assert "_REGSYNC_COMPLETE=complete_bash" in (tmp_path / ".bash_completions" / "regsync.sh").read_text()
    # What bash runs on <TAB> after `regsync ten`.
    completed = run(
        installed,
        "regsync",
        env={"_REGSYNC_COMPLETE": "complete_bash", "COMP_WORDS": "regsync ten", "COMP_CWORD": "1"},
    )
    assert completed.stdout.split() == ["tenant"]
