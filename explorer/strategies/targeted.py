"""Target-driven selection: importance resampling (DSIR) and optimal transport (TAROT)."""

from __future__ import annotations

import numpy as np

from .. import space
from ..cost import CostModel
from ..params import Interval, Options, Param
from ..transport import sinkhorn_cost
from ._sampling import gumbel_top_k
from .base import Picks, Problem, register


#: The shared PCA is fitted on at most this many pool rows (seeded), and the pool is
#: projected in blocks of as many.
FIT_ROWS = 50_000


def _reduced(problem: Problem, dims: int, whiten: bool):
    """Pool (allowed rows) and target in a shared PCA space fitted on pool + target, in
    float64: the density ratios built on it are exponentiated, so float32 rounding (which
    differs between BLAS builds) would show in the weights."""
    from sklearn.decomposition import PCA

    rows = np.flatnonzero(problem.allowed)
    target = np.asarray(problem.target, dtype=np.float64)
    rng = np.random.default_rng(int(problem.rng.integers(2**31)))
    fit_rows = rows if len(rows) <= FIT_ROWS else \
        rows[np.sort(rng.choice(len(rows), FIT_ROWS, replace=False))]
    fit = np.asarray(problem.X[fit_rows], dtype=np.float64)
    k = int(min(dims, fit.shape[1], len(fit) + len(target) - 1))
    pca = PCA(n_components=k, whiten=whiten, random_state=0).fit(np.concatenate([fit, target]))
    pool = np.concatenate([pca.transform(np.asarray(problem.X[rows[s : s + FIT_ROWS]],
                                                    dtype=np.float64))
                           for s in range(0, len(rows), FIT_ROWS)])
    return rows, pool, pca.transform(target)


def _gaussian_logpdf(Z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = Z.shape[1]
    L = np.linalg.cholesky(cov)
    sol = np.linalg.solve(L, (Z - mean).T)
    return -0.5 * (sol**2).sum(axis=0) - np.log(np.diag(L)).sum() - 0.5 * d * np.log(2 * np.pi)


def _fit_gaussian(Z: np.ndarray, ridge: float):
    mean = Z.mean(axis=0)
    cov = np.cov(Z, rowvar=False) if len(Z) > 1 else np.eye(Z.shape[1])
    cov = np.atleast_2d(cov) + ridge * np.eye(Z.shape[1]) * max(np.trace(np.atleast_2d(cov))
                                                                / Z.shape[1], 1e-12)
    return mean, cov


def gaussian_kl(m0, c0, m1, c1) -> float:
    """KL(N(m0, c0) || N(m1, c1)) in nats."""
    d = len(m0)
    c1_inv = np.linalg.inv(c1)
    diff = m1 - m0
    _, ld0 = np.linalg.slogdet(c0)
    _, ld1 = np.linalg.slogdet(c1)
    return float(0.5 * (np.trace(c1_inv @ c0) + diff @ c1_inv @ diff - d + ld1 - ld0))


@register(
    "dsir",
    summary="Picks rows that look like a target set, by resampling the data with weights "
    "'how much more likely under the target than under the data'.",
    family="targeted",
    paper="Xie, Santurkar, Ma & Liang, Data Selection for Language Models via Importance "
    "Resampling, NeurIPS 2023.",
    params=(
        Param("dims", Interval("int", 1, 256), 16,
              "PCA dimensions the two densities are fitted in."),
        Param("ridge", Interval("float", 0, None, closed="neither"), 0.05,
              "Covariance regularisation (a share of the mean variance), for small targets."),
    ),
    needs=("target",),
    # hashed features of every row, in float64 (tracemalloc: 12-13 bytes per element)
    # the PCA fit, both densities and the Gumbel keys: a few products and ~150 passes
    cost=CostModel(seconds=lambda s: 150 * s.one_pass + 4 * s.product(s.n, s.dim),
                   memory=lambda s: 3.0 * s.matrix),
)
def dsir(problem: Problem, dims: int, ridge: float) -> Picks:
    """Data Selection with Importance Resampling on embeddings.

    The paper fits bag-of-hashed-n-gram models of the target and the raw pool; here both
    densities are Gaussians fitted in a shared PCA space of the embeddings (the target's and
    the pool's). Importance weights w = p_target / p_pool; the pool is resampled without
    replacement with probability proportional to w by the Gumbel top-k trick (seeded).
    ``info`` reports KL(target || pool) and KL(target || selected) under the same Gaussian
    model, and their difference (the KL reduction the paper uses to predict quality).

    References
    ----------
    S. M. Xie, S. Santurkar, T. Ma and P. Liang, "Data Selection for Language Models via
    Importance Resampling", NeurIPS 2023.
    """
    rows, Zp, Zt = _reduced(problem, dims, whiten=False)
    mt, ct = _fit_gaussian(Zt, ridge)
    mp, cp = _fit_gaussian(Zp, ridge)
    log_w = _gaussian_logpdf(Zp, mt, ct) - _gaussian_logpdf(Zp, mp, cp)
    chosen = gumbel_top_k(log_w, problem.n_new, problem.rng)
    new = rows[chosen]
    ms, cs = _fit_gaussian(Zp[chosen], ridge) if len(chosen) > 1 else (mp, cp)
    kl_pool = gaussian_kl(mt, ct, mp, cp)
    kl_sel = gaussian_kl(mt, ct, ms, cs)
    w = np.exp(log_w[chosen] - log_w.max())
    return Picks(np.concatenate([problem.pinned, new]).astype(np.int64),
                 weights=np.concatenate([np.ones(len(problem.pinned)), w / w.mean()]),
                 info={"kl_target_pool": kl_pool, "kl_target_selected": kl_sel,
                       "kl_reduction": kl_pool - kl_sel})


@register(
    "ot-target",
    summary="Grows a subset from the rows nearest each target point and stops where it "
    "matches the target best (optimal transport); proposes its own size.",
    family="targeted",
    paper="Feng et al., TAROT: Targeted Data Selection via Optimal Transport, 2024 (ICML 2025).",
    params=(
        Param("mode", Options(("auto", "fixed")), "auto",
              "auto: stop where the transport distance to the target stops falling (at most "
              "the budget); fixed: always return the budget."),
        Param("dims", Interval("int", 1, 256), 32, "Whitened PCA dimensions."),
        Param("checkpoints", Interval("int", 2, 200), 24,
              "How many subset sizes (log-spaced) the transport distance is measured at."),
    ),
    needs=("target",),
    exact_budget=False,
    # the whitened coordinates and the transport plan's blocks, per row and dimension
    cost=CostModel(seconds=lambda s: 300 * s.one_pass + s.product(s.n, s.params["dims"]),
                   memory=lambda s: 60.0 * s.n * s.params["dims"]),
)
def ot_target(problem: Problem, mode: str, dims: int, checkpoints: int) -> Picks:
    """Targeted selection by optimal transport (TAROT's greedy, simplified).

    Pool and target are whitened (PCA whitening fitted on both), so no direction dominates.
    The selection grows round-robin over the target points, each taking its nearest candidate
    not yet picked; the entropic OT distance (Sinkhorn) between the selection and the target
    is measured at log-spaced sizes, and in 'auto' mode the selection stops at the size with
    the lowest distance (``info['proposed_budget']``; the curve is in ``info['ot_curve']``).
    'fixed' returns the budget. Sinkhorn subsamples sets above 1,500 points (seeded).

    References
    ----------
    L. Feng et al., "TAROT: Targeted Data Selection via Optimal Transport", arXiv:2412.00420,
    2024 (ICML 2025).
    """
    rows, Zp, Zt = _reduced(problem, dims, whiten=True)
    m = len(Zt)
    per = -(-problem.n_new // m) + 1
    per = min(per, len(rows))
    # each target point's nearest candidates, in order (blocked over target points)
    near = np.empty((m, per), dtype=np.int64)
    zp32 = Zp.astype(np.float32)
    zt32 = Zt.astype(np.float32)
    p_sq = np.einsum("ij,ij->i", zp32, zp32, dtype=np.float64)
    for s in range(0, m, 256):
        d = space.sq_distances(zt32[s : s + 256], zp32, None, p_sq)
        part = np.argpartition(d, per - 1, axis=1)[:, :per]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1, kind="stable")
        near[s : s + 256] = np.take_along_axis(part, order, axis=1)
    taken = np.zeros(len(rows), dtype=bool)
    order_local = []
    pointer = np.zeros(m, dtype=np.int64)
    while len(order_local) < problem.n_new:
        progressed = False
        for t in range(m):
            while pointer[t] < per and taken[near[t, pointer[t]]]:
                pointer[t] += 1
            if pointer[t] < per:
                j = near[t, pointer[t]]
                taken[j] = True
                order_local.append(j)
                progressed = True
                if len(order_local) == problem.n_new:
                    break
        if not progressed:
            rest = np.flatnonzero(~taken)[: problem.n_new - len(order_local)]
            order_local.extend(rest.tolist())
            taken[rest] = True
    order_local = np.asarray(order_local, dtype=np.int64)
    sizes = np.unique(np.round(np.geomspace(1, max(1, problem.n_new), checkpoints)).astype(int))
    seed = int(problem.rng.integers(2**31))
    curve = [(int(k), sinkhorn_cost(zp32[order_local[:k]], zt32, seed=seed)) for k in sizes]
    best_k = min(curve, key=lambda kv: (kv[1], kv[0]))[0]
    keep = best_k if mode == "auto" else problem.n_new
    new = rows[order_local[:keep]]
    return Picks(np.concatenate([problem.pinned, new]).astype(np.int64),
                 info={"proposed_budget": int(best_k + len(problem.pinned)),
                       "ot_curve": [[k, round(v, 6)] for k, v in curve]})
