"""The rules of ../shared/NOTEBOOKS.md, read off every notebook in notebooks/ (stored sources and outputs;
nbval, run as root in strict mode, proves the stored outputs are what the current code prints).

A notebook passes when:

1. **objectives** — its first markdown cell has a title and a list of learning objectives (a line with
   "You will learn" or "objectives", followed by ``- `` items).
2. **struct, proven equal** — a code cell calls ``struct.pack``/``unpack``/``unpack_from``/``Struct``, and
   some code cell asserts an equality (``assert ... == ...``) between the hand-built result and netstudy's.
3. **a real packet's diagram** — a code cell calls ``header_diagram(`` or ``hexdump(`` at or after a cell
   that gets bytes from outside the notebook: a socket (``recv``, ``recvfrom``), a capture
   (``pcap.read``, ``read(RECORDED``, ``capture_``) or a replay (``replay``).
4. **labelled plots** — every code cell that draws with matplotlib itself (``plt.``, ``.plot(``,
   ``.barh(``, ``.hist(``, ``.scatter(``) sets an x label, a y label and a title, and at least one axis
   label names a unit in parentheses (``"packets (count)"``, ``"time (ms)"``). Figures made by
   ``netstudy`` functions are labelled by those functions (tests/test_show.py and each program's tests).
5. **exercises** — at least two *exercise cells*: a code cell under an "Exercises" heading that binds a
   name (``def``, ``class`` or an assignment) and calls a ``check_…(`` helper, whose stored output is the
   unsolved verdict (a line starting ``✗`` or ``not yet``: the empty stub fails, and printing the verdict
   rather than raising keeps "Run All" going). Each is followed, before the next exercise, by a *solution
   cell* (its first line a comment starting ``# Solution``) whose stored output has the solved verdict
   (``✓`` or ``correct``).
6. **no solution overwrites the student** — a solution cell binds at top level no name that any exercise
   cell binds (it calls ``reveal(solutions.x, check)``, passes ``solutions.x`` to the check, or defines a
   ``solution_…`` name).
7. **outputs from the current code** — the code cells were executed once, top to bottom, in one kernel
   (execution counts 1, 2, 3, …), no output is an error, no cell keeps volatile execution timestamps
   (``scripts/strip_notebook.py``), and the first code cell's stored ``capabilities:`` line names exactly
   the fields ``netstudy.capabilities()`` prints today (the sanitizer masks the values, so this is the
   check that notices a notebook whose outputs predate a change of the code).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import netstudy

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
IDS = [n.stem for n in NOTEBOOKS]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell.get("source", ""))


def text_output(cell: dict) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append("".join(o["text"]))
        elif "text/plain" in o.get("data", {}):
            out.append("".join(o["data"]["text/plain"]))
    return "".join(out)


def code_cells(path: Path) -> list[dict]:
    return [c for c in cells(path) if c["cell_type"] == "code" and source(c).strip()]


def bound_names(src: str) -> set[str]:
    """Names a cell binds at its top level (def, class, assignment targets, for targets, imports)."""
    names: set[str] = set()
    for node in ast.parse(src).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_objectives(notebook):
    first = next(source(c) for c in cells(notebook) if c["cell_type"] == "markdown")
    assert first.startswith("# "), "the first markdown cell starts with the title"
    assert re.search(r"(?i)you will learn|objectives", first), "no learning objectives in the first cell"
    assert re.search(r"(?m)^- ", first), "the objectives are a list"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_struct_step_proven_equal(notebook):
    srcs = [source(c) for c in code_cells(notebook)]
    assert any(re.search(r"struct\.(pack|unpack|unpack_from|Struct)\b", s) for s in srcs), "no struct step"
    assert any(re.search(r"(?m)^\s*assert .*==", s) for s in srcs), "no assert proving hand-built == netstudy"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_a_real_packet_is_drawn(notebook):
    srcs = [source(c) for c in code_cells(notebook)]
    real = re.compile(r"\brecv(from)?\(|pcap\.read\(|read\(RECORDED|\bcapture_\w*\(|\breplay\w*\(")
    first = next((i for i, s in enumerate(srcs) if real.search(s)), None)
    assert first is not None, "no cell gets a packet from a socket, a capture or a replay"
    assert any(re.search(r"\b(header_diagram|hexdump)\(", s) for s in srcs[first:]), \
        "no header diagram or hexdump of a packet from outside the notebook"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_own_plots_have_labelled_axes_with_units(notebook):
    for c in code_cells(notebook):
        s = source(c)
        if not re.search(r"\bplt\.|\.(plot|barh|bar|hist|scatter)\(", s):
            continue
        where = s.splitlines()[0]
        assert re.search(r"set_xlabel|xlabel\(", s) and re.search(r"set_ylabel|ylabel\(", s), f"axis label: {where}"
        assert re.search(r"set_title|title\(|suptitle", s), f"no title: {where}"
        labels = re.findall(r"(?:set_[xy]label|[xy]label)\(\s*f?\"([^\"]*)\"", s)
        assert any(re.search(r"\(.+\)", label) for label in labels), f"no unit in an axis label: {where}"


def exercises_and_solutions(notebook: Path) -> tuple[list[dict], list[dict], list[tuple[dict, list[dict]]]]:
    all_cells = cells(notebook)
    start = next((i for i, c in enumerate(all_cells) if c["cell_type"] == "markdown"
                  and re.search(r"(?m)^#+ .*Exercises", source(c))), len(all_cells))
    exercises, solutions, pairs = [], [], []
    for c in all_cells[start:]:
        if c["cell_type"] != "code":
            continue
        s = source(c)
        if s.lstrip().startswith("# Solution"):
            solutions.append(c)
            if pairs:
                pairs[-1][1].append(c)
        elif re.search(r"\bcheck_\w+\(", s) and bound_names(s):
            exercises.append(c)
            pairs.append((c, []))
    return exercises, solutions, pairs


UNSOLVED = re.compile(r"(?m)^(✗|not yet)")
SOLVED = re.compile(r"(?m)^(✓|correct)")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_exercises_fail_on_the_stub_and_pass_on_the_solution(notebook):
    exercises, _, pairs = exercises_and_solutions(notebook)
    assert len(exercises) >= 2, f"{len(exercises)} exercise(s): at least two"
    for exercise, solutions in pairs:
        first = source(exercise).splitlines()[0]
        assert UNSOLVED.search(text_output(exercise)), f"the stub's check does not print the unsolved verdict: {first}"
        assert solutions, f"no '# Solution' cell after the exercise: {first}"
        assert any(SOLVED.search(text_output(s)) for s in solutions), f"the solution does not pass: {first}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_no_solution_overwrites_the_students_name(notebook):
    exercises, solutions, _ = exercises_and_solutions(notebook)
    student = set().union(*(bound_names(source(c)) for c in exercises)) if exercises else set()
    for c in solutions:
        clash = bound_names(source(c)) & student
        assert not clash, f"a solution cell rebinds the student's {sorted(clash)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_outputs_come_from_one_run_of_the_current_code(notebook):
    code = [c for c in cells(notebook) if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"not one top-to-bottom run: execution counts {counts}"
    for c in code:
        assert "execution" not in c.get("metadata", {}), "volatile timestamps: run scripts/strip_notebook.py"
        assert not any(o.get("output_type") == "error" for o in c.get("outputs", [])), source(c)[:60]
    stored = re.search(r"capabilities: .*", text_output(code[0]))
    assert stored, "the first code cell prints netstudy.capabilities()"
    fields = re.findall(r"(\w+)=", stored.group(0))
    assert fields == re.findall(r"(\w+)=", str(netstudy.capabilities())), \
        "the stored capabilities line predates the code: re-run the notebook (jupyter nbconvert --execute --inplace)"
