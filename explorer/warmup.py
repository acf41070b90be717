"""Compile the numba code of a first session ahead of need, so it is read from numba's disk
cache when it is needed.

numba compiles a ``cache=True`` function on its first call and writes the machine code next to
the module (``__pycache__``) or under ``$NUMBA_CACHE_DIR``; later processes load it in
milliseconds. :func:`warm` makes those first calls on the bundled digits sample: the app's
opening selection (k-center, 50) and its scorecard, the k-means of the map's colours, and a
small UMAP (umap-learn's and pynndescent's kernels, which a dataset without its own layout
needs for its map). At install it also compiles the NN-descent kernels of the approximate
neighbour graph (vote-k, sparse facility location and the per-row scores need them above
10,000 rows) and UMAP's placement of rows outside its fit (pynndescent's query: a map of
more than 200,000 rows, and a sharded dataset's UMAP map), which the first session on the
bundled samples never calls. It prints each step's seconds.

    python -m explorer.warmup        # at install (./run does it), in the foreground

:func:`warm_in_background` runs it once per process in a daemon thread (the app starts it
after its first page is drawn, so it never delays that page).
"""

from __future__ import annotations

import threading
import time

_started = threading.Event()


def warm(report=print, large_data: bool = False) -> dict:
    """Make the first calls of the kernels a first session uses, and with ``large_data``
    those of the approximate neighbour graph; returns the seconds each step took
    (``report`` hears each as it ends)."""
    import explorer
    from explorer import projection, space
    from explorer.clustering import kmeans
    from explorer.evaluate.scorecard import ScoringContext

    seconds = {}

    def step(name, work):
        t0 = time.perf_counter()
        work()
        seconds[name] = round(time.perf_counter() - t0, 2)
        report(f"warm-up: {name} {seconds[name]:.1f} s")

    data = explorer.load_sample("digits")
    picks = {}
    step("k-center", lambda: picks.update(sel=explorer.select(data, "k-center", 50, seed=0)))

    def scorecard():
        context = ScoringContext.build(data, metric="euclidean", label_column="label")
        explorer.score(data, picks["sel"], metric="euclidean", label_column="label",
                       random_draws=30, context=context)

    step("scorecard", scorecard)
    step("k-means", lambda: kmeans(space.prepare(data.embeddings, "euclidean",
                                                 ids=data.ids), 20, seed=0))
    few = explorer.Dataset.from_arrays(data.embeddings[:300])
    step("umap", lambda: projection.layout(few, "umap", use_cache=False, given=False))
    if large_data:
        from explorer.strategies import _sparse

        step("nn-descent graph", lambda: _sparse.knn_graph(*_sparse.centred(data.embeddings),
                                                           16, method="nn-descent"))

        def umap_placement():
            reducer = projection.umap_reducer(len(few.embeddings), 15, 0.1, 0,
                                              lambda fraction, message: None)
            reducer.fit(few.embeddings)
            projection.place_rows(reducer, data.embeddings[300:330])

        step("umap placement", umap_placement)
    return seconds


def warm_in_background() -> bool:
    """Start :func:`warm` in a daemon thread, once per process; False if already started."""
    if _started.is_set():
        return False
    _started.set()
    threading.Thread(target=_quietly, name="numba-warm-up", daemon=True).start()
    return True


def _quietly() -> None:
    try:
        warm(report=lambda line: None)
    except Exception:  # a warm-up is an optimisation: the real call compiles what it needs
        pass


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # umap-learn's note that a seed makes it single-threaded
    warm(large_data=True)
