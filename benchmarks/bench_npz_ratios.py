"""How many times over deflate (np.savez_compressed's compression) shrinks the columns of the
bundled samples, and near-constant data, beside explorer.data.arrays.MAX_COMPRESSION_RATIO
(the ratio above which an .npz is refused as a zip bomb).

    python benchmarks/bench_npz_ratios.py
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import explorer  # noqa: E402
from explorer.data.arrays import MAX_COMPRESSION_RATIO  # noqa: E402


def ratio(values: np.ndarray) -> float:
    """Raw bytes / deflated bytes (zlib's default level, as numpy's zip writer)."""
    raw = np.ascontiguousarray(values).tobytes()
    return len(raw) / len(zlib.compress(raw))


def main() -> None:
    pydocs, digits = explorer.load_sample("pydocs"), explorer.load_sample("digits")
    labels = np.random.default_rng(0).integers(0, 10, 100_000)
    rows = {
        "pydocs MiniLM vectors, float32": pydocs.embeddings,
        "pydocs MiniLM vectors, float64": pydocs.embeddings.astype(np.float64),
        "digits pixels (small integers), float32": digits.embeddings,
        "digits pixels (small integers), float64": digits.embeddings.astype(np.float64),
        "random int64 labels (10 values)": labels,
        "sorted int64 labels (10 values)": np.sort(labels),
        "zeros, float32": np.zeros(1_000_000, dtype=np.float32),
    }
    print(f"refused above {MAX_COMPRESSION_RATIO} times over")
    for name, values in rows.items():
        print(f"  {name:<42} {ratio(values):8.1f} times")


if __name__ == "__main__":
    main()
