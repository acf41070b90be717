"""The bundled sample datasets (see sample_data/README.md)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ExplorerError
from .dataset import Dataset

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"

#: name -> parquet file; every sample has an ``id`` column and an ``embedding`` list column.
SAMPLES = {
    "digits": SAMPLE_DIR / "digits.parquet",
    "pydocs": SAMPLE_DIR / "pydocs.parquet",
}

#: one line each, for menus
DESCRIPTIONS = {
    "digits": "1,797 handwritten digits (8x8 pixels, 64-D), labelled 0-9, with thumbnails",
    "pydocs": "1,010 paragraphs of the Python reference, MiniLM sentence embeddings (384-D), "
              "8 topic labels",
}

#: Second embeddings of a sample's rows (same ids, another model), by sample and space name:
#: for checking whether a verdict made in one embedding holds in another.
OTHER_SPACES = {
    "pydocs": {"TF-IDF + SVD (128-D)": SAMPLE_DIR / "pydocs_tfidf.parquet"},
}


def load_sample(name: str, metric: str = "euclidean") -> Dataset:
    """Load a bundled sample by name ('digits' or 'pydocs').

    Examples
    --------
    >>> data = load_sample("digits")
    >>> data.n, data.dim, str(data.ids[0])
    (1797, 64, 'digit-0000')
    """
    from .loading import load

    if name not in SAMPLES:
        raise ExplorerError(f"Unknown sample {name!r}. Samples: {', '.join(SAMPLES)}.")
    return load(SAMPLES[name], id_column="id", metric=metric)
