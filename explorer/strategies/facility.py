"""Facility location: pick the rows that best represent every row (a submodular summary)."""

from __future__ import annotations

import os

import numpy as np

from .. import space
from ..errors import ExplorerError
from ..params import Interval, Options, Param
from ._greedy import METHODS, greedy
from ._kernels import facility_add, facility_gains
from .base import Picks, Problem, register

#: Share of the machine's memory the dense N x N similarity matrix may take.
DENSE_MEMORY_SHARE = 0.5


def available_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def dense_similarity(X: np.ndarray, metric: str) -> np.ndarray:
    """The N x N float64 similarity: euclidean -> max squared distance - squared distance
    (apricot's convention); cosine -> (1 + cos) / 2, non-negative."""
    n = X.shape[0]
    need = 8 * n * n
    limit = DENSE_MEMORY_SHARE * available_memory_bytes()
    if need > limit:
        raise ExplorerError(
            f"facility-location: the dense {n} x {n} similarity matrix needs "
            f"{need / 2**30:.1f} GiB, more than {limit / 2**30:.1f} GiB ({DENSE_MEMORY_SHARE:.0%}"
            " of free memory). Select from a sample, deduplicate first, or use k-center / "
            "k-means, which stream over the data."
        )
    X64 = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X64, X64)
    S = X64 @ X64.T
    if metric == "cosine":
        S += 1.0
        S *= 0.5
        return S
    S *= -2.0
    S += sq[:, None]
    S += sq[None, :]
    np.maximum(S, 0.0, out=S)
    np.fill_diagonal(S, 0.0)
    S = np.subtract(S.max(), S, out=S)
    return S


class DenseFacilityLocation:
    """f(A) = sum_i max_{j in A} S[i, j] over a dense similarity; gains and add in numba."""

    def __init__(self, S: np.ndarray):
        self.S = S
        self.cur = np.zeros(S.shape[0], dtype=np.float64)
        self.value = 0.0

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        out = np.empty(len(candidates), dtype=np.float64)
        facility_gains(self.S, self.cur, np.asarray(candidates, dtype=np.int64), out)
        return out

    def add(self, j: int) -> float:
        g = facility_add(self.S, self.cur, int(j))
        self.value += g
        return g


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
    ),
    greedy=True,
)
def facility_location(problem: Problem, optimizer: str, epsilon: float) -> Picks:
    """Greedy facility location: maximise sum over all rows of the similarity to their most
    similar pick.

    The objective is monotone submodular, so greedy is within (1 - 1/e) of the optimum; the
    lazy greedy gives the same picks as the naive greedy, much faster. Similarity: with the
    euclidean metric, the largest squared distance between any two rows minus the squared
    distance (apricot's convention, so picks match apricot-select's
    FacilityLocationSelection); with cosine, (1 + cos) / 2. Pinned rows are added first, with
    their real marginal gains. Dense: needs an N x N float64 matrix, refused with an estimate
    when it would not fit in memory. ``gains`` are the marginal gains of each pick.

    References
    ----------
    P. B. Mirchandani and R. L. Francis, *Discrete Location Theory*, Wiley, 1990.
    M. Minoux, "Accelerated greedy algorithms for maximizing submodular set functions",
    Optimization Techniques, 1978.
    B. Mirzasoleiman et al., "Lazier Than Lazy Greedy", AAAI 2015.
    J. Schreiber, J. Bilmes and W. S. Noble, "apricot: Submodular selection for data
    summarization in Python", JMLR 21, 2020.
    """
    S = dense_similarity(problem.X, problem.metric)
    objective = DenseFacilityLocation(S)
    pin_gains = [objective.add(int(j)) for j in problem.pinned]
    order, gains = greedy(objective, problem.n_new, problem.allowed, optimizer,
                          rng=problem.rng, epsilon=epsilon, report=problem.report)
    total = float(S.max(axis=1).sum()) if len(S) else 1.0
    return Picks(
        np.concatenate([problem.pinned, order]).astype(np.int64),
        gains=np.concatenate([pin_gains, gains]),
        info={"objective": objective.value, "objective_normalised": objective.value / total},
    )
