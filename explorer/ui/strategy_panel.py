"""The strategy panel: a strategy chosen by family from the registry, with its description,
the inputs it needs and a widget per declared parameter (drawn from the strategy's spec, so a
new strategy needs nothing here)."""

from __future__ import annotations

import streamlit as st

from explorer.params import Boolean, Interval, Options, Pairs, Text
from explorer.strategies import INPUTS, REGISTRY, list_strategies

from . import state


def sets_own_size(name) -> bool:
    """Whether the registered strategy ``name`` decides its own size (the budget does not
    apply); False for an unknown name."""
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    return spec is not None and spec.sets_size


def available_inputs() -> set:
    """The inputs the sidebar provides (labels, groups, scores, a lassoed target), by name."""
    out = set()
    if state.get("label_column"):
        out.add("labels")
    if state.get("group_column"):
        out.add("groups")
    if state.get("score_column"):
        out.add("scores")
    if state.get("target"):
        out.add("target")
    return out


def strategy_picker(key: str = "strategy"):
    """A strategy chosen by family, its description, needed inputs and parameters.

    Returns (spec, params, missing) where ``missing`` lists inputs it needs and lacks.
    """
    specs = list_strategies()
    labels = {s.name: f"{s.family} · {s.name}" for s in specs}
    name = state.remembered(st.selectbox, "Strategy", key, options=[s.name for s in specs],
                            format_func=lambda n: labels[n], default="k-center")
    spec = next(s for s in specs if s.name == name)
    st.caption(spec.summary)
    missing = spec.missing_inputs(available_inputs())
    if spec.needs:
        st.caption("Needs: " + ", ".join(INPUTS[n] for n in spec.needs))
    if missing:
        st.warning(f"{spec.name} is unavailable: it needs {' and '.join(missing)}. Choose the "
                   "column in the sidebar (or lasso a target on the map).")
    params = param_widgets(spec, key)
    with st.expander("Paper"):
        st.write(spec.paper)
    return spec, params, missing


def param_widgets(spec, key: str) -> dict:
    """A widget per parameter of ``spec``; each value is remembered per strategy."""
    params = {}
    for p in spec.params.params:
        wkey = f"{key}:{spec.name}:{p.name}"
        c = p.constraint
        label = p.name.replace("_", " ")
        if p.optional:
            auto = state.remembered(st.checkbox, f"{label}: automatic", wkey + ":auto",
                                    default=p.default is None, help=p.help)
            if auto:
                params[p.name] = None
                continue
        if isinstance(c, Options):
            params[p.name] = state.remembered(st.selectbox, label, wkey, options=c.values,
                                              default=p.default, help=p.help)
        elif isinstance(c, Boolean):
            params[p.name] = state.remembered(st.checkbox, label, wkey,
                                              default=bool(p.default), help=p.help)
        elif isinstance(c, Interval):
            default = p.default if p.default is not None else (c.low or 1)
            if c.kind == "int":
                lo = int(c.low) if c.low is not None else None
                hi = int(c.high) if c.high is not None else None
                params[p.name] = int(state.remembered(
                    st.number_input, label, wkey, min_value=lo, max_value=hi,
                    default=int(default), step=1, help=p.help))
            else:
                lo = float(c.low) if c.low is not None else None
                hi = float(c.high) if c.high is not None else None
                if lo is not None and c.closed in ("neither", "right"):
                    lo = lo + 1e-6
                if hi is not None and c.closed in ("neither", "left"):
                    hi = hi - 1e-6
                params[p.name] = float(state.remembered(
                    st.number_input, label, wkey, min_value=lo, max_value=hi,
                    default=float(default), help=p.help, format="%.4g"))
        elif spec.nested is not None and p.name == spec.nested.strategy:  # runs another
            params[p.name] = state.remembered(st.selectbox, label, wkey,
                                              options=spec.inner_choices(),
                                              default=p.default, help=p.help)
        elif isinstance(c, (Text, Pairs)):  # named values are typed as their text form
            params[p.name] = state.remembered(st.text_input, label, wkey,
                                              default=p.default or "", help=p.help)
    return params
