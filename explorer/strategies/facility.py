"""Facility location: pick the rows that best represent every row (a submodular summary).

Two similarities, one objective (see ``_facility_kernels``): *dense*, every pair, an N x N
float32 matrix built with one matrix product, apricot-select's objective (its gains to
float32 rounding, about 1e-7 relative; exactly on grid data such as the digits); and
*sparse*, each row's ``neighbors`` nearest rows only (a k-nearest-neighbour graph,
``_sparse``), for data whose N x N matrix would not fit in memory.
"""

from __future__ import annotations

import os

import numpy as np

from ..cost import CostModel
from ..errors import ExplorerError
from ..params import Interval, Options, Param
from . import _facility_kernels as kernels
from . import _sparse
from ._greedy import METHODS, greedy
from ._heap import heapify
from .base import Picks, Problem, register

#: Share of the available memory the dense N x N similarity matrix may take (kernel="dense").
DENSE_MEMORY_SHARE = 0.5
#: kernel="auto" takes the dense matrix when it needs at most this share of the available
#: memory and N is at most ``AUTO_DENSE_MAX_ROWS`` (a fixed size, so that the choice, and the
#: picks, do not change with the memory that happens to be free).
AUTO_MEMORY_SHARE = 0.25
AUTO_DENSE_MAX_ROWS = 20_000
KERNELS = ("auto", "dense", "sparse")
#: Gain evaluations (in similarities read) below which one thread beats a parallel launch.
PARALLEL_WORK = 1 << 20


def available_memory_bytes() -> int:
    """Memory the process may still use: MemAvailable (Linux), else free pages, else 8 GiB."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def dense_bytes(n: int) -> int:
    """Bytes of the dense N x N float32 matrix."""
    return 4 * n * n


def choose_kernel(n: int, kernel: str) -> str:
    """Resolve ``kernel="auto"``; refuse ``"dense"`` when its matrix would not fit."""
    if kernel == "auto":
        fits = dense_bytes(n) <= AUTO_MEMORY_SHARE * available_memory_bytes()
        return "dense" if n <= AUTO_DENSE_MAX_ROWS and fits else "sparse"
    if kernel == "dense":
        need = dense_bytes(n)
        limit = DENSE_MEMORY_SHARE * available_memory_bytes()
        if need > limit:
            raise ExplorerError(
                f"facility-location: the dense {n} x {n} similarity matrix needs "
                f"{need / 2**30:.1f} GiB, more than {limit / 2**30:.1f} GiB "
                f"({DENSE_MEMORY_SHARE:.0%} of available memory). Use kernel='sparse' (each "
                "row's nearest neighbours only; --param kernel=sparse), select from a sample, "
                "or use k-center / k-means, which stream over the data."
            )
    return kernel


def _scale_and_cap(metric: str) -> tuple[float, float]:
    """Distance form of the similarity: euclidean D = |a - b|^2 (apricot's convention,
    similarity = largest D - D); cosine, on unit rows, D = |a - b|^2 / 4 = (1 - cos) / 2,
    similarity 1 - D = (1 + cos) / 2."""
    return (0.25, 1.0) if metric == "cosine" else (1.0, np.inf)


def gram_lower(Xc: np.ndarray, block_bytes: int = 64 << 20) -> np.ndarray:
    """``Xc @ Xc.T`` (float32, C order) with its lower triangle (and diagonal blocks) filled,
    the upper left unset: products of row blocks with the rows before them, half the work
    of the full product."""
    n = len(Xc)
    G = np.empty((n, n), dtype=np.float32)
    rows = max(256, block_bytes // (4 * max(n, 1)))
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        np.matmul(Xc[i0:i1], Xc[:i1].T, out=G[i0:i1, :i1])
    return G


def dense_distances(X: np.ndarray, metric: str) -> tuple[np.ndarray, float]:
    """The (N, N) float32 distance-form matrix D and its ``M`` (the largest D; 1 for cosine),
    by one float32 product of the centred rows (:func:`_sparse.centred`)."""
    Xc, sq = _sparse.centred(X)
    G = gram_lower(Xc)
    del Xc
    scale, cap = _scale_and_cap(metric)
    top = float(kernels.sqdist_from_gram(G, sq, scale, cap))
    return G, (1.0 if metric == "cosine" else top)


class FacilityLocationObjective:
    """f(A) = sum_i max(0, max_{j in A} s_ij) with s_ij = M - D_ij, in distance form.

    ``D`` a dense symmetric (N, N) float32 matrix, or ``graph`` = (indptr, rows, vals), the
    transposed kNN graph (pairs outside it count as similarity 0). ``gains`` and ``add`` serve
    the naive / stochastic greedy; ``lazy_greedy`` is the compiled lazy search.
    """

    def __init__(self, n: int, top: float, D: np.ndarray | None = None, graph=None):
        self.n = n
        self.top = np.float32(top)
        self.dense = D is not None
        empty_i = np.zeros(1, dtype=np.int64)
        if self.dense:
            self.D = D
            self.indptr, self.rows, self.vals = empty_i, np.zeros(1, np.int32), np.zeros(1, np.float32)
        else:
            self.D = np.zeros((1, 1), dtype=np.float32)
            self.indptr, self.rows, self.vals = graph
        self.r = np.full(n, self.top, dtype=np.float32)
        self.value = 0.0
        self.evaluations = 0

    def _args(self):
        return self.dense, self.D, self.indptr, self.rows, self.vals, self.r

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        candidates = np.asarray(candidates, dtype=np.int64)
        out = np.empty(len(candidates), dtype=np.float64)
        work = len(candidates) * (self.n if self.dense else len(self.rows) / self.n)
        kernel = kernels.gains if work >= PARALLEL_WORK else kernels.gains_serial
        kernel(*self._args(), candidates, out)
        self.evaluations += len(candidates)
        return out

    def add(self, j: int) -> float:
        g = float(kernels.add(*self._args(), int(j)))
        self.value += g
        return g

    def lazy_greedy(self, cand: np.ndarray, n_new: int, report=None):
        """Compiled lazy greedy (Minoux 1978); the picks of the plain heap in ``_greedy``."""
        hg = self.gains(cand)
        hj = cand.astype(np.int64).copy()
        heapify(hg, hj)
        state = np.array([len(hj), 0], dtype=np.int64)
        order = np.empty(n_new, dtype=np.int64)
        picked = np.empty(n_new, dtype=np.float64)
        step = max(1, n_new // 50)
        for t0 in range(0, n_new, step):
            t1 = min(n_new, t0 + step)
            kernels.lazy_steps(*self._args(), hg, hj, state, order, picked, t0, t1)
            if report is not None:
                report(t1 / n_new, f"greedy: {t1} of {n_new} picks")
        self.evaluations += int(state[1])
        self.value += float(picked.sum())
        return order, picked


def _kernel_for(s) -> str:
    try:
        return choose_kernel(s.n, s.params.get("kernel", "auto"))
    except Exception:  # an unknown kernel: select() refuses it; estimate the dense one
        return "dense"


def _seconds(s) -> float:
    """The dense kernel: the N x N product, then a pass over it per pick; the sparse one:
    the exact kNN graph up to 10,000 rows, above it NN-descent compares a few per cent of
    the pairs."""
    if _kernel_for(s) == "dense":
        return s.product(s.n, s.n) + s.k * s.n * s.n * 0.2 / s.bandwidth
    return _sparse.graph_seconds(s) + 1e-4 * s.k


def _memory(s) -> float:
    if _kernel_for(s) == "dense":
        return dense_bytes(s.n) + 24 * s.n
    return _sparse.graph_bytes(s, int(s.params.get("neighbors") or 64)) + s.matrix


def _advice(s=None) -> str:
    return "Use kernel=sparse (each row's nearest neighbours only), or select from a sample."


@register(
    "facility-location",
    summary="Picks representatives: every point should have a picked point very similar "
    "to it.",
    family="submodular",
    paper="Mirchandani & Francis, Discrete Location Theory, 1990; Minoux, Accelerated greedy "
    "algorithms, 1978; Schreiber, Bilmes & Noble, apricot, JMLR 2020.",
    params=(
        Param("optimizer", Options(METHODS), "lazy",
              "lazy: exact and fast; naive: exact, slow (for checking); stochastic: faster, "
              "approximate."),
        Param("epsilon", Interval("float", 0, 1, closed="neither"), 0.1,
              "For the stochastic optimizer: smaller is closer to exact and slower."),
        Param("kernel", Options(KERNELS), "auto",
              "dense: every pair of rows (N x N memory, exact); sparse: each row's nearest "
              "neighbours only (scales to large N); auto: dense when it fits comfortably."),
        Param("neighbors", Interval("int", 2, None), 64,
              "For the sparse kernel: nearest rows kept per row (more is closer to dense, "
              "slower)."),
        Param("graph_search", _sparse.GRAPH_SEARCH_RANGE, _sparse.SEARCH_DEFAULT,
              "For the sparse kernel. " + _sparse.GRAPH_SEARCH_HELP),
    ),
    greedy=True,
    cost_rule="knapsack",
    cost=CostModel(seconds=_seconds, memory=_memory, advice=_advice()),
)
def facility_location(problem: Problem, optimizer: str, epsilon: float, kernel: str,
                      neighbors: int, graph_search: int) -> Picks:
    """Greedy facility location: maximise sum over all rows of the similarity to their most
    similar pick.

    The objective is monotone submodular, so greedy is within (1 - 1/e) of the optimum; the
    lazy greedy gives the same picks as the naive greedy, much faster. Similarity: with the
    euclidean metric, the largest squared distance minus the squared distance (apricot's
    convention, so the dense picks match apricot-select's FacilityLocationSelection); with
    cosine, (1 + cos) / 2. Pinned rows are added first, with their real marginal gains.
    ``gains`` are the marginal gains of each pick.

    ``kernel="dense"`` holds all N x N similarities (float32, one matrix product) and is
    refused with an estimate when they would not fit in memory. ``kernel="sparse"`` keeps
    each row's ``neighbors`` nearest rows (itself included; exact search up to 10,000 rows,
    NN-descent above) and counts every other pair as similarity 0; under euclidean the
    largest squared distance is then the largest one in the graph (apricot's convention for
    a nearest-neighbour graph). With ``neighbors >= N`` it is the dense objective.
    ``graph_search`` is the approximate graph's recall knob (``_sparse.knn_graph``). Under a
    cost budget (``cost_column=``) the greedy takes gains per unit cost and keeps the best
    single row when it is worth more (:func:`explorer.strategies._greedy.knapsack_greedy`). ``auto``
    takes dense up to 20,000 rows when the matrix needs at most a quarter of the available
    memory. ``info`` reports the kernel, the objective and, for sparse, the graph.

    Examples
    --------
    >>> import numpy as np, explorer
    >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    >>> data = explorer.Dataset.from_arrays(X)
    >>> dense = explorer.select(data, "facility-location", 10)
    >>> sparse = explorer.select(data, "facility-location", 10,
    ...                          params={"kernel": "sparse", "neighbors": 300})
    >>> dense.info["kernel"], sparse.info["kernel"], bool((dense.indices == sparse.indices).all())
    ('dense', 'sparse', True)

    References
    ----------
    P. B. Mirchandani and R. L. Francis, *Discrete Location Theory*, Wiley, 1990.
    M. Minoux, "Accelerated greedy algorithms for maximizing submodular set functions",
    Optimization Techniques, 1978.
    B. Mirzasoleiman et al., "Lazier Than Lazy Greedy", AAAI 2015.
    W. Dong, M. Charikar and K. Li, "Efficient k-nearest neighbor graph construction for
    generic similarity measures", WWW 2011 (NN-descent, the graph above 10,000 rows).
    H. Jegou, M. Douze and C. Schmid, "Product quantization for nearest neighbor search",
    IEEE TPAMI 33, 2011 (the inverted file NN-descent starts from).
    J. Schreiber, J. Bilmes and W. S. Noble, "apricot: Submodular selection for data
    summarization in Python", JMLR 21, 2020.
    """
    n = problem.n
    chosen = choose_kernel(n, kernel)
    info: dict = {"kernel": chosen}
    if chosen == "dense":
        problem.report(0.0, f"facility-location: {n:,} x {n:,} similarities")
        D, top = dense_distances(problem.X, problem.metric)
        objective = FacilityLocationObjective(n, top, D=D)
    else:
        k = int(min(neighbors, n))
        Xc, sq = _sparse.centred(problem.X)

        def graph_report(fraction, message):
            problem.report(0.8 * fraction, message)

        graph = _sparse.knn_graph(Xc, sq, k, report=graph_report, search=graph_search)
        del Xc
        scale, cap = _scale_and_cap(problem.metric)
        vals = graph.sqdist if scale == 1.0 else np.minimum(graph.sqdist * np.float32(scale),
                                                            np.float32(cap))
        top = 1.0 if problem.metric == "cosine" else float(vals.max())
        objective = FacilityLocationObjective(n, top, graph=_sparse.transpose(graph.neighbors,
                                                                              vals, n))
        info.update(neighbors=k, knn=graph.method, knn_distance_evaluations=graph.candidates)
    pin_gains = [objective.add(int(j)) for j in problem.pinned]

    def greedy_report(fraction, message):
        start = 0.0 if chosen == "dense" else 0.8
        problem.report(start + (1 - start) * fraction, message)

    greedy_report(0.0, f"greedy: 0 of {problem.n_new} picks")
    cost_left = None
    if problem.costs is not None:
        cost_left = problem.cost_budget - float(problem.costs[problem.pinned].sum())
    order, gains = greedy(objective, problem.n_new, problem.allowed, optimizer,
                          rng=problem.rng, epsilon=epsilon, report=greedy_report,
                          costs=problem.costs, cost_left=cost_left)
    total = n * float(objective.top)
    # from the gains kept: under a cost budget the best single row may replace the picks
    value = float(np.sum(pin_gains)) + float(np.sum(gains))
    info.update(objective=value,
                objective_normalised=value / total if total > 0 else 1.0,
                gain_evaluations=objective.evaluations)
    return Picks(
        np.concatenate([problem.pinned, order]).astype(np.int64),
        gains=np.concatenate([pin_gains, gains]),
        info=info,
    )
