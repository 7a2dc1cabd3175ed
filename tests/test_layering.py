"""Imports only point down (ARCHITECTURE.md): every import in netstudy/, including imports inside
functions, is checked against the layer table, and each violation is named with its file and line."""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "netstudy"

# The layers below the programs, and what each may import (besides the standard library and itself).
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "states": set(),
    "wire": {"errors"},
    "show": {"wire", "errors"},
    "pcap": {"wire", "errors"},
    "capabilities": {"wire", "errors"},
    "net": {"wire", "errors", "capabilities"},
    "exercises": {"wire", "show", "errors"},
}
# What any program may import from below it.
PROGRAM_MAY_IMPORT = {"wire", "show", "pcap", "net", "capabilities", "states", "errors", "exercises"}
# Inside one program: which of its own roles each role may import ("extra": a module named for what it
# holds, e.g. dns/zone.py; "init": the package's __init__).
ROLES = ("core", "engine", "output", "figures", "exercises", "solutions", "seed")
ROLE_MAY_IMPORT: dict[str, set[str]] = {
    "core": {"core", "extra"},
    "engine": {"core", "engine", "extra"},
    "output": {"core", "output", "extra"},
    "figures": {"core", "figures", "extra"},
    "exercises": {"core", "engine", "output", "seed", "exercises", "extra"},
    "solutions": {"core", "engine", "output", "figures", "exercises", "seed", "solutions", "extra", "init"},
    "seed": set(),
    "extra": {"core", "engine", "extra"},
    "init": set(ROLES) | {"extra"},
}
# Never inside netstudy/ (they are the tests' judges); and heavy libraries only inside functions.
FORBIDDEN = {"scapy", "dpkt", "dnslib", "dns"}
LAZY_ONLY = {"pandas", "numpy", "matplotlib", "tqdm", "IPython"}


@dataclass(frozen=True)
class Place:
    layer: str                  # a key of LAYERS, "program", "commands", "cli" or "root"
    program: str = ""
    role: str = ""


def place_of(module: str, programs: set[str]) -> Place:
    parts = module.split(".")
    if parts == ["netstudy"]:
        return Place("root")
    top = parts[1]
    if top in LAYERS:
        return Place(top)
    if top in ("commands", "cli"):
        return Place(top if top == "commands" else "cli")
    if top in programs:
        if len(parts) == 2:
            return Place("program", top, "init")
        return Place("program", top, parts[2] if parts[2] in ROLES else "extra")
    return Place("unplaced")


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str, root: Path) -> list[tuple[int, str, str]]:
    """(line, imported module, where) for every import statement in the file; where is "top" (runs on
    import), "typing" (under ``if TYPE_CHECKING:``, never runs) or "function" (runs when called)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    where = {id(node): "top" for node in tree.body}
    for node in tree.body:
        if isinstance(node, ast.If):
            typing = "TYPE_CHECKING" in ast.unparse(node.test)
            where.update((id(n), "typing" if typing else "top") for n in node.body)
    found: dict[tuple[int, str], str] = {}
    for node in ast.walk(tree):
        kind = where.get(id(node), "function")
        if isinstance(node, ast.Import):
            found.update(((node.lineno, alias.name), kind) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:      # `from netstudy import pcap` imports the module netstudy.pcap
                candidate = root.parent / Path(*f"{base}.{alias.name}".split("."))
                is_module = candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists()
                found[node.lineno, f"{base}.{alias.name}" if is_module else base] = kind
    return [(line, target, kind) for (line, target), kind in sorted(found.items())]


def rule_broken(src: Place, dst: Place) -> str | None:
    """Why importing ``dst`` from ``src`` breaks ARCHITECTURE.md, or None when it is allowed."""
    if src.layer in LAYERS:
        if dst.layer == src.layer or dst.layer in LAYERS[src.layer]:
            return None
        return f"{src.layer}/ may import only {sorted(LAYERS[src.layer]) or 'the standard library'}"
    if src.layer == "program":
        if dst.layer == "program" and dst.program != src.program:
            return "a program never imports another program (compose them in commands/ or a notebook)"
        if dst.layer == "program":
            if dst.role in ROLE_MAY_IMPORT[src.role]:
                return None
            return f"{src.program}/{src.role} may import only its own {sorted(ROLE_MAY_IMPORT[src.role])}"
        if src.role == "seed":
            return "seed.py is the course's original program: standard library only"
        if dst.layer in PROGRAM_MAY_IMPORT:
            return None
        return f"a program may import only {sorted(PROGRAM_MAY_IMPORT)} below it"
    if src.layer == "commands":
        return "commands/ never imports the CLI above it" if dst.layer == "cli" else None
    if src.layer in ("cli", "root"):
        if dst.layer in ("commands", "errors", "capabilities", "root", "show"):
            return None
        return "cli.py and netstudy/__init__ import only commands/, errors, capabilities (and show, lazily)"
    raise AssertionError(src)


def violations(root: Path) -> list[str]:
    programs = {p.name for p in root.iterdir()
                if p.is_dir() and (p / "__init__.py").exists() and p.name not in LAYERS and p.name != "commands"}
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        src = place_of(module, programs)
        where = path.relative_to(root.parent)
        if src.layer == "unplaced":
            found.append(f"{where}: is in no layer of ARCHITECTURE.md (a program is a package)")
            continue
        for line, target, kind in imports(path, module, root):
            first = target.split(".")[0]
            if first in FORBIDDEN:
                found.append(f"{where}:{line}: imports {target}: the tests' judges never go into netstudy/")
            elif first in LAZY_ONLY and kind == "top":
                found.append(f"{where}:{line}: imports {target} at module level: import it inside the function")
            elif first == "netstudy":
                dst = place_of(target, programs)
                why = None if dst.layer == "unplaced" else rule_broken(src, dst)
                if why:
                    found.append(f"{where}:{line}: imports {target}: {why}")
    return found


def test_every_import_in_netstudy_points_down():
    found = violations(PACKAGE)
    assert not found, "imports that break ARCHITECTURE.md:\n" + "\n".join(found)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "netstudy"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            (root / parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize("files, expected", [
    ({"wire/ip.py": "from netstudy.show import diagram\n", "show/diagram.py": ""},
     "netstudy/wire/ip.py:1: imports netstudy.show.diagram: wire/ may import only ['errors']"),
    ({"show/x.py": "def f():\n    from netstudy.lab import Lab\n", "lab/__init__.py": ""},
     "netstudy/show/x.py:2: imports netstudy.lab: show/ may import only ['errors', 'wire']"),
    ({"icmp/core.py": "from .engine import Ping\n", "icmp/engine.py": ""},
     "netstudy/icmp/core.py:1: imports netstudy.icmp.engine: icmp/core may import only its own"),
    ({"sweep/engine.py": "from netstudy.icmp import core\n", "icmp/core.py": ""},
     "netstudy/sweep/engine.py:1: imports netstudy.icmp.core: a program never imports another program"),
    ({"dns/seed.py": "from netstudy.wire import dns\n", "wire/dns.py": ""},
     "netstudy/dns/seed.py:1: imports netstudy.wire.dns: seed.py is the course's original program"),
    ({"pcap.py": "import pandas as pd\n"},
     "netstudy/pcap.py:1: imports pandas at module level"),
    ({"ping.py": "import socket\n"},
     "netstudy/ping.py: is in no layer of ARCHITECTURE.md"),
    ({"dns/core.py": "import dns.message\n"},
     "netstudy/dns/core.py:1: imports dns.message: the tests' judges never go into netstudy/"),
])
def test_the_checker_names_each_kind_of_violation(tmp_path, files, expected):
    found = violations(_tree(tmp_path, files))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_the_checker_accepts_what_the_table_allows(tmp_path):
    root = _tree(tmp_path, {
        "wire/ip.py": "from netstudy.errors import DecodeError\n", "errors.py": "",
        "icmp/core.py": "from netstudy.wire import ip\nfrom netstudy.states import StateTable\n", "states.py": "",
        "icmp/engine.py": "from netstudy.icmp.core import x\nfrom netstudy.net import icmp\n", "net/icmp.py": "",
        "icmp/figures.py": "from netstudy.show import d\nfrom . import core\n", "show/d.py": "",
        "commands/ping.py": "from netstudy.icmp.engine import Ping\n",
        "pcap.py": "def to_frame():\n    import pandas\n",
    })
    assert violations(root) == []


def import_cycles(root: Path) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (package __init__ files,
    which only re-export, left out): each group is a cycle to break."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path.name != "__init__.py":
            module = module_name(path, root)
            graph[module] = {t for _, t, kind in imports(path, module, root) if kind != "typing"}
    for module in graph:
        graph[module] &= graph.keys()
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_module_imports_one_that_imports_it_back():
    cycles = import_cycles(PACKAGE)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in cycles)


def test_the_cycle_finder_finds_a_loop_inside_a_function(tmp_path):
    root = _tree(tmp_path, {"wire/icmp.py": "def quoted():\n    from netstudy.wire.decode import x\n",
                            "wire/decode.py": "from netstudy.wire.icmp import ICMP\n",
                            "wire/ip.py": "from netstudy.wire.icmp import ICMP\n"})
    assert import_cycles(root) == [["netstudy.wire.decode", "netstudy.wire.icmp"]]


LONGEST = 600      # lines; a longer module says why in its docstring, in a paragraph starting LONG_REASON
LONG_REASON = "Why this file is long:"


def test_no_module_is_longer_than_600_lines_unless_its_docstring_says_why():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().count("\n")
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > LONGEST and LONG_REASON not in doc:
            long.append(f"{path.relative_to(PACKAGE.parent)}: {lines} lines")
    assert not long, f"split these, or say why in the docstring ('{LONG_REASON} ...'):\n" + "\n".join(long)
