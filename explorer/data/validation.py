"""Checks on user data, each failing with a message that names the place and the fix."""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError, preview


def validate_matrix(X, where: str = "the embeddings") -> np.ndarray:
    """Return a 2-D float32 matrix; memory-mapped float32 input is kept as it is (no copy).

    Refuses 1-D, empty, non-numeric and complex arrays with a message naming ``where``.
    NaN / inf rows are checked separately by :func:`invalid_rows`.
    """
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except Exception as exc:  # ragged lists
            raise ExplorerError(f"{where}: cannot be read as a matrix ({exc}).") from None
    if X.dtype == object:
        raise ExplorerError(
            f"{where}: the values are not all numbers of one length (rows of unequal length "
            "or non-numeric entries). Give one float vector of the same width per row."
        )
    if X.ndim != 2:
        raise ExplorerError(
            f"{where}: expected a 2-D array (rows x dimensions), got {X.ndim}-D with shape "
            f"{X.shape}. A single vector must be reshaped to (1, D); a list of vectors stacked."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ExplorerError(f"{where}: the array is empty (shape {X.shape}).")
    if X.dtype.kind not in "fiub":
        raise ExplorerError(
            f"{where}: values must be real numbers; got dtype {X.dtype}."
        )
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    return X


def invalid_rows(X: np.ndarray, metric: str = "euclidean", block: int = 65536) -> np.ndarray:
    """Indices of rows holding NaN or inf (and all-zero rows under the cosine metric)."""
    bad = []
    for start in range(0, X.shape[0], block):
        chunk = np.asarray(X[start : start + block])
        mask = ~np.isfinite(chunk).all(axis=1)
        if metric == "cosine":
            mask |= ~chunk.any(axis=1)
        bad.append(np.flatnonzero(mask) + start)
    return np.concatenate(bad) if bad else np.zeros(0, np.int64)


def describe_bad_rows(X: np.ndarray, ids: np.ndarray, rows: np.ndarray, where: str) -> str:
    """Say how many rows are NaN / inf / zero and which ids, and what to do."""
    sub = np.asarray(X[rows])
    nonfinite = ~np.isfinite(sub).all(axis=1)
    zero = ~nonfinite & ~sub.any(axis=1)
    parts = []
    if nonfinite.any():
        parts.append(
            f"{int(nonfinite.sum())} row(s) hold NaN or inf (ids: {preview(ids[rows[nonfinite]])})"
        )
    if zero.any():
        parts.append(
            f"{int(zero.sum())} row(s) are all zeros, which have no direction under the cosine "
            f"metric (ids: {preview(ids[rows[zero]])})"
        )
    return (
        f"{where}: " + "; ".join(parts) + ". Fix them, or pass --drop-invalid (drop_invalid=True) "
        "to drop them with a warning."
    )


def validate_ids(ids: np.ndarray, n: int, where: str = "the ids") -> np.ndarray:
    """Ids must be one per row and unique; returns them as a 1-D array."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) != n:
        raise ExplorerError(f"{where}: expected {n} ids (one per row), got shape {ids.shape}.")
    if ids.dtype == object:
        ids = ids.astype(str)
    if ids.dtype.kind == "f":
        if np.isnan(ids).any():
            raise ExplorerError(f"{where}: some ids are missing (NaN).")
        if np.all(ids == np.round(ids)):
            ids = ids.astype(np.int64)
    uniq, counts = np.unique(ids, return_counts=True)
    if len(uniq) != n:
        dups = uniq[counts > 1]
        raise ExplorerError(
            f"{where}: {len(dups)} id(s) occur more than once: {preview(dups)}. Ids must be "
            "unique; choose another --id-column or leave it out to use row numbers."
        )
    return ids
