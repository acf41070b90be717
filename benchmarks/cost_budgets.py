"""Which strategies beat random at the same spend: pydocs with a token cost.

The bundled pydocs sample (1,010 real Python documentation paragraphs, MiniLM embeddings),
each row costing its words (whitespace tokens, a stand-in for a tokenizer's count: 4 to 155,
mean 37.7). Every strategy that needs only the embeddings runs at total budgets of 2,000 and
6,000 tokens (about 53 and 160 rows at the mean cost) through ``probe_sweep(...,
cost_column="tokens")``: the random envelope is drawn at the same total cost, and the
logistic probe is trained on the subset and tested on a 20 % held-out split. Prints, per
budget, each strategy's rows and spend, random's rows and spend, and the metrics where the
Holm-corrected verdict is better or worse than random; with the load average (2 cores shared
with other work: timings are disturbed, the verdicts are not).

Run: PYTHONPATH=. python benchmarks/cost_budgets.py
"""

from __future__ import annotations

import os
import time

import numpy as np

import explorer
from explorer.strategies import REGISTRY

STRATEGIES = ["random", "stratified", "k-center", "max-min", "vote-k", "k-means",
              "k-means-kmq", "cluster-complexity", "facility-location", "dpp-map", "herding",
              "sensitivity"]
BUDGETS = [2000.0, 6000.0]
SHOWN = ["logistic_accuracy", "logistic_macro_f1", "coverage_mean", "coverage_max",
         "facility_location", "cluster_kl", "label_kl"]


def main() -> None:
    data = explorer.load_sample("pydocs")
    words = data.metadata["text"].str.split().str.len().to_numpy(dtype=np.float64)
    data = explorer.Dataset.from_arrays(np.asarray(data.embeddings), ids=data.ids,
                                        metadata=data.metadata.assign(tokens=words))
    print(f"pydocs: {data.n} rows x {data.dim}; tokens per row {words.min():.0f}-"
          f"{words.max():.0f}, mean {words.mean():.1f}; load average {os.getloadavg()}")
    assert all(REGISTRY[s].cost_rule != "own-size" for s in STRATEGIES)
    start = time.perf_counter()
    table = explorer.probe_sweep(data, STRATEGIES, BUDGETS, label_column="label",
                                 cost_column="tokens", random_draws=30, seed=0)
    seconds = time.perf_counter() - start
    for b in BUDGETS:
        part = table[table["budget"] == b]
        first = part.iloc[0]
        print(f"\nbudget {b:,.0f} tokens: random draws keep {first['random_size']:.1f} rows "
              f"on average, spending {first['random_spend']:,.1f}")
        print(f"{'strategy':<20}{'rows':>6}{'spend':>8}  better than random / worse "
              "(Holm p < 0.05)")
        for name, grp in part.groupby("strategy", sort=False):
            better = grp[(grp["verdict"] == "better than random") & grp["metric"].isin(SHOWN)]
            worse = grp[(grp["verdict"] == "worse than random") & grp["metric"].isin(SHOWN)]
            acc = grp[grp["metric"] == "logistic_accuracy"].iloc[0]
            print(f"{name:<20}{grp['size'].iloc[0]:>6}{grp['spend'].iloc[0]:>8.0f}  "
                  f"acc {acc['value']:.3f} vs {acc['random_mean']:.3f} ({acc['verdict']}); "
                  f"better: {', '.join(better['metric']) or '-'}; "
                  f"worse: {', '.join(worse['metric']) or '-'}")
    print(f"\n{seconds:.0f} s in all; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
