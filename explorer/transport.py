"""Entropic optimal transport (Sinkhorn, kernel or log domain) between two point sets.

Our own small implementation for sets of up to a few thousand points (sets are subsampled,
seeded, above ``max_points``); used by the ``ot-target`` strategy and the ``target_ot`` metric.
"""

from __future__ import annotations

import numpy as np

from . import space


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def sinkhorn_cost(A: np.ndarray, B: np.ndarray, reg: float = 0.05, n_iter: int = 300,
                  max_points: int = 1500, seed: int = 0, tol: float = 1e-7,
                  scale: float | None = None) -> float:
    """Transport cost <P, C> of the entropic plan between uniform weights on A and B, with
    C the squared Euclidean distance and the entropy weight ``reg * scale`` (``scale``
    defaults to the mean of C, so ``reg`` is scale-free; pass a fixed ``scale`` to compare
    several sets against one target on the same footing).

    Iterates in the kernel domain (two matrix-vector products per step) when exp(-C / eps)
    does not underflow, else in the log domain. Returns the cost in squared-distance units.

    >>> A = np.zeros((3, 2), np.float32); B = np.ones((4, 2), np.float32)
    >>> round(sinkhorn_cost(A, B), 6)
    2.0
    """
    rng = np.random.default_rng(seed)
    if len(A) > max_points:
        A = A[np.sort(rng.choice(len(A), max_points, replace=False))]
    if len(B) > max_points:
        B = B[np.sort(rng.choice(len(B), max_points, replace=False))]
    C = space.sq_distances(np.asarray(A, np.float32), np.asarray(B, np.float32))
    C = np.maximum(C.astype(np.float64), 0.0)
    scale = float(scale if scale is not None else C.mean()) or 1.0
    eps = scale * reg
    a = np.full(len(A), 1.0 / len(A))
    b = np.full(len(B), 1.0 / len(B))
    # kernel domain, after shifting each row by its minimum (absorbed into the scaling u)
    shift = C.min(axis=1, keepdims=True)
    K = np.exp(-(C - shift) / eps)
    if np.all(K.sum(axis=0) > 1e-200):
        v = np.ones(len(B))
        u = a / (K @ v)
        for _ in range(n_iter):
            v = b / (K.T @ u)
            u_new = a / (K @ v)
            if np.max(np.abs(u_new - u) / u_new) < tol:
                u = u_new
                break
            u = u_new
        P = u[:, None] * K * v[None, :]
        return float((P * C).sum())
    L = -C / eps
    f = np.zeros(len(A))
    g = np.zeros(len(B))
    log_a, log_b = np.log(a), np.log(b)
    for _ in range(n_iter):
        f_new = log_a - _logsumexp(L + g[None, :], axis=1)
        g = log_b - _logsumexp(L + f_new[:, None], axis=0)
        if np.max(np.abs(f_new - f)) < tol:
            f = f_new
            break
        f = f_new
    return float((np.exp(L + f[:, None] + g[None, :]) * C).sum())
