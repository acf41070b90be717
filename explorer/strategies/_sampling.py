"""Weighted sampling without replacement, private."""

from __future__ import annotations

import numpy as np


def gumbel_top_k(log_w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k indices sampled without replacement with probability proportional to exp(log_w),
    sequentially (Gumbel top-k trick: Kool, van Hoof & Welling, ICML 2019)."""
    g = log_w + rng.gumbel(size=len(log_w))
    if k >= len(g):
        return np.argsort(-g, kind="stable")
    top = np.argpartition(-g, k - 1)[:k]
    return top[np.argsort(-g[top], kind="stable")]
