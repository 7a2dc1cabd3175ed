"""Record what notebooks/07_p2p_chat.ipynb replays of the lab when it may not build one (building it needs root).

    sudo .venv/bin/python tests/data/record_p2p.py

Runs ``netstudy.p2p.swarm.lab_run`` (the experiment the notebook runs live as root: five peers in the lab's
``lan``, the ring forming, one message's gossip, a kill, a partition and its healing) and writes it to
netstudy/data/p2p/lab_run.json.
"""
from __future__ import annotations

import json
from pathlib import Path

from netstudy.lab import Lab
from netstudy.p2p.swarm import LAB_PEERS, lab_run

OUT = Path(__file__).resolve().parents[2] / "netstudy" / "data" / "p2p" / "lab_run.json"


def main() -> None:
    with Lab("lan", hosts=LAB_PEERS) as lab:
        run = lab_run(lab)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(run, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
