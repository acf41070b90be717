"""A scikit-learn compatible selector: ``SubsetSelector(strategy, budget, random_state=...)``.

It follows scikit-learn's estimator conventions (parameters stored as given in ``__init__``,
checked in ``fit``; learnt attributes end in ``_``; ``get_params`` / ``set_params`` /
``clone`` work) and apricot's outputs (``ranking_`` in pick order and ``gains_``, the greedy
order as a first-class result; Schreiber, Bilmes & Noble, "apricot: Submodular selection for
data summarization in Python", JMLR 21, 2020). ``transform`` returns the selected rows.

>>> import numpy as np
>>> from sklearn.base import clone
>>> X = np.random.default_rng(0).normal(size=(200, 5))
>>> sel = SubsetSelector("k-center", 10, random_state=0).fit(X)
>>> sel.ranking_.shape, sel.transform(X).shape, clone(sel).get_params()["budget"]
((10,), (10, 5), 10)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import ExplorerError


class SubsetSelector(TransformerMixin, BaseEstimator):
    """Select ``budget`` rows of ``X`` with a registered strategy.

    Parameters
    ----------
    strategy : str
        A registered strategy (``explorer strategies``), e.g. "k-center".
    budget : int or float
        Rows to select: a count, or a fraction in (0, 1) of the rows.
    random_state : int, None or numpy Generator
        The seed (an int gives the same rows every time).
    metric : {"euclidean", "cosine"}
    params : dict or None
        The strategy's parameters (checked by its spec).

    Attributes
    ----------
    ranking_ : ndarray of int64, the selected row indices in pick order (for greedy
        strategies every prefix is the selection of that smaller budget).
    indices_ : ndarray of int64, the same rows in increasing order.
    gains_ : ndarray of float64 aligned with ``ranking_``: each pick's gain (NaN where the
        strategy gives none).
    weights_ : ndarray of float64 or None, importance weights when the strategy returns them.
    selection_ : the :class:`explorer.Selection` (manifest-ready).
    n_features_in_ : int
    """

    def __init__(self, strategy: str = "k-center", budget=100, *, random_state=None,
                 metric: str = "euclidean", params: dict | None = None):
        self.strategy = strategy
        self.budget = budget
        self.random_state = random_state
        self.metric = metric
        self.params = params

    def fit(self, X, y=None):
        """Select rows of ``X`` (n_samples, n_features); ``y``, when given, is the label
        column for strategies that use labels (``stratified``)."""
        import pandas as pd

        from .data.dataset import Dataset
        from .selection import select

        X = np.asarray(X)
        if X.ndim != 2:
            raise ExplorerError(f"SubsetSelector.fit needs a 2-D array (n_samples, n_features);"
                                f" got shape {X.shape}.")
        meta = None
        if y is not None:
            y = np.asarray(y)
            if y.shape != (X.shape[0],):
                raise ExplorerError(f"y has shape {y.shape}; expected ({X.shape[0]},).")
            meta = pd.DataFrame({"label": y})
        data = Dataset.from_arrays(X, metadata=meta, source="an array")
        sel = select(data, self.strategy, self.budget, seed=self.random_state,
                     metric=self.metric, params=self.params,
                     label_column="label" if y is not None else None)
        self.selection_ = sel
        self.ranking_ = np.asarray(sel.indices, dtype=np.int64)
        self.indices_ = np.sort(self.ranking_)
        gains = np.full(len(self.ranking_), np.nan)
        if sel.gains is not None:
            gains[:] = np.asarray(sel.gains, dtype=np.float64)
        self.gains_ = gains
        self.weights_ = None if sel.weights is None else np.asarray(sel.weights, np.float64)
        self.n_features_in_ = X.shape[1]
        self.n_samples_fit_ = X.shape[0]
        return self

    def transform(self, X):
        """The selected rows of ``X`` in pick order (``X[ranking_]``); ``X`` must have the rows
        the selector was fitted on."""
        if not hasattr(self, "ranking_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This SubsetSelector is not fitted yet; call fit(X) first.")
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        if n != self.n_samples_fit_:
            raise ExplorerError(f"transform needs the {self.n_samples_fit_} rows the selector "
                                f"was fitted on; got {n}.")
        return X.iloc[self.ranking_] if hasattr(X, "iloc") else np.asarray(X)[self.ranking_]
