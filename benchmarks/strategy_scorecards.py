"""The geometric scorecard of every registered strategy against random, on both samples.

    python benchmarks/strategy_scorecards.py                  # writes docs/strategy_scorecards.md
    python benchmarks/strategy_scorecards.py --budgets 50 --out /tmp/sc.md   # a quicker run

For each bundled sample (digits: euclidean; pydocs: cosine) and each budget, every strategy
in the registry selects with its default parameters and seed 0, and :func:`explorer.score`
places its subset among 30 random subsets of the same size (the scorecard's own protocol:
a mark when the value lies outside random's 5-95 % band). Inputs for the strategies that need
them: scores = ``difficulty``, groups = ``group``, labels = ``label``, target = the rows whose
label is '3' (digits) or 'debugger' (pydocs); the targeted strategies are also scored against
that target (``target_mmd``, ``target_ot``). A strategy that fails is listed with its error
message, not left out.

This is geometry only — how the subset looks in the embedding space. Whether a subset is worth
more than random for learning is the question of ``benchmarks/findings.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import explorer  # noqa: E402
from explorer.evaluate.scorecard import DIRECTION, ScoringContext  # noqa: E402

DATASETS = {
    "digits": dict(metric="euclidean", target_label="3"),
    "pydocs": dict(metric="cosine", target_label="debugger"),
}
COLUMNS = ["coverage_max", "coverage_mean", "facility_location", "cluster_js", "label_kl",
           "min_pairwise_distance", "vendi", "mmd"]
TARGET_COLUMNS = ["target_mmd", "target_ot"]
MARK = {"better than random": "▲", "worse than random": "▼",
        "within random's spread": "·", "not comparable": "?"}


def fmt(x) -> str:
    if x is None or not np.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.3e}"


def run(name: str, cfg: dict, budgets, draws: int, seed: int, t0: float) -> dict:
    data = explorer.load_sample(name)
    metric = cfg["metric"]
    labels = data.metadata["label"].astype(str).to_numpy()
    target = np.flatnonzero(labels == cfg["target_label"])
    ctx = ScoringContext.build(data, metric=metric, label_column="label", seed=seed)
    out = {"name": name, "n": data.n, "dim": data.embeddings.shape[1], "metric": metric,
           "target": cfg["target_label"], "n_target": len(target), "space": ctx.space,
           "n_clusters": ctx.n_clusters, "budgets": {}}
    for budget in budgets:
        rows = []
        for spec in explorer.list_strategies():
            targeted = "target" in spec.needs
            row = {"strategy": spec.name, "family": spec.family, "targeted": targeted}
            kw = dict(seed=seed, metric=metric, label_column="label", group_column="group",
                      score_column="difficulty")
            if targeted:
                kw["target"] = target
            start = time.perf_counter()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    sel = explorer.select(data, spec.name, budget, **kw)
                row["seconds"] = time.perf_counter() - start
                row["size"] = len(sel.indices)
                row["warnings"] = sorted({str(w.message)[:200] for w in caught})
                row["info"] = dict(sel.info or {})
                card = explorer.score(data, sel, metric=metric, label_column="label",
                                      random_draws=draws, seed=seed, context=ctx,
                                      target=target if targeted else None)
                row["card"] = card
            except Exception as exc:  # every failure is reported, never hidden
                row["seconds"] = time.perf_counter() - start
                row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            err = f"  ERROR {row['error'][:80]}" if "error" in row else ""
            print(f"[{time.perf_counter() - t0:6.1f} s] {name} budget {budget}: "
                  f"{spec.name:20s} {row.get('size', '-')!s:>5} rows {row['seconds']:.2f} s{err}",
                  flush=True)
        # The random row: the random envelope at the full budget, with the target metrics.
        rand_sel = explorer.select(data, "random", budget, seed=seed, metric=metric)
        random_card = explorer.score(data, rand_sel, metric=metric, label_column="label",
                                     random_draws=draws, seed=seed, context=ctx, target=target)
        out["budgets"][budget] = {"rows": rows, "random": random_card}
    return out


def table(res, budget) -> list[str]:
    block = res["budgets"][budget]
    cols = COLUMNS + TARGET_COLUMNS
    arrows = {c: "↓" if not DIRECTION[c] else "↑" for c in cols}
    L = ["| strategy | rows | s | " + " | ".join(f"{c} {arrows[c]}" for c in cols)
         + " | ▲ / ▼ of 8 |",
         "|---|---:|---:|" + "---:|" * len(cols) + "---:|"]
    notes = []
    for row in block["rows"]:
        name = f"`{row['strategy']}`"
        if "error" in row:
            L.append(f"| {name} | — | {row['seconds']:.2f} | failed: "
                     f"{row['error'].replace('|', '/')} |" + " |" * (len(cols)))
            continue
        card = row["card"]
        cells, up, down = [], 0, 0
        for c in cols:
            m = card.metrics.get(c)
            if m is None:
                cells.append("")
                continue
            mk = MARK[m.verdict]
            if c in COLUMNS:
                up += mk == "▲"
                down += mk == "▼"
            cells.append(f"{fmt(m.value)} {mk}")
        size = str(row["size"]) + ("" if row["size"] == budget else "*")
        L.append(f"| {name} | {size} | {row['seconds']:.2f} | " + " | ".join(cells)
                 + f" | {up} / {down} |")
        if row["size"] != budget:
            notes.append(f"`{row['strategy']}` returned {row['size']} rows for a budget of "
                         f"{budget} (it proposes its own size); its random envelope is drawn "
                         f"at {row['size']} rows.")
        info = row.get("info", {})
        kept = info.get("n_kept", info.get("n_representatives"))
        if kept is not None and kept > row["size"]:
            notes.append(f"`{row['strategy']}`: {kept} rows survive deduplication "
                         f"({info.get('n_removed', '?')} removed); the budget keeps "
                         f"{row['size']} of them in the strategy's keep order, so its marks "
                         "describe that cap more than deduplication.")
        for w in row["warnings"]:
            notes.append(f"`{row['strategy']}` warned: {w}")
    rc = block["random"]
    cells = []
    for c in cols:
        m = rc.metrics.get(c)
        cells.append("" if m is None else f"*{fmt(m.random_mean)}*")
    L.append(f"| *random mean of {rc.random_draws}* | {budget} | | " + " | ".join(cells)
             + " | |")
    return L, notes


def summary(res, budget) -> list[str]:
    """Which strategies lead on the key metrics at this budget (plain words, from the numbers)."""
    rows = [r for r in res["budgets"][budget]["rows"] if "card" in r]
    out = []
    for c in ("coverage_max", "coverage_mean", "mmd", "label_kl"):
        better = [r["strategy"] for r in rows if r["card"].metrics[c].verdict ==
                  "better than random"]
        worse = [r["strategy"] for r in rows if r["card"].metrics[c].verdict ==
                 "worse than random"]
        out.append(f"`{c}`: better than random — {', '.join(better) or 'none'}; worse — "
                   f"{', '.join(worse) or 'none'}.")
    failed = [r["strategy"] for r in res["budgets"][budget]["rows"] if "error" in r]
    out.append(f"Failed: {', '.join(failed) or 'none'}.")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", nargs="+", type=int, default=[50, 200])
    ap.add_argument("--draws", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "strategy_scorecards.md")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = [run(n, DATASETS[n], args.budgets, args.draws, args.seed, t0)
               for n in args.datasets]
    runtime = time.perf_counter() - t0
    import numba
    import sklearn

    L = ["# Strategy scorecards: every strategy against random, in the embedding space\n",
         f"Generated by `benchmarks/strategy_scorecards.py` on {dt.date.today().isoformat()} "
         f"in {runtime:.0f} s (python {platform.python_version()}, numpy {np.__version__}, "
         f"scikit-learn {sklearn.__version__}, numba {numba.__version__}, explorer "
         f"{explorer.__version__}).\n",
         f"Every registered strategy ({len(explorer.list_strategies())}) picks with its default "
         f"parameters and seed {args.seed}; `explorer.score` compares the subset with "
         f"{args.draws} random subsets of the same size (seed {args.seed}). Marks: ▲ better "
         "than random, ▼ worse (outside random's 5–95 % band in the good or the bad "
         "direction), · within the band. ↓ lower is better, ↑ higher is better. "
         "Inputs: scores = `difficulty` (out-of-fold loss, higher = harder), groups = `group`, "
         "labels = `label`; the targeted strategies (`dsir`, `ot-target`) get the target rows "
         "below and are also scored against them (`target_mmd`, `target_ot`; the random row "
         "shows the random mean for the same target). *rows*: rows selected (* = not the "
         "budget); *s*: selection time in seconds on this shared 2-core machine; the last column "
         "counts ▲ and ▼ over the eight geometric metrics. These are 5–95 % bands per cell, "
         "not multiple-testing-corrected claims: among ~20 strategies × 8 metrics some marks "
         "are chance. For what subsets are worth downstream see `docs/findings.md`.\n"]
    for res in results:
        L.append(f"## {res['name']} ({res['n']} × {res['dim']}, {res['metric']})\n")
        L.append(f"Scored in the {res['space']}; cluster metrics over {res['n_clusters']} "
                 f"k-means clusters. Target: the {res['n_target']} rows with label "
                 f"'{res['target']}'.\n")
        for budget in args.budgets:
            L.append(f"### {res['name']}, budget {budget}\n")
            lines, notes = table(res, budget)
            L.extend(lines)
            L.append("")
            for line in summary(res, budget):
                L.append(f"- {line}")
            for n in notes:
                L.append(f"- {n}")
            L.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(L) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {runtime:.0f} s")


if __name__ == "__main__":
    main()
