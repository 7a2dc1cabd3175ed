"""Strip a notebook's volatile metadata after ``jupyter nbconvert --execute --inplace`` (NOTEBOOKS.md):
each cell's execution timestamps go; outputs, execution counts and the collapsed state of solution cells
stay. ``python scripts/strip_notebook.py notebooks/NN_x.ipynb ...``"""
from __future__ import annotations

import sys

import nbformat

for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    print(f"{path}: stripped")
