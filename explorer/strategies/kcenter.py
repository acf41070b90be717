"""Greedy k-center (farthest-point traversal): the core-set of Sener & Savarese."""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np

from .. import cache, space
from ..cost import CostModel
from ._kernels import KCENTER_CHUNK, centre_gaps, kcenter_pass
from .base import Picks, Problem, register


def kcenter_sweep(X, cv, cc, mind, assign, candidate, k) -> tuple[int, float, int]:
    """One k-center pass over every row of ``X`` for the k-th centre, vector ``cv`` (see
    :func:`~explorer.strategies._kernels.kcenter_pass`), its chunks run on threads; returns
    (the farthest candidate row or -1, its distance, distance evaluations). Ties: the
    lowest row."""
    n_chunks = -(-X.shape[0] // KCENTER_CHUNK)
    best_idx = np.empty(n_chunks, dtype=np.int64)
    best_val = np.empty(n_chunks, dtype=np.float64)
    evals = np.empty(n_chunks, dtype=np.int64)
    space.over_chunk_ranges(X.shape[0], KCENTER_CHUNK, lambda lo, hi: kcenter_pass(
        X, cv, cc, mind, assign, candidate, k, best_idx, best_val, evals, lo, hi))
    found = best_idx >= 0
    if not found.any():
        return -1, -1.0, int(evals.sum())
    u = int(np.argmax(np.where(found, best_val, -1.0)))  # the first chunk of the largest
    return int(best_idx[u]), float(best_val[u]), int(evals.sum())


def kcenter_add(X, c, centers, k, mind, assign, candidate, cc) -> tuple[int, float, int]:
    """Add row ``c`` of ``X`` as the k-th centre (``centers[k]``; no longer a candidate);
    returns what :func:`kcenter_sweep` returns."""
    centre_gaps(X, centers, k, c, cc)
    centers[k] = c
    candidate[c] = False
    return kcenter_sweep(X, X[c], cc, mind, assign, candidate, k)


class FarthestPointTraversal:
    """A farthest-point traversal that can be extended: the picks for a budget are a prefix
    of those for any larger budget, so a larger budget continues where the last one stopped
    and a smaller one is a slice. Holds O(N) state (nearest distance, centre and candidacy of
    every row); ``lock`` guards it when several app sessions share one traversal."""

    def __init__(self, X: np.ndarray, start: np.ndarray, candidate: np.ndarray):
        n = X.shape[0]
        self.mind = np.full(n, np.inf)
        self.assign = np.full(n, -1, dtype=np.int64)
        self.candidate = candidate
        self.centers = np.empty(max(16, len(start) + 16), dtype=np.int64)
        self.cc = np.empty(len(self.centers), dtype=np.float64)
        self.picks: list[int] = []
        self.dists: list[float] = []
        self.evaluations: list[int] = []  # cumulative, after each pick
        self.lock = threading.Lock()
        self.n_start = len(start)
        evaluated = 0
        self.nxt = -1
        for k, c in enumerate(start):
            self.nxt, _, ev = kcenter_add(X, int(c), self.centers, k, self.mind, self.assign,
                                          self.candidate, self.cc)
            evaluated += ev
        self.start_evaluations = evaluated

    def extend(self, X: np.ndarray, n_new: int, report=None) -> None:
        """Make sure at least ``n_new`` picks after the start exist. ``X`` is the matrix the
        traversal started on (not kept between calls: under cosine it is a normalised copy)."""
        todo = n_new - len(self.picks)
        if todo <= 0:
            return
        need = self.n_start + n_new
        if need > len(self.centers):  # grow the centre arrays geometrically
            size = max(need, 2 * len(self.centers))
            self.centers = np.concatenate([self.centers,
                                           np.empty(size - len(self.centers), np.int64)])
            self.cc = np.empty(size, dtype=np.float64)
        evaluated = self.evaluations[-1] if self.evaluations else self.start_evaluations
        step = max(1, todo // 50)
        for t in range(todo):
            if self.nxt < 0:
                raise AssertionError("k-center ran out of candidate rows")
            nxt = self.nxt
            self.picks.append(nxt)
            self.dists.append(float(self.mind[nxt]))
            self.nxt, _, ev = kcenter_add(X, int(nxt), self.centers,
                                          self.n_start + len(self.picks) - 1, self.mind,
                                          self.assign, self.candidate, self.cc)
            evaluated += ev
            self.evaluations.append(evaluated)
            if report is not None and t % step == 0:
                report(t / todo, f"k-center: {len(self.picks) - 1} of {n_new} picks")

    def continue_until(self, X: np.ndarray, target: int, stop: threading.Event,
                       seconds: float) -> None:
        """Extend towards ``target`` picks a few at a time (:data:`PREFETCH_CHUNK`, holding
        ``lock`` only that long) until ``stop`` is set, ``seconds`` have passed or no row is
        left to pick."""
        deadline = time.perf_counter() + seconds
        while not stop.is_set() and time.perf_counter() < deadline:
            with self.lock:
                left = int(np.count_nonzero(self.candidate))  # rows that can still be picked
                if len(self.picks) >= target or self.nxt < 0 or left == 0:
                    return
                self.extend(X, len(self.picks) + min(PREFETCH_CHUNK, target - len(self.picks),
                                                     left))

    def first(self, n_new: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(picks, their distances at pick time, distance evaluations) for ``n_new`` picks."""
        ev = self.evaluations[n_new - 1] if n_new else self.start_evaluations
        return (np.asarray(self.picks[:n_new], dtype=np.int64),
                np.asarray(self.dists[:n_new], dtype=np.float64), int(ev))


def farthest_point_order(X: np.ndarray, start: np.ndarray, n_new: int, candidate: np.ndarray,
                         report=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Farthest-point traversal from the rows ``start``; returns (picks after start, their
    Euclidean distance at pick time, number of distance evaluations).

    ``candidate`` marks the rows that may be picked (it is modified in place).
    Streaming and exact: memory is O(N) beyond X, and the triangle inequality skips rows the
    new centre cannot reach.
    """
    walk = FarthestPointTraversal(X, start, candidate)
    walk.extend(X, n_new, report)
    return walk.first(n_new)


#: The kind of result a :class:`explorer.cache.Cache` keeps traversals under, and how many
#: (each holds about 17 bytes per row).
TRAVERSALS = "k-center traversals"
KEPT_TRAVERSALS = 2


def _traversal(problem: Problem, start: np.ndarray) -> FarthestPointTraversal:
    """The traversal kept for this dataset, metric, start and allowed rows in the calling
    thread's cache (:func:`explorer.cache.current`), or a new one (kept there when there is
    a cache and the problem carries a dataset fingerprint)."""
    fingerprint = getattr(problem.dataset, "fingerprint", None)
    kept = cache.current()
    if fingerprint is None or kept is None:
        return FarthestPointTraversal(problem.X, start, problem.allowed.copy())
    key = (fingerprint, problem.metric,
           hashlib.sha1(np.ascontiguousarray(start, np.int64).tobytes()).hexdigest(),
           hashlib.sha1(np.packbits(problem.allowed).tobytes()).hexdigest())
    return kept.get_or_make(TRAVERSALS, key, lambda: FarthestPointTraversal(
        problem.X, start, problem.allowed.copy()), keep=KEPT_TRAVERSALS)


#: A farthest-point traversal: one pass over the matrix per pick at most; the
#: triangle-inequality skips cut the distance work to a fraction on clustered data, so the
#: typical cost is a quarter of that bound.
TRAVERSAL_COST = CostModel(
    seconds=lambda s: 0.25 * s.k * s.one_pass, memory=lambda s: 24 * s.n,
    bound=lambda s: s.k * s.one_pass,
    advice="Choose a smaller budget, run k-center on a random sample first (pin its result), "
    "or use k-means, whose cost does not grow with the budget.")


@register(
    "k-center",
    summary="Spreads picks over the whole space: each new pick is the point farthest from "
    "everything picked so far.",
    family="coverage",
    paper="Sener & Savarese, Active Learning for Convolutional Neural Networks: A Core-Set "
    "Approach, ICLR 2018; Gonzalez, Clustering to minimize the maximum intercluster "
    "distance, 1985.",
    greedy=True,
    cost=TRAVERSAL_COST,
)
def k_center(problem: Problem) -> Picks:
    """Greedy k-center: minimise the largest distance from any point to its nearest pick.

    Starts from the pinned rows, or from one seeded random allowed row; then repeatedly adds
    the allowed row farthest from its nearest selected row (ties: lowest index). The greedy
    order is a 2-approximation of the optimal k-center radius, and every prefix is the
    selection for that smaller budget. Exact and streaming: one fused pass per pick that skips
    rows the triangle inequality proves cannot move, so large or memory-mapped matrices work.
    ``gains`` holds each pick's distance to the selection at pick time (NaN for the start).

    References
    ----------
    O. Sener and S. Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set
    Approach", ICLR 2018.
    T. F. Gonzalez, "Clustering to minimize the maximum intercluster distance", Theoretical
    Computer Science 38, 1985.

    Examples
    --------
    >>> import numpy as np, explorer
    >>> X = np.array([[0.0], [1.0], [10.0], [4.0]], dtype=np.float32)
    >>> explorer.select(explorer.Dataset.from_arrays(X), "k-center", 3, pinned=[0]).indices
    array([0, 2, 3])
    """
    candidate = problem.allowed.copy()
    start = problem.pinned
    if len(start) == 0:
        first = int(problem.rng.choice(np.flatnonzero(candidate)))
        start = np.array([first], dtype=np.int64)
        head = start
    else:
        head = problem.pinned
    n_new = problem.budget - len(start)
    walk = _traversal(problem, start)  # a smaller budget is a prefix; a larger one continues
    with walk.lock:
        walk.extend(problem.X, n_new, problem.report)
        picks, dists, evaluated = walk.first(n_new)
    _remember_for_prefetch(walk, problem)
    order = np.concatenate([head, picks]).astype(np.int64)
    gains = np.concatenate([np.full(len(head), np.nan),
                            space.to_metric(dists**2, problem.metric)])
    return Picks(order, gains=gains,
                 info={"radius": float(gains[-1]) if n_new else float("nan"),
                       "distance_evaluations": int(evaluated)})


# --- continuing the last traversal while the app is idle -------------------------------------

#: Picks computed per turn of the background thread (it holds the traversal's lock only that
#: long, so a foreground request waits for a few picks at most).
PREFETCH_CHUNK = 8
#: The matrix is kept for prefetching only when it is the dataset's own (no extra memory) or
#: at most this large (a normalised copy under cosine).
PREFETCH_COPY_BYTES = 256 << 20


def _remember_for_prefetch(walk: FarthestPointTraversal, problem: Problem) -> None:
    """In the calling thread's cache, remember the traversal just served (when the cache
    keeps it) and its matrix, for :func:`prefetch`."""
    kept = cache.current()
    if kept is None:
        return
    embeddings = getattr(problem.dataset, "embeddings", None)
    own = embeddings is not None and np.may_share_memory(problem.X, embeddings)
    keep = kept.holds(TRAVERSALS, walk) and (own or problem.X.nbytes <= PREFETCH_COPY_BYTES)
    kept.serve(TRAVERSALS, walk=walk if keep else None, X=problem.X if keep else None,
               fingerprint=getattr(problem.dataset, "fingerprint", None))


def prefetch(kept: cache.Cache, extra: int, seconds: float = 5.0,
             fingerprint: str | None = None) -> bool:
    """Continue the traversal that served the last k-center selection made inside ``kept``
    by up to ``extra`` picks, in ``kept``'s background thread, a few picks at a time, until
    ``kept.stop_background()`` or ``seconds`` of work; only when that selection was on the
    dataset with ``fingerprint`` (when given; another fingerprint releases the remembered
    matrix). The app calls this when a page is drawn, so that a larger budget asked for next
    is already computed, and stops it when the next run starts. Selections do not change:
    the traversal is the same whoever extends it. Returns whether it started."""
    kept.stop_background()
    served = kept.served(TRAVERSALS)
    if fingerprint is not None and fingerprint != served.get("fingerprint"):
        kept.forget_served(TRAVERSALS)  # another dataset is on screen: let go of this matrix
        return False
    walk, X = served.get("walk"), served.get("X")
    if walk is None or extra <= 0 or walk.nxt < 0:
        return False
    target = len(walk.picks) + int(extra)
    kept.run_in_background(lambda stop: walk.continue_until(X, target, stop, seconds),
                           "k-center prefetch")
    return True
