"""Shared by the sample-data scripts: the difficulty score and the atomic parquet write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sample_data"


def out_of_fold_difficulty(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Out-of-fold cross-entropy of a logistic regression predicting ``labels`` (higher = harder).

    Returns the per-row loss and the out-of-fold accuracy.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    classes, y = np.unique(labels, return_inverse=True)
    model = LogisticRegression(max_iter=2000, C=1.0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    proba = cross_val_predict(model, X, y, cv=folds, method="predict_proba")
    p_true = np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0)
    return -np.log(p_true), float((proba.argmax(axis=1) == y).mean())


#: The parquet schema's metadata key holding what the shipped ``x`` / ``y`` layout was made
#: with (:func:`explorer.projection.layout_record`).
LAYOUT_KEY = b"subset_explorer.layout"


def with_layout(frame: pd.DataFrame, X: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """``frame`` with ``x`` / ``y`` columns: the app's default map (UMAP, 15 neighbours,
    min_dist 0.1, euclidean, seed 0) of the rows of ``X``, which the app shows as it is
    instead of computing it; and the record of how it was made. Seeded UMAP runs
    single-threaded, so the same versions give the same bytes."""
    import explorer
    from explorer import projection

    data = explorer.Dataset.from_arrays(np.asarray(X, dtype=np.float32),
                                        ids=frame["id"].to_numpy())
    xy = projection.layout(data, "umap", use_cache=False, given=False)
    return frame.assign(x=xy[:, 0], y=xy[:, 1]), projection.layout_record(data, "umap")


def write_parquet(frame: pd.DataFrame, X: np.ndarray, name: str, folder: Path = OUT,
                  dictionary: bool = True, layout: dict | None = None) -> Path:
    """Write ``<folder>/<name>.parquet`` (default sample_data/) atomically (temp file, then
    rename): the frame's columns with ``embedding`` (fixed-size list of float32) inserted
    after ``id``, and the record of its ``x`` / ``y`` layout (``layout``) under
    :data:`LAYOUT_KEY`. ``dictionary=False`` stores the floats plainly (dictionary encoding
    of float vectors with few repeats only adds a dictionary page)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.add_column(1, "embedding", embedding_column(X))
    if layout is not None:
        table = table.replace_schema_metadata(
            {**table.schema.metadata, LAYOUT_KEY: json.dumps(layout, sort_keys=True).encode()})
    from explorer.data.atomic import atomic_path

    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    target = folder / f"{name}.parquet"
    with atomic_path(target, force=True) as tmp:
        pq.write_table(table, tmp, compression="zstd",
                       use_dictionary=True if dictionary else ["id"])
    return target


def embedding_column(X: np.ndarray):
    """A pyarrow fixed-size-list<float32> column holding the rows of ``X``."""
    import pyarrow as pa

    X = np.ascontiguousarray(X, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])
