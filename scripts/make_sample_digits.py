"""Regenerate sample_data/digits.parquet from scikit-learn's bundled handwritten digits.

    python scripts/make_sample_digits.py

1,797 real 8x8 images of the digits 0-9 (the UCI optical recognition of handwritten digits
test set, bundled with scikit-learn). The embedding is the 64 pixel intensities scaled to
[0, 1]; `image` is a 32x32 PNG thumbnail as a data URI; `difficulty` is the out-of-fold
logistic-regression loss; `group` is the ink tertile (how much of the 8x8 grid is written on);
`x` / `y` are the app's UMAP map, shipped so the first map needs no UMAP.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from _sample_common import out_of_fold_difficulty, with_layout, write_parquet


def png_data_uri(image8: np.ndarray, scale: int = 4) -> str:
    """Dark ink on white, upscaled by nearest neighbour, as a data:image/png URI."""
    from PIL import Image

    grey = (255 - np.clip(image8, 0, 16) * 255 / 16).astype(np.uint8)
    big = np.kron(grey, np.ones((scale, scale), dtype=np.uint8))
    buf = io.BytesIO()
    Image.fromarray(big, mode="L").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def main() -> None:
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    labels = digits.target.astype(str)
    difficulty, acc = out_of_fold_difficulty(X, labels)
    ink = X.sum(axis=1)
    cuts = np.quantile(ink, [1 / 3, 2 / 3])
    group = np.where(ink <= cuts[0], "ink-low", np.where(ink <= cuts[1], "ink-mid", "ink-high"))
    frame = pd.DataFrame({
        "id": [f"digit-{i:04d}" for i in range(len(X))],
        "label": labels,
        "difficulty": difficulty.astype(np.float64),
        "group": group,
        "image": [png_data_uri(img) for img in digits.images],
    })
    frame, layout = with_layout(frame, X)
    path = write_parquet(frame, X, "digits", layout=layout)
    print(f"wrote {path}: {X.shape[0]} rows x {X.shape[1]} dims; out-of-fold accuracy {acc:.3f}")
    print(frame["label"].value_counts().sort_index().to_dict())


if __name__ == "__main__":
    main()
