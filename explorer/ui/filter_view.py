"""The Explore page's filter builder: which rows a strategy may pick.

Each condition is a column, an operator and a value chosen from widgets (the column's levels
for text columns, a range for numbers); the conditions are joined with "and" or "or". The
result is a :class:`explorer.data.filters.Filter` built from those values directly, so nothing
the browser sends is parsed, let alone run; the page shows its canonical text and passes its
JSON form to the selection, which records it in the manifest.
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from explorer.data import filters
from explorer.errors import ExplorerError

from . import compute, state

#: At most this many distinct values are offered as a list to choose from.
MAX_LEVELS = 200
#: Most conditions in the builder.
MAX_ROWS = 8

TEXT_OPS = ("is one of", "is not one of", "contains", "starts with", "equals", "is missing",
            "is not missing")
NUMBER_OPS = ("between", "=", "≠", "<", "≤", ">", "≥", "is missing", "is not missing")
BOOL_OPS = ("is True", "is False", "is missing", "is not missing")
_SYMBOL = {"=": "==", "≠": "!=", "<": "<", "≤": "<=", ">": ">", "≥": ">="}


@st.cache_data(show_spinner=False, max_entries=8)
def column_choices(data_key) -> dict:
    """Per filterable column, in the order offered: its kind and either its levels (text
    with at most :data:`MAX_LEVELS` values), its finite range (numbers), or nothing."""
    meta = compute._data(data_key).metadata
    out = {}
    for c in meta.columns:
        kind = filters.column_kind(meta[c])
        if kind == "text":
            levels = meta[c].dropna().unique()
            out[c] = {"kind": kind, "levels": sorted(map(str, levels))
                      if len(levels) <= MAX_LEVELS else None}
        elif kind == "number":
            values = meta[c].to_numpy(dtype=np.float64, na_value=np.nan)
            finite = values[np.isfinite(values)]
            out[c] = {"kind": kind, "range": (float(finite.min()), float(finite.max()))
                      if len(finite) else (0.0, 0.0),
                      "integer": bool(meta[c].dtype.kind in "iu")}
        elif kind == "bool":
            out[c] = {"kind": kind}
    # the likeliest to filter on first: text with few levels, numbers, True/False, other text
    rank = {"number": 1, "bool": 2}
    return dict(sorted(out.items(), key=lambda kv: rank.get(kv[1]["kind"], 0 if kv[1].get(
        "levels") is not None else 3)))


@st.cache_data(show_spinner=False, max_entries=32)
def passing_rows(data_key, where_json: str) -> int:
    """How many rows pass the filter (its JSON form)."""
    data = compute._data(data_key)
    return int(filters.evaluate(json.loads(where_json), data.metadata, "filter").sum())


def _condition(i: int, choices: dict, row):
    """The widgets of condition ``i``: column and operator side by side in ``row``, the value
    below; returns its Filter, or None while no value is chosen."""
    column = state.remembered(row[0].selectbox, "Column", f"filter:{i}:column",
                              options=list(choices), label_visibility="collapsed")
    info = choices[column]
    kind = info["kind"]
    if kind == "text":
        ops = TEXT_OPS if info["levels"] is not None else TEXT_OPS[2:]
    else:
        ops = NUMBER_OPS if kind == "number" else BOOL_OPS
    op = state.remembered(row[1].selectbox, "Operator", f"filter:{i}:op:{kind}", options=ops,
                          label_visibility="collapsed")
    key = f"filter:{i}:{column}:{op}"  # a value per column and operator: widgets differ
    if op in ("is missing", "is not missing"):
        return filters.IsNa(column, op == "is not missing")
    if op in ("is True", "is False"):
        return filters.Compare(column, "==", op == "is True")
    if op in ("is one of", "is not one of"):
        chosen = state.remembered(st.multiselect, "Values", key, options=info["levels"],
                                  many=True, default=[], label_visibility="collapsed",
                                  placeholder="choose values")
        return filters.IsIn(column, tuple(chosen), op == "is not one of") if chosen else None
    if kind == "text":
        text = state.remembered(st.text_input, "Text", key, default="",
                                label_visibility="collapsed", max_chars=200)
        if not text:
            return None
        if op == "contains":
            return filters.Contains(column, text, case=False)
        return filters.StartsWith(column, text) if op == "starts with" else \
            filters.Compare(column, "==", text)
    low, high = info["range"]
    if op == "between":
        if low == high:
            return filters.Between(column, low, high)
        lo, hi = state.remembered(st.slider, "Range", key, low, high, default=(low, high),
                                  label_visibility="collapsed")
        return filters.Between(column, _number(lo, info), _number(hi, info))
    value = state.remembered(st.number_input, "Value", key, default=low,
                             label_visibility="collapsed")
    return filters.Compare(column, _SYMBOL[op], _number(value, info))


def _number(value, info):
    return int(round(value)) if info["integer"] else float(value)


def filter_builder(data):
    """The builder in an expander; returns the Filter (or None without a condition)."""
    choices = column_choices(state.get("data_key"))
    count = min(int(state.get("filter_count")), MAX_ROWS)
    with st.expander(f"Filter: which rows may be picked{' (on)' if count else ''}",
                     expanded=bool(count)):
        if not choices:
            st.caption("This dataset has no metadata columns to filter on.")
            return None
        conditions = []
        for i in range(count):
            node = _condition(i, choices, st.columns([1.2, 1]))
            if node is not None:
                conditions.append(node)
        if count > 1:
            join = state.remembered(st.radio, "Rows pass when", "filter_join",
                                    options=["all conditions hold (and)",
                                             "any condition holds (or)"], horizontal=True)
        else:
            join = "all"
        b1, b2 = st.columns(2)
        if b1.button("Add condition", key="filter_add", disabled=count >= MAX_ROWS,
                     width="stretch"):
            state.put("filter_count", count + 1)
            st.rerun()
        if b2.button("Remove last", key="filter_remove", disabled=not count, width="stretch"):
            state.put("filter_count", count - 1)
            st.rerun()
        if not conditions:
            if count:
                st.caption("Choose a value to use the filter.")
            return None
        where = (filters.all_of if join.startswith("all") else filters.any_of)(*conditions)
        st.code(where.to_text(), language="python", wrap_lines=True)
        try:
            passing = passing_rows(state.get("data_key"), where_json(where))
        except ExplorerError as exc:
            st.error(str(exc))
            return None
        st.caption(f"{passing:,} of {data.n:,} rows pass; strategies pick only among them "
                   "(pinned rows are kept). The manifest records this filter.")
        return where


def where_json(where) -> str | None:
    """The filter's JSON text (hashable, for cached runs), or None."""
    return None if where is None else json.dumps(where.to_json(), sort_keys=True)
