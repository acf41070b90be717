"""Regenerate sample_data/pydocs_tfidf.parquet: the same 1,010 pydocs paragraphs in a second,
unrelated embedding space, TF-IDF + truncated SVD (latent semantic analysis), for checking
whether a verdict made in the MiniLM space holds in another one.

    python scripts/make_sample_pydocs_tfidf.py

It reads the ``text`` column of sample_data/pydocs.parquet (no model, no download), so the
rows and ids are exactly those of pydocs. The output is byte-identical from run to run on
the same library versions: the SVD is a full LAPACK SVD on one thread (no randomised
solver), each component's sign is fixed (its largest entry positive), and the parquet is
written without timestamps.

The space: words of two or more letters, lower-cased, English stop words removed, kept when
they occur in at least 2 paragraphs and at most half of them; sublinear term frequency and
smoothed idf (scikit-learn's TfidfVectorizer); the first ``DIMS`` singular directions of the
TF-IDF matrix, each paragraph's coordinates L2-normalised (cosine is its metric).

References
----------
Deerwester, S., Dumais, S. T., Furnas, G. W., Landauer, T. K. & Harshman, R. (1990).
Indexing by latent semantic analysis. JASIS 41(6), 391-407.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _sample_common import OUT, write_parquet

DIMS = 128


def tfidf_lsa(texts: list[str], dims: int = DIMS) -> np.ndarray:
    """(N, dims) float32 LSA coordinates of ``texts``, rows L2-normalised, signs fixed."""
    import scipy.linalg
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    vectoriser = TfidfVectorizer(lowercase=True, stop_words="english", min_df=2, max_df=0.5,
                                 sublinear_tf=True, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
    T = vectoriser.fit_transform(texts).toarray()
    with threadpool_limits(limits=1):  # one thread: the same sums in the same order
        U, S, Vt = scipy.linalg.svd(T, full_matrices=False, lapack_driver="gesdd")
    U, S, Vt = U[:, :dims], S[:dims], Vt[:dims]
    flip = np.sign(Vt[np.arange(dims), np.argmax(np.abs(Vt), axis=1)])
    X = U * (S * flip)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32)


def main(out=OUT) -> None:
    """Read sample_data/pydocs.parquet, write ``<out>/pydocs_tfidf.parquet``."""
    source = pd.read_parquet(OUT / "pydocs.parquet", columns=["id", "text"])
    X = tfidf_lsa(source["text"].tolist())
    path = write_parquet(source[["id"]], X, "pydocs_tfidf", folder=out, dictionary=False)
    print(f"wrote {path}: {X.shape[0]} rows x {X.shape[1]} dims (TF-IDF + SVD of the pydocs "
          "paragraphs)")


if __name__ == "__main__":
    main()
