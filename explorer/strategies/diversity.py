"""Diversity: max-min dispersion (DivPrune) and kernel herding (matching the data's mean)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import space
from ..cost import CostModel
from ..params import Interval, Options, Param
from .base import Picks, Problem, register
from .kcenter import TRAVERSAL_COST, farthest_point_order


@register(
    "max-min",
    summary="Makes the picks as different from each other as possible: maximises the smallest "
    "distance between two picks.",
    family="coverage",
    paper="Alvar et al., DivPrune: Diversity-based Visual Token Pruning for Large Multimodal "
    "Models, CVPR 2025; Ravi, Rosenkrantz & Tayi, Heuristic and special case algorithms for "
    "dispersion problems, 1994.",
    params=(
        Param("start", Options(("farthest-from-mean", "random")), "farthest-from-mean",
              "The first pick: the row farthest from the data's mean (an extreme point), or a "
              "seeded random row."),
    ),
    greedy=True,
    # the farthest-from-mean start reads the matrix once in float64
    cost=replace(TRAVERSAL_COST, memory=lambda s: 24 * s.n + 2 * s.matrix),
)
def max_min(problem: Problem, start: str) -> Picks:
    """Greedy max-min diversity (the Max-Min Dispersion Problem DivPrune solves).

    Adds, one at a time, the allowed row whose distance to its nearest pick is largest — a
    2-approximation of the largest achievable minimum pairwise distance. It shares k-center's
    farthest-point kernel; it differs in its objective (the spread *among the picks*, reported
    as ``info['min_pairwise_distance']``, not the coverage of every row) and its start: the row
    farthest from the data's mean unless ``start='random'``. DivPrune measures cosine distance:
    run it with ``metric='cosine'``.

    References
    ----------
    S. R. Alvar, G. Singh, M. Akbari and Y. Zhang, "DivPrune: Diversity-based Visual Token
    Pruning for Large Multimodal Models", CVPR 2025.
    S. S. Ravi, D. J. Rosenkrantz and G. K. Tayi, "Heuristic and special case algorithms for
    dispersion problems", Operations Research 42, 1994.
    """
    candidate = problem.allowed.copy()
    head = problem.pinned
    if len(head) == 0:
        rows = np.flatnonzero(candidate)
        if start == "random":
            first = int(problem.rng.choice(rows))
        else:
            mean = np.zeros(problem.X.shape[1], dtype=np.float64)
            for s in range(0, problem.n, 65536):
                mean += np.asarray(problem.X[s : s + 65536], dtype=np.float64).sum(axis=0)
            mean /= problem.n
            d, _ = space.nearest(problem.X[rows], mean[None, :].astype(np.float32), "euclidean")
            first = int(rows[int(np.argmax(d))])
        head = np.array([first], dtype=np.int64)
    n_new = problem.budget - len(head)
    picks, dists, _ = farthest_point_order(problem.X, head, n_new, candidate, problem.report)
    order = np.concatenate([head, picks]).astype(np.int64)
    gains = np.concatenate([np.full(len(head), np.nan), space.to_metric(dists**2,
                                                                         problem.metric)])
    info = {}
    if len(order) >= 2:
        d = space.pairwise(problem.X[order], problem.X[order], problem.metric) \
            if len(order) <= 4000 else None
        if d is not None:
            np.fill_diagonal(d, np.inf)
            info["min_pairwise_distance"] = float(d.min())
    return Picks(order, gains=gains, info=info)


def random_fourier_features(X: np.ndarray, n_features: int, gamma: float, seed: int,
                            block: int = 32768) -> np.ndarray:
    """phi(x) with phi(x).phi(y) ~ exp(-gamma |x - y|^2) (Rahimi & Recht, 2007), float32."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((X.shape[1], n_features)).astype(np.float32) * np.float32(
        np.sqrt(2 * gamma))
    b = rng.uniform(0, 2 * np.pi, n_features).astype(np.float32)
    out = np.empty((X.shape[0], n_features), dtype=np.float32)
    scale = np.float32(np.sqrt(2.0 / n_features))
    for s in range(0, X.shape[0], block):
        out[s : s + block] = np.cos(np.asarray(X[s : s + block], dtype=np.float32) @ W + b) * scale
    return out


def median_gamma(X: np.ndarray, rng: np.random.Generator, sample: int = 1000) -> float:
    """1 / median squared distance on a sample (the median heuristic)."""
    rows = rng.choice(X.shape[0], min(sample, X.shape[0]), replace=False)
    S = np.asarray(X[np.sort(rows)], dtype=np.float32)
    d = space.sq_distances(S, S)
    med = float(np.median(d[np.triu_indices(len(S), 1)])) if len(S) > 1 else 1.0
    return 1.0 / med if med > 0 else 1.0


@register(
    "herding",
    summary="Picks rows whose average matches the whole data's average in a rich feature "
    "space, so the subset looks like the data.",
    family="probabilistic",
    paper="Chen, Welling & Smola, Super-Samples from Kernel Herding, UAI 2010; Welling, "
    "Herding dynamical weights to learn, ICML 2009.",
    params=(
        Param("n_features", Interval("int", 16, 16384), 1024,
              "Random Fourier features approximating the RBF kernel (more: closer, slower)."),
        Param("bandwidth", Interval("float", 0, None, closed="neither"), None,
              "RBF length scale; empty: the median distance between rows.", optional=True),
    ),
    greedy=True,
    cost=CostModel(
        # the features, then each pick reads all of them (float64): bandwidth-bound
        seconds=lambda s: s.product(s.n, s.params["n_features"]) + s.k * 8 * s.n * s.params[
            "n_features"] / s.bandwidth,
        memory=lambda s: 12 * s.n * s.params["n_features"],
        advice="Use fewer random features (n_features) or a smaller budget."),
)
def herding(problem: Problem, n_features: int, bandwidth: float | None) -> Picks:
    """Kernel herding: greedily minimise the MMD between the picks and the data.

    With phi the random Fourier features of an RBF kernel and mu the data's mean feature, step
    t adds the allowed row maximising phi(x).(mu - S/(t + 1)), S the sum of the picks'
    features (Chen et al.'s herding update in feature space). Cost O(N m) per pick, memory
    N x m float32. ``gains`` hold the MMD (in feature space) after each pick; pinned rows start
    the sum.

    References
    ----------
    Y. Chen, M. Welling and A. Smola, "Super-Samples from Kernel Herding", UAI 2010.
    A. Rahimi and B. Recht, "Random Features for Large-Scale Kernel Machines", NIPS 2007.
    """
    gamma = 1.0 / (2 * bandwidth**2) if bandwidth else median_gamma(problem.X, problem.rng)
    seed = int(problem.rng.integers(2**31))
    Phi = random_fourier_features(problem.X, n_features, gamma, seed)
    mu = Phi.mean(axis=0, dtype=np.float64)
    S = Phi[problem.pinned].sum(axis=0, dtype=np.float64)
    t = len(problem.pinned)
    alive = problem.allowed.copy()
    order = list(problem.pinned)
    mmd = [float(np.linalg.norm(mu - Phi[order[: i + 1]].mean(axis=0))) for i in range(t)]
    for step in range(problem.n_new):
        w = (mu - S / (t + 1)).astype(np.float32)
        score = Phi @ w
        score[~alive] = -np.inf
        j = int(np.argmax(score))
        alive[j] = False
        order.append(j)
        S += Phi[j]
        t += 1
        mmd.append(float(np.linalg.norm(mu - S / t)))
        if step % max(1, problem.n_new // 50) == 0:
            problem.report(step / problem.n_new, f"herding: {step} of {problem.n_new} picks")
    return Picks(np.asarray(order, dtype=np.int64), gains=np.asarray(mmd),
                 info={"gamma": gamma, "final_mmd": mmd[-1] if mmd else float("nan")})
