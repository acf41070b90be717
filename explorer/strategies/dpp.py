"""Determinantal point processes: k-DPP sampling and greedy MAP over a similarity kernel."""

from __future__ import annotations

import numpy as np

from .. import space
from ..cost import CostModel
from ..params import Interval, Options, Param
from .base import Picks, Problem, register
from ._rbf_features import median_gamma, random_fourier_features

EXACT_LIMIT = 4000  # up to this many candidates the k-DPP uses the exact N x N kernel


def elementary_symmetric(lam: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scaled elementary symmetric polynomials (Kulesza & Taskar, Alg. 7): returns (E, c)
    with e_l(lam_1..lam_m) = E[l, m] * exp(c[m]). Each column is divided by its largest
    entry as it is built, so large k neither underflows nor overflows.

    >>> E, c = elementary_symmetric(np.array([1.0, 2.0, 3.0]), 2)
    >>> [round(float(E[l, 3] * np.exp(c[3])), 6) for l in range(3)]
    [1.0, 6.0, 11.0]
    """
    n = len(lam)
    E = np.zeros((k + 1, n + 1))
    c = np.zeros(n + 1)
    E[0, 0] = 1.0
    for m in range(1, n + 1):
        col = E[:, m - 1].copy()
        col[1:] += lam[m - 1] * E[:-1, m - 1]
        top = col.max()
        E[:, m] = col / top
        c[m] = c[m - 1] + np.log(top)
    return E, c


def sample_k_eigenvectors(lam: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k eigenvectors chosen as in the k-DPP sampler (Kulesza & Taskar, Alg. 8)."""
    lam = np.maximum(lam, 0.0)
    E, c = elementary_symmetric(lam, k)
    chosen = []
    left = k
    for m in range(len(lam), 0, -1):
        if left == 0:
            break
        if m == left:
            chosen.extend(range(m - 1, -1, -1))
            break
        denom = E[left, m]
        p = 0.0 if denom <= 0 else \
            lam[m - 1] * E[left - 1, m - 1] / denom * np.exp(c[m - 1] - c[m])
        if rng.random() < p:
            chosen.append(m - 1)
            left -= 1
    return np.array(sorted(chosen), dtype=np.int64)


def sample_projection_dpp(V: np.ndarray, rng: np.random.Generator) -> list[int]:
    """Sample |V's columns| items from the projection DPP with kernel K = V V^T (V: N x k,
    orthonormal columns) by the chain rule, updating the conditional kernel's diagonal
    with one Cholesky column per pick (O(N k^2) in all, no re-orthonormalisation).

    >>> V = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 3)))[0]
    >>> sorted(set(sample_projection_dpp(V, np.random.default_rng(1)))).__len__()
    3
    """
    n, k = V.shape
    p = np.einsum("ij,ij->i", V, V)  # diagonal of K
    C = np.zeros((n, k))
    out = []
    for t in range(k):
        q = np.maximum(p, 0.0)
        q /= q.sum()
        i = int(rng.choice(n, p=q))
        out.append(i)
        e = V @ V[i] - C[:, :t] @ C[i, :t]  # column i of the conditional kernel
        e /= np.sqrt(max(p[i], 1e-300))
        C[:, t] = e
        p = p - e * e
        p[i] = 0.0
    return out


def kernel_features(X: np.ndarray, kernel: str, n_features: int, rng) -> np.ndarray:
    """B with L = B B^T: normalised rows (cosine kernel) or random Fourier features (RBF)."""
    if kernel == "cosine":
        B = np.asarray(X, dtype=np.float64)
        n = np.linalg.norm(B, axis=1, keepdims=True)
        n[n == 0] = 1.0
        return B / n
    gamma = median_gamma(X, rng)
    return random_fourier_features(X, n_features, gamma, int(rng.integers(2**31))).astype(
        np.float64)


@register(
    "dpp",
    summary="Samples a diverse subset at random: sets of very similar points are unlikely to be "
    "drawn together (a k-DPP).",
    family="probabilistic",
    paper="Kulesza & Taskar, k-DPPs: Fixed-Size Determinantal Point Processes, ICML 2011; "
    "Nouy & Michel, Weighted least-squares approximation with determinantal point processes "
    "and generalized volume sampling, 2023.",
    params=(
        Param("kernel", Options(("rbf", "cosine")), "rbf",
              "Similarity between rows: RBF (median-distance bandwidth) or cosine."),
        Param("n_features", Interval("int", 16, 16384), 1024,
              "Rank of the low-rank kernel used above 4,000 rows (random Fourier features)."),
    ),
    cost=CostModel(
        # the exact DPP eigendecomposes the N x N kernel up to 4,000 rows
        # (an eigendecomposition runs at a fraction of a matrix product's FLOP rate)
        seconds=lambda s: 40.0 * s.n**3 / s.flops if s.n <= 4000 else s.product(
            s.n, s.params["n_features"]) + s.product(s.k, s.n, s.params["n_features"]),
        memory=lambda s: 16 * s.n * s.n if s.n <= 4000 else 4 * s.n * s.params["n_features"],
        advice="Use fewer random features (n_features) or a smaller budget."),
)
def dpp(problem: Problem, kernel: str, n_features: int) -> Picks:
    """k-DPP sampling: P(S) proportional to det(L_S) among subsets of size k.

    Up to 4,000 candidate rows the exact kernel L (RBF: exp(-|x - y|^2 / median), or cosine)
    is eigendecomposed; above, L = B B^T with B random Fourier features (RBF) or the
    normalised rows (cosine, rank <= D), sampled through the dual m x m matrix, so no N x N
    matrix is formed. Eigenvectors are chosen by elementary symmetric polynomials, then items
    by the projection-DPP chain rule (Kulesza & Taskar, Algorithm 8). Pinned rows are kept and
    the rest drawn from the allowed rows. A k larger than the kernel's rank is refused.

    References
    ----------
    A. Kulesza and B. Taskar, "k-DPPs: Fixed-Size Determinantal Point Processes", ICML 2011.
    A. Nouy and B. Michel, "Weighted least-squares approximation with determinantal point
    processes and generalized volume sampling", 2023.
    """
    from ..errors import ExplorerError

    rows = np.flatnonzero(problem.allowed)
    k = problem.n_new
    if k == 0:
        return Picks(problem.pinned.copy())
    Xr = np.asarray(problem.X[rows])
    if len(rows) <= EXACT_LIMIT:
        if kernel == "cosine":
            B = kernel_features(Xr, "cosine", 0, problem.rng)
            L = B @ B.T
        else:
            gamma = median_gamma(Xr, problem.rng)
            L = np.exp(-gamma * space.sq_distances(Xr, Xr))
        lam, V = np.linalg.eigh(L)
    else:
        B = kernel_features(Xr, kernel, n_features, problem.rng)
        C = B.T @ B
        lam, W = np.linalg.eigh(C)
        keep = lam > 1e-10 * lam.max()
        lam, W = lam[keep], W[:, keep]
        V = (B @ W) / np.sqrt(lam)
    rank = int(np.sum(lam > 1e-10 * lam.max()))
    if k > rank:
        raise ExplorerError(f"dpp: the {kernel} kernel has rank {rank} here, fewer than the "
                            f"{k} rows to draw; use kernel='rbf' with more n_features, or a "
                            "smaller budget.")
    chosen = sample_k_eigenvectors(lam, k, problem.rng)
    items = sample_projection_dpp(V[:, chosen], problem.rng)
    return Picks(np.concatenate([problem.pinned, rows[np.asarray(items)]]).astype(np.int64),
                 info={"kernel_rank": rank})


@register(
    "dpp-map",
    summary="Greedily builds the most diverse subset under a similarity kernel (largest "
    "determinant), one pick at a time.",
    family="probabilistic",
    paper="Chen, Zhang & Zhou, Fast Greedy MAP Inference for Determinantal Point Process to "
    "Improve Recommendation Diversity, NeurIPS 2018.",
    params=(
        Param("kernel", Options(("rbf", "cosine")), "rbf",
              "Similarity between rows: RBF (median-distance bandwidth) or cosine."),
    ),
    greedy=True,
    cost=CostModel(
        # per pick one kernel row (a read of the matrix) and a Cholesky update (a read of
        # the earlier rows of the factor), each with a pass or two of elementwise work
        seconds=lambda s: 2.0 * s.k * (s.matrix + 8.0 * s.n * s.k) / s.bandwidth,
        memory=lambda s: 8 * s.n * s.k + 2 * s.matrix,
        advice="Use a smaller budget, or select from a sample."),
)
def dpp_map(problem: Problem, kernel: str) -> Picks:
    """Greedy MAP inference for a DPP: each pick maximises log det(L_S) given the earlier ones.

    Incremental Cholesky updates (Chen et al., Algorithm 1): O(N k) memory and one kernel row
    per pick, so no N x N matrix. ``gains`` are the log-determinant increments (non-increasing
    in exact arithmetic); pinned rows are conditioned on first. When the remaining rows are
    linearly dependent on the picks (the cosine kernel has rank <= D) the budget cannot be
    met and a clear error says so.

    References
    ----------
    L. Chen, G. Zhang and H. Zhou, "Fast Greedy MAP Inference for Determinantal Point Process
    to Improve Recommendation Diversity", NeurIPS 2018.
    """
    X = problem.X
    n = problem.n
    if kernel == "cosine":
        U = np.asarray(X, dtype=np.float32)
        norms = np.sqrt(space.sq_norms(U)).astype(np.float32)
        norms[norms == 0] = 1.0

        def row(j):
            return (np.asarray(U, dtype=np.float32) @ (U[j] / norms[j])) / norms
        diag = np.ones(n)
    else:
        gamma = median_gamma(X, problem.rng)
        x_sq = space.sq_norms(X)

        def row(j):
            d = space.sq_distances(X, np.asarray(X[j])[None, :], x_sq, x_sq[j:j + 1])[:, 0]
            return np.exp(-gamma * d)
        diag = np.ones(n)
    total = problem.budget
    C = np.zeros((total, n), dtype=np.float64)
    d2 = diag.astype(np.float64).copy()
    alive = problem.allowed.copy()
    order, gains = [], []
    forced = list(problem.pinned)
    for t in range(total):
        if forced:
            j = int(forced.pop(0))
        else:
            cand = np.where(alive, d2, -np.inf)
            j = int(np.argmax(cand))
            if not np.isfinite(cand[j]) or cand[j] <= 1e-12:
                from ..errors import ExplorerError

                raise ExplorerError(
                    f"dpp-map: after {t} picks every remaining row is (numerically) a "
                    f"combination of the picks under the {kernel} kernel, so no budget of "
                    f"{total} can be met; use kernel='rbf' or a smaller budget.")
        order.append(j)
        gains.append(float(np.log(max(d2[j], 1e-300))))
        alive[j] = False
        dj = np.sqrt(max(d2[j], 1e-300))
        e = (row(j) - C[:t].T @ C[:t, j]) / dj
        C[t] = e
        d2 -= e**2
        d2[j] = 0.0
        if t % max(1, total // 50) == 0:
            problem.report(t / total, f"dpp-map: {t} of {total} picks")
    return Picks(np.asarray(order, dtype=np.int64), gains=np.asarray(gains),
                 info={"log_det": float(np.sum(gains))})
