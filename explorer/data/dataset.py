"""The Dataset: embeddings, row ids, metadata, a content fingerprint and where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ExplorerError, preview

_FINGERPRINT_BLOCK = 1 << 24  # bytes hashed per step, so a memory-mapped file is streamed


def fingerprint(embeddings: np.ndarray, ids: np.ndarray) -> str:
    """Content hash (BLAKE2b, 16 bytes hex) of the float32 embeddings and the ids.

    Streams the matrix in blocks so a memory-mapped file is never copied whole.

    Examples
    --------
    >>> import numpy as np
    >>> fp = fingerprint(np.zeros((2, 3), np.float32), np.array(["a", "b"]))
    >>> len(fp)
    32
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{embeddings.shape[0]}x{embeddings.shape[1]}:float32\n".encode())
    rows_per_block = max(1, _FINGERPRINT_BLOCK // max(1, embeddings.shape[1] * 4))
    for start in range(0, embeddings.shape[0], rows_per_block):
        block = np.ascontiguousarray(embeddings[start : start + rows_per_block], np.float32)
        h.update(block.tobytes())
    h.update("\x1f".join(map(str, ids)).encode("utf-8"))
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Dataset:
    """Embeddings of N items with their ids and metadata.

    Attributes
    ----------
    embeddings : (N, D) float32 array, possibly memory-mapped and read-only.
    ids : (N,) array of unique ids (strings or integers), as given by the user or row numbers.
    metadata : DataFrame with N rows (RangeIndex) holding labels, groups, scores, text, images.
    fingerprint : content hash of embeddings and ids (see :func:`fingerprint`).
    source : where the data came from (a path or a sample name), for provenance.
    dropped_ids : ids removed by ``drop_invalid`` at load time (empty when nothing was dropped).
    options : the loader options that reproduce this dataset (id column, meta file, ...).
    notes : what the loader changed to make the input usable (rows dropped, columns kept as
        metadata or as text, a separator guessed), one sentence each; also warned at load.
    embedding : the record of the model that made the embeddings, when known (written by
        ``explorer embed``; see :mod:`explorer.data.provenance`), else None.
    """

    embeddings: np.ndarray
    ids: np.ndarray
    metadata: pd.DataFrame
    fingerprint: str
    source: str = ""
    dropped_ids: tuple = ()
    options: dict = field(default_factory=dict)
    notes: tuple = ()
    embedding: dict | None = None

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def name(self) -> str:
        from pathlib import Path

        return Path(self.source).stem if self.source else "dataset"

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        cols = ", ".join(map(str, self.metadata.columns[:8]))
        return (
            f"Dataset({self.n} x {self.dim}, source={self.source!r}, "
            f"columns=[{cols}], fingerprint={self.fingerprint[:12]})"
        )

    @classmethod
    def from_arrays(
        cls,
        embeddings,
        ids=None,
        metadata: pd.DataFrame | None = None,
        source: str = "",
        options: dict | None = None,
    ) -> "Dataset":
        """Build a Dataset from in-memory arrays (validated like a file)."""
        from .validation import validate_matrix, validate_ids

        X = validate_matrix(np.asarray(embeddings) if not isinstance(embeddings, np.memmap)
                            else embeddings, where=source or "the embeddings")
        n = X.shape[0]
        ids = validate_ids(np.arange(n) if ids is None else np.asarray(ids), n,
                           where=source or "the ids")
        if metadata is None:
            metadata = pd.DataFrame(index=pd.RangeIndex(n))
        else:
            metadata = metadata.reset_index(drop=True)
            if len(metadata) != n:
                raise ExplorerError(
                    f"The metadata has {len(metadata)} rows but the embeddings have {n}; "
                    "they must match row for row."
                )
        return cls(X, ids, metadata, fingerprint(X, ids), source, (), dict(options or {}))

    def column(self, name: str, purpose: str = "") -> pd.Series:
        """A metadata column by name, with a message listing the columns if it is missing."""
        if name not in self.metadata.columns:
            cols = preview(self.metadata.columns, 12) or "(none)"
            why = f" for {purpose}" if purpose else ""
            raise ExplorerError(
                f"Column {name!r}{why} is not in the metadata of {self.source or 'the dataset'}."
                f" Its columns are: {cols}."
            )
        return self.metadata[name]

    def index_of_ids(self, ids, where: str = "the id list") -> np.ndarray:
        """Row indices of the given ids; unknown ids are an error that names them."""
        lookup = pd.Index(self.ids.astype(str) if self.ids.dtype.kind in "OUS" else self.ids)
        wanted = pd.Index(ids)
        if lookup.dtype.kind in "iu" and wanted.dtype.kind in "OUS":
            lookup = pd.Index(lookup.astype(str))
        pos = lookup.get_indexer(wanted)
        if (pos < 0).any():
            missing = [v for v, p in zip(wanted, pos) if p < 0]
            raise ExplorerError(
                f"{where}: {len(missing)} id(s) are not in the dataset: {preview(missing)}."
            )
        return pos.astype(np.int64)
