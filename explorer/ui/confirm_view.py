"""The Export page's "Confirm on the locked split": lock a split before exploring, then run
the chosen selection's probe on it once."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import explorer
from explorer.data.export import manifest_dict
from explorer.data.manifest import validate_manifest
from explorer.evaluate.confirm import confirm, lock_confirmation, plural, status

from . import compute, state


def confirm_section(data, sel) -> None:
    st.subheader("Confirm on the locked split")
    try:
        found = status(data)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
        return
    if found is None:
        _offer_lock(data)
        return
    ex = found["explorations"]
    st.markdown(f"**{found['n']:,} rows** of {data.name} are locked (since "
                f"{found['created'][:19].replace('T', ' ')} UTC, seed {found['seed']}, "
                f"{found['fraction']:.0%}, stratified by {found['label_column'] or 'nothing'})."
                f" Tried since: **{plural(ex['strategies'], 'strategy')}** and "
                f"**{plural(ex['budgets'], 'budget')}** ({ex['strategy_budgets']} strategy × "
                f"budget pairs, {plural(ex['runs'], 'run')}).")
    done = found["confirmations"]
    just = state.get("confirm_result")
    if done:
        shown = just if just and just.get("fingerprint") == data.fingerprint else done[0]
        _show(shown)
        st.caption("This split has been used. A second confirmation is no confirmation: the "
                   "app does not run one (the command line's `explorer confirm --again` does, "
                   "and flags it).")
        if just and sel is not None and just.get("selection") == repr(state.scored_key(sel)):
            _manifest_download(data, sel, just)
        return
    if sel is None or sel.fingerprint != data.fingerprint:
        st.info("Run a strategy on Explore first; the selection you settle on is confirmed "
                "here, once.")
        return
    label = state.get("label_column") or found["label_column"]
    st.write(f"Confirm **{sel.strategy}** ({len(sel):,} rows): a logistic probe trained on "
             f"these rows is scored on the locked rows (by {label!r}), next to 200 random "
             "subsets of the same size. This can be done **once** for this split.")
    sure = st.checkbox("This is the selection I chose; use the split now.", key="confirm_sure")
    if st.button("Confirm on the locked split", type="primary", disabled=not sure,
                 key="confirm_run"):
        try:
            with st.spinner("Training the probe on the selection and on 200 random subsets "
                            "..."):
                result = confirm(data, sel, label_column=label)
        except explorer.ExplorerError as exc:
            st.error(str(exc))
            return
        state.put("confirm_result", dict(result.to_dict(), fingerprint=data.fingerprint,
                                         selection=repr(state.scored_key(sel))))
        st.rerun()


def _offer_lock(data) -> None:
    st.write("Holm's correction guards one comparison; it cannot see what you tried in "
             "other sessions. Lock a share of the rows **before exploring**: no page, "
             "comparison or selection touches them afterwards, every strategy and budget you "
             "try is counted, and the selection you settle on is confirmed on them once.")
    label = state.get("label_column")
    fraction = state.remembered(st.slider, "Share of rows to lock", "confirm_fraction",
                                min_value=0.05, max_value=0.4, step=0.05)
    if not label:
        st.caption("Choose a label column in the sidebar: the split is stratified by it and "
                   "the confirmation's probe predicts it.")
    if st.button("Lock a confirmation split", disabled=not label, key="confirm_lock"):
        try:
            lock = lock_confirmation(data, label, float(fraction))
        except explorer.ExplorerError as exc:
            st.error(str(exc))
            return
        compute.cached_selection.clear()  # nothing selected before the lock is shown again
        state.put("selection", None)
        st.success(f"Locked {lock['n']:,} rows (seed {lock['seed']}).")
        st.rerun()


def _show(record: dict) -> None:
    verdict = record["metrics"]["accuracy"]["verdict"]
    flag = " — FLAGGED: not the first look at this split" if record.get("flagged") else ""
    st.markdown(f"**{record['strategy']}** ({record['budget']:,} rows), confirmed "
                f"{record['confirmed_at'][:19].replace('T', ' ')} UTC: accuracy on the locked "
                f"rows is **{verdict}**{flag}.")
    rows = [{"metric": name, "this selection": m["value"], "random mean": m["random_mean"],
             "random 5–95%": f"{m['random_p05']:.3f} – {m['random_p95']:.3f}",
             "p": m["p_value"], "rank p": m["p_rank"], "verdict": m["verdict"]}
            for name, m in record["metrics"].items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"this selection": st.column_config.NumberColumn(format="%.3f"),
                                "random mean": st.column_config.NumberColumn(format="%.3f"),
                                "p": st.column_config.NumberColumn(format="%.3g"),
                                "rank p": st.column_config.NumberColumn(format="%.3g")})
    ex = record["explorations_before"]
    st.caption(f"{record['random_draws']} random subsets; tried before on this dataset since "
               f"the lock: {plural(ex['strategies'], 'strategy')}, "
               f"{plural(ex['budgets'], 'budget')}, {plural(ex['runs'], 'run')}.")


def _manifest_download(data, sel, record: dict) -> None:
    doc = manifest_dict(data, sel)
    doc["confirmation"] = {k: v for k, v in record.items()
                           if k not in ("fingerprint", "selection")}
    validate_manifest(doc)
    st.download_button("Manifest with the confirmation (JSON)",
                       json.dumps(doc, indent=2) + "\n",
                       f"{data.name}-{sel.strategy}-{len(sel)}-confirmed.json",
                       "application/json", key="confirm_dl")
