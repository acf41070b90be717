"""A 2-D layout that comes with the data: metadata columns the map shows as they are.

The names read, first found first: ``x`` / ``y``, ``umap_x`` / ``umap_y``, ``umap_1`` /
``umap_2``, or one ``layout`` column of two numbers per row (a list or array, or its JSON
text, as the loaders keep nested values). A layout that is there but unusable (text, a missing
or infinite value, rows of another width) is not used: :func:`given_layout` says why, and the
map computes its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

#: The column names read as a layout, in order of preference.
LAYOUT_COLUMNS = (("x", "y"), ("umap_x", "umap_y"), ("umap_1", "umap_2"), ("layout",))


@dataclass(frozen=True)
class GivenLayout:
    """``xy`` (N, 2) float32 when the data carries a usable layout in ``columns``; else
    ``xy`` is None and ``problem`` says what is wrong with the columns found (None when there
    are none)."""

    xy: np.ndarray | None
    columns: tuple = ()
    problem: str | None = None


def layout_columns(metadata) -> tuple:
    """The first of :data:`LAYOUT_COLUMNS` present in ``metadata`` (a DataFrame), or ()."""
    for names in LAYOUT_COLUMNS:
        if all(name in metadata.columns for name in names):
            return names
    return ()


def given_layout(data) -> GivenLayout:
    """The layout ``data``'s metadata carries, if any and usable.

    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> meta = pd.DataFrame({"umap_1": [0.0, 1.5], "umap_2": [2.0, -1.0]})
    >>> given_layout(SimpleNamespace(metadata=meta, ids=np.array(["a", "b"]))).xy.tolist()
    [[0.0, 2.0], [1.5, -1.0]]
    >>> meta = pd.DataFrame({"x": [0.0, float("nan")], "y": [1.0, 2.0]})
    >>> print(given_layout(SimpleNamespace(metadata=meta, ids=np.array(["a", "b"]))).problem)
    The layout in metadata columns 'x', 'y' is not used: in row 1 (id 'b'), a coordinate is missing or infinite. The map computes its own layout; fix or drop these columns to use them.
    """
    meta = data.metadata
    columns = layout_columns(meta)
    if not columns:
        return GivenLayout(None)
    named = ", ".join(repr(c) for c in columns)
    plural = len(columns) > 1
    try:
        xy = _pair(meta, columns) if plural else _two_wide(meta[columns[0]])
        bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
        if len(bad):
            raise _Unusable("a coordinate is missing or infinite", int(bad[0]))
    except _Unusable as exc:
        row_id = np.asarray(data.ids[exc.row:exc.row + 1]).tolist()[0] if exc.row is not None \
            else None
        at = "" if exc.row is None else f"in row {exc.row} (id {row_id!r}), "
        return GivenLayout(None, columns, f"The layout in metadata column{'s' * plural} "
                           f"{named} is not used: {at}{exc}. The map computes its own layout; "
                           f"fix or drop {'these columns' if plural else 'this column'} to use "
                           f"{'them' if plural else 'it'}.")
    return GivenLayout(xy.astype(np.float32), columns)


class _Unusable(ValueError):
    def __init__(self, message: str, row: int | None = None):
        super().__init__(message)
        self.row = row


def _pair(meta, columns) -> np.ndarray:
    for name in columns:
        if meta[name].dtype.kind not in "fiu":
            text = meta[name].map(lambda v: not isinstance(v, (int, float, np.number)))
            row = int(np.flatnonzero(text.to_numpy())[0]) if text.any() else None
            raise _Unusable(f"column {name!r} holds text, not numbers", row)
    return np.column_stack([meta[c].to_numpy(dtype=np.float64, na_value=np.nan)
                            for c in columns])


def _two_wide(column) -> np.ndarray:
    out = np.empty((len(column), 2), dtype=np.float64)
    for row, value in enumerate(column):
        if isinstance(value, str):
            try:
                value = json.loads(value)  # JSON text, as the loaders keep nested values
            except ValueError:
                raise _Unusable("the value is text, not a list of two numbers", row) from None
        try:
            pair = np.asarray(value, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise _Unusable("the value is not two numbers", row) from None
        if pair.shape != (2,):
            raise _Unusable(f"the value holds {pair.size} numbers, not 2", row)
        out[row] = pair
    return out
