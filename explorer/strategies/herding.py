"""Kernel herding: picks whose mean feature matches the data's (a small MMD)."""

from __future__ import annotations

import numpy as np

from ..cost import CostModel
from ..params import Interval, Param
from ._rbf_features import median_gamma, random_fourier_features
from .base import Picks, Problem, register


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
