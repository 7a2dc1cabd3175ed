"""Every notebook runs top to bottom without root, taking its fallbacks (NOTEBOOKS.md).

`make test` runs nbval on every notebook as root (outputs compared); this runs each again as an
unprivileged user in nbval's lax mode (outputs not compared, but any error fails): inside
`unshare --user --map-user=65534`, the process has no network privilege at all (raw, ICMP-datagram
and AF_PACKET sockets refused, no namespaces of its own), yet can still read the interpreter.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs_unprivileged(notebook, tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (util-linux) to drop to an unprivileged user")
    probe = subprocess.run(["unshare", "--user", "--map-user=65534", "--map-group=65534", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unprivileged user namespaces are not allowed here: {probe.stderr.strip()}")
    cmd = ["unshare", "--user", "--map-user=65534", "--map-group=65534",
           sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           "--nbval-cell-timeout=120", str(notebook)]
    env = dict(os.environ, NETSTUDY_UNPRIVILEGED_CHECK="1", JUPYTER_RUNTIME_DIR=str(tmp_path))
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    assert result.returncode == 0, f"{notebook.name} failed without root:\n{tail}"
