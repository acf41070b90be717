"""The RBF kernel's random Fourier features and the median bandwidth heuristic, shared by
kernel herding and the DPPs (helpers: no strategy here)."""

from __future__ import annotations

import numpy as np

from .. import space


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
