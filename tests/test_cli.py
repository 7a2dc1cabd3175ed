"""The `netstudy` front end: help lists every tool, --version works, failures are one line."""
from __future__ import annotations

import subprocess
import sys

from netstudy import __version__
from netstudy.cli import COMMANDS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netstudy.cli", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_subcommand():
    out = run("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout
    assert {"ping", "traceroute", "dns", "chat", "lab", "capabilities"} <= set(COMMANDS)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"netstudy {__version__}"


def test_capabilities_is_one_line():
    out = run("capabilities")
    assert out.returncode == 0
    line, = out.stdout.strip().splitlines()
    assert line.startswith("capabilities: root=") and "raw_sockets=" in line


def test_no_subcommand_is_a_usage_error():
    out = run()
    assert out.returncode == 2 and "usage: netstudy" in out.stderr and "Traceback" not in out.stderr
