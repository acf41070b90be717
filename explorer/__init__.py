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

# OpenBLAS's idle threads spin for ~2^28 cycles after every matrix product and starve the
# compiled (numba) passes that follow one (a scorecard's random envelope alternates the two);
# 2^12 cycles is a couple of microseconds.
# Read when OpenBLAS loads, so it only applies when explorer is imported before numpy (the
# app and the command line); a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "12")

__version__ = "0.1.0"

from .data.dataset import Dataset, fingerprint
from .errors import ExplorerError
from .selection import DISTANCES, Selection, select
from .strategies import get_strategy, list_strategies


def load(path, **options) -> Dataset:
    """Load a dataset: a file (see :func:`explorer.data.loading.load` for the formats and
    ``options``), or an in-memory 2-D array (then :meth:`Dataset.from_arrays`).

    >>> import numpy as np
    >>> load(np.eye(3, dtype=np.float32)).n
    3
    >>> load([[1.0, 2.0]])
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: explorer.load takes a file path or a 2-D numpy array; got a list. For arrays with ids or metadata use explorer.Dataset.from_arrays(embeddings, ids=..., metadata=...).
    """
    import numpy as np

    if isinstance(path, np.ndarray):
        unknown = set(options) - {"ids", "metadata", "source"}
        if unknown:
            raise ExplorerError(f"explorer.load(array) takes ids=, metadata= and source=; "
                                f"{', '.join(sorted(unknown))} apply to files. Or use "
                                "explorer.Dataset.from_arrays.")
        return Dataset.from_arrays(path, **options)
    import os

    if not isinstance(path, (str, os.PathLike)):
        raise ExplorerError(f"explorer.load takes a file path or a 2-D numpy array; got a "
                            f"{type(path).__name__}. For arrays with ids or metadata use "
                            "explorer.Dataset.from_arrays(embeddings, ids=..., metadata=...).")
    from .data.loading import load as load_file

    return load_file(path, **options)


def __getattr__(name):
    # Heavier parts are imported on first use so `import explorer` stays quick for the CLI.
    if name in ("load_sample", "SAMPLES"):
        from .data import samples

        return {"load_sample": samples.load_sample, "SAMPLES": samples.SAMPLES}[name]
    if name == "SubsetSelector":
        from .estimator import SubsetSelector

        return SubsetSelector
    if name in ("export", "replay", "write_manifest", "read_manifest"):
        from .data import export as _export

        return getattr(_export, name)
    if name in ("score", "Scorecard"):
        from .evaluate import scorecard

        return getattr(scorecard, name)
    if name == "probe_sweep":
        from .evaluate.sweep import probe_sweep

        return probe_sweep
    if name == "holdout_split":
        from .evaluate.probes import holdout_split

        return holdout_split
    if name == "estimate":
        from .cost import estimate

        return estimate
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")


__all__ = ["Dataset", "ExplorerError", "DISTANCES", "Selection", "fingerprint", "select",
           "get_strategy", "list_strategies", "load", "load_sample", "SAMPLES", "export",
           "replay", "write_manifest", "read_manifest", "score", "Scorecard", "probe_sweep",
           "holdout_split", "estimate", "SubsetSelector", "__version__"]
