"""Finding rows: literal text search over a text column, and the nearest neighbours of a row
or of a typed sentence embedded by the dataset's own text model.

The search text is data, never a pattern or code: it is matched as a literal substring,
case-insensitively (pandas' ``str.contains(regex=False)`` on case-folded text). Neighbours
are found by one blocked pass over the prepared rows (``space.nearest``'s geometry: cosine
rows L2-normalised, distance ``1 - cos``), in the full embedding space, never on the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import space
from .errors import ExplorerError
from .params import METRIC, Interval, Text, validate_params

NEIGHBOURS = Interval("int", 1, None)

#: Longest search text accepted (characters).
MAX_QUERY = 500


@validate_params({"column": [Text()]})
def text_matches(data, column: str, query: str) -> np.ndarray:
    """Row indices (ascending) whose ``column`` contains ``query`` as literal text, ignoring
    case; empty for an empty query. Regex characters have no meaning here.

    >>> import numpy as np, pandas as pd, explorer
    >>> d = explorer.Dataset.from_arrays(np.eye(3, dtype=np.float32), metadata=pd.DataFrame(
    ...     {"text": ["Sort a list", "a.b(c)", None]}))
    >>> text_matches(d, "text", "SORT").tolist(), text_matches(d, "text", ".b(").tolist()
    ([0], [1])
    """
    query = str(query)
    if len(query) > MAX_QUERY:
        raise ExplorerError(f"The search text has {len(query)} characters; at most "
                            f"{MAX_QUERY} are searched. Shorten it.")
    col = data.column(column, "the text search")
    if not query:
        return np.zeros(0, dtype=np.int64)
    text = col.astype("string").str.casefold()
    hits = text.str.contains(query.casefold(), regex=False, na=False)
    return np.flatnonzero(hits.to_numpy(dtype=bool))


@dataclass(frozen=True)
class Neighbours:
    """The nearest rows to a query, nearest first: ``indices``, their ``distances`` (in
    ``metric``), and what the query was (``query``: "row 12" or the typed text)."""

    indices: np.ndarray
    distances: np.ndarray
    metric: str
    query: str


def _nearest_to(X: np.ndarray, q: np.ndarray, k: int, skip: int | None) -> tuple:
    """The k rows of prepared ``X`` nearest to the prepared vector ``q`` (squared Euclidean,
    ties to the lower row), leaving out row ``skip``."""
    n = X.shape[0]
    d = np.empty(n, dtype=np.float64)
    rows = max(1, space.BLOCK_BYTES // (4 * X.shape[1]))
    q64 = np.asarray(q, dtype=np.float64)
    for s in range(0, n, rows):
        block = np.asarray(X[s : s + rows], dtype=np.float64) - q64
        d[s : s + rows] = np.einsum("ij,ij->i", block, block)
    if skip is not None:
        d[skip] = np.inf
    k = min(k, n - (skip is not None))
    order = np.lexsort((np.arange(n), d))[:k]
    return order.astype(np.int64), d[order]


@validate_params({"k": [NEIGHBOURS], "metric": [METRIC]})
def neighbours_of_row(data, row: int, k: int = 10, metric: str = "euclidean") -> Neighbours:
    """The ``k`` rows nearest to row ``row`` (itself left out), nearest first.

    >>> import numpy as np, explorer
    >>> X = np.array([[0.0], [1.0], [3.0], [0.5]], dtype=np.float32)
    >>> neighbours_of_row(explorer.Dataset.from_arrays(X), 0, k=2).indices.tolist()
    [3, 1]
    """
    if not 0 <= int(row) < data.n:
        raise ExplorerError(f"Row {row} is outside the {data.n} rows of {data.name}.")
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    idx, sq = _nearest_to(X, np.asarray(X[int(row)]), int(k), int(row))
    return Neighbours(idx, space.to_metric(sq, metric), metric, f"row {int(row)}")


@validate_params({"k": [NEIGHBOURS], "metric": [METRIC], "query": [Text()]})
def neighbours_of_vector(data, vector, k: int = 10, metric: str = "euclidean",
                         query: str = "a vector") -> Neighbours:
    """The ``k`` rows nearest to an embedding ``vector`` of the dataset's width."""
    v = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    if v.shape[1] != data.dim:
        raise ExplorerError(f"The query vector has {v.shape[1]} dimensions but {data.name} has "
                            f"{data.dim}; it must come from the same model.")
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    q = space.prepare(v, metric, where="the query")[0]
    idx, sq = _nearest_to(X, q, int(k), None)
    return Neighbours(idx, space.to_metric(sq, metric), metric, query)


def query_model(data):
    """The text model that made ``data``'s embeddings, loaded offline from its record
    (``Dataset.embedding``), for embedding typed sentences into the same space; an error
    when the dataset has no text model record or the model on this machine is not the one
    the record names (a different weights digest)."""
    record = getattr(data, "embedding", None)
    if not record or record.get("kind") != "text":
        raise ExplorerError(f"{data.name} was not embedded by a known text model (no text "
                            "embedding record), so a typed sentence cannot be placed in its "
                            "space; embed the text column with 'explorer embed' first.")
    from .embed.models import DEFAULT_TEXT_NAME, TextModel

    given = None if record.get("model") == DEFAULT_TEXT_NAME else record.get("model_path")
    model = TextModel(given, normalize=bool(record.get("normalized", True)))
    if record.get("weights") and model.record.get("weights") != record["weights"]:
        raise ExplorerError(f"The model {record.get('model')} on this machine has other weights "
                            "than the one that embedded this dataset; a typed sentence would "
                            "land in another space.")
    return model


@validate_params({"k": [NEIGHBOURS], "metric": [METRIC]})
def neighbours_of_text(data, model, text: str, k: int = 10,
                       metric: str = "cosine") -> Neighbours:
    """The ``k`` rows nearest to ``text`` embedded by ``model`` (see :func:`query_model`)."""
    text = str(text).strip()
    if not text:
        raise ExplorerError("Type a sentence to search for its nearest rows.")
    if len(text) > MAX_QUERY * 4:
        raise ExplorerError(f"The sentence has {len(text)} characters; at most "
                            f"{MAX_QUERY * 4} are embedded. Shorten it.")
    return neighbours_of_vector(data, model.encode([text])[0], k, metric, query=text)
