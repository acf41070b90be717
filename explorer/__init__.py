"""Subset Explorer: choose a subset of a dataset from its embeddings, and measure it honestly.

The library mirrors the command line::

    import explorer
    data = explorer.load("vectors.npy", meta="meta.csv", id_column="id")
    sel = explorer.select(data, "k-center", 200, seed=0)
    card = explorer.score(data, sel, random_draws=30)
    explorer.export(data, sel, "subset.csv", scorecard=card, manifest="subset.json")
    data2, sel2 = explorer.replay("subset.json")

The library never imports streamlit or plotly.
"""

from __future__ import annotations

import os

# OpenBLAS's idle threads spin for ~2^28 cycles (about 0.1 s) after every matrix product and
# starve the compiled (numba) passes that follow one: a 30-draw random envelope at 200 rows
# of 100,000 x 384 took 0.87 s instead of 0.41 s. 2^12 cycles is a couple of microseconds.
# Read when OpenBLAS loads, so it only applies when explorer is imported before numpy (the
# app and the command line); a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "12")

__version__ = "0.1.0"

from .data.dataset import Dataset, fingerprint
from .errors import ExplorerError
from .selection import METRICS, Selection, select
from .strategies import get_strategy, list_strategies


def __getattr__(name):
    # Heavier parts are imported on first use so `import explorer` stays quick for the CLI.
    if name in ("load", "load_sample", "SAMPLES"):
        from .data import loading, samples

        return {"load": loading.load, "load_sample": samples.load_sample,
                "SAMPLES": samples.SAMPLES}[name]
    if name in ("export", "replay", "write_manifest", "read_manifest"):
        from .data import export as _export

        return getattr(_export, name)
    if name in ("score", "Scorecard"):
        from .evaluate import scorecard

        return getattr(scorecard, name)
    if name in ("probe_sweep", "holdout_split"):
        from .evaluate import probes

        return getattr(probes, name)
    if name == "estimate":
        from .cost import estimate

        return estimate
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")


__all__ = ["Dataset", "ExplorerError", "METRICS", "Selection", "fingerprint", "select",
           "get_strategy", "list_strategies", "load", "load_sample", "SAMPLES", "export",
           "replay", "write_manifest", "read_manifest", "score", "Scorecard", "probe_sweep",
           "holdout_split", "estimate", "__version__"]
