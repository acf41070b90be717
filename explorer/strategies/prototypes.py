"""Self-supervised prototype pruning: keep the rows farthest from (or nearest to) their
k-means prototype."""

from __future__ import annotations

import numpy as np

from ..cost import KMEANS_COST
from ..params import Options, Param
from ._cluster_pool import N_CLUSTERS, cluster_pool
from .base import Picks, Problem, fill_from_allowed, register


@register(
    "prototype-distance",
    summary="Clusters the data, then keeps the rows farthest from their cluster's centre "
    "(hard, unusual examples) or nearest to it (easy, typical ones).",
    family="clustering",
    paper="Sorscher, Geirhos, Shekhar, Ganguli & Morcos, Beyond neural scaling laws: beating "
    "power law scaling via data pruning, NeurIPS 2022.",
    params=(
        N_CLUSTERS,
        Param("keep", Options(("hard", "easy")), "hard",
              "hard: the rows farthest from their prototype (the paper's choice when much data "
              "remains); easy: the nearest (its choice when little remains)."),
    ),
    greedy=True,
    cost=KMEANS_COST,  # the sort of the distances is a small part
)
def prototype_distance(problem: Problem, n_clusters: int, keep: str) -> Picks:
    """Self-supervised prototype metric (Sorscher et al., section 5).

    The allowed and pinned rows are clustered by k-means (the seed fixes it); a row's difficulty is its distance
    to its own cluster's centre (Euclidean, or under the cosine metric on the normalised rows,
    which orders rows as the cosine distance does). ``keep='hard'`` returns the farthest rows
    first, ``'easy'`` the nearest; ties go to the lower row index. The ranking does not depend
    on the budget, so a smaller budget's picks are a prefix of a larger one's. ``gains`` are
    the distances; pinned rows come first with NaN.

    References
    ----------
    B. Sorscher, R. Geirhos, S. Shekhar, S. Ganguli and A. S. Morcos, "Beyond neural scaling
    laws: beating power law scaling via data pruning", NeurIPS 2022.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> hard = explorer.select(data, "prototype-distance", 20, seed=0)
    >>> easy = explorer.select(data, "prototype-distance", 20, seed=0, params={"keep": "easy"})
    >>> bool(hard.gains.min() > easy.gains.max())
    True
    """
    rows, clustering = cluster_pool(problem, n_clusters)
    distances = np.full(problem.n, np.nan)
    distances[rows] = clustering.distances
    order = rows[np.argsort(-clustering.distances if keep == "hard" else clustering.distances,
                            kind="stable")]
    picks = fill_from_allowed(problem, order)
    gains = distances[picks]
    gains[: len(problem.pinned)] = np.nan
    return Picks(picks, gains=gains, info={"n_clusters": clustering.k})
