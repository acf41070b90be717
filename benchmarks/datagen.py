"""Data for benchmarks: clustered synthetic vectors (clearly labelled as synthetic) and the
bundled real embeddings tiled with noise to a given size.

    python benchmarks/datagen.py --kind synthetic --n 100000 --dim 384 --out /tmp/x.npy
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def synthetic_clustered(n: int, dim: int, n_clusters: int = 50, seed: int = 0) -> np.ndarray:
    """SYNTHETIC: Gaussian blobs of unequal size and spread (per-dimension sd 0.05-0.25)
    around standard-normal centres, so clusters are separated (centre distances ~ sqrt(2 D),
    within-cluster distances ~ sd sqrt(2 D)).

    Generated in blocks so 1M x 384 needs only the output matrix in memory.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    sizes = rng.dirichlet(np.full(n_clusters, 2.0))
    spreads = rng.uniform(0.05, 0.25, n_clusters).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    block = 100_000
    for s in range(0, n, block):
        m = min(block, n - s)
        c = rng.choice(n_clusters, m, p=sizes)
        out[s : s + m] = centres[c] + rng.standard_normal((m, dim), dtype=np.float32) * spreads[c, None]
    return out


def tiled_real(n: int, sample: str = "pydocs", noise: float = 0.02, seed: int = 0) -> np.ndarray:
    """The bundled real embeddings repeated to ``n`` rows, each copy with Gaussian noise."""
    import pandas as pd

    frame = pd.read_parquet(ROOT / "sample_data" / f"{sample}.parquet", columns=["embedding"])
    base = np.stack(frame["embedding"].to_numpy()).astype(np.float32)
    rng = np.random.default_rng(seed)
    reps = -(-n // len(base))
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for r in range(reps):
        s = r * len(base)
        m = min(len(base), n - s)
        out[s : s + m] = base[:m] + rng.standard_normal((m, base.shape[1]), dtype=np.float32) * noise
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kind", choices=["synthetic", "tiled"], default="synthetic")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--sample", default="pydocs")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    X = synthetic_clustered(a.n, a.dim) if a.kind == "synthetic" else tiled_real(a.n, a.sample)
    np.save(a.out, X)
    print(f"wrote {a.out}: {X.shape} float32 ({a.kind})")


if __name__ == "__main__":
    main()
