"""Graph-based selective annotation: vote-k on a k-nearest-neighbour graph."""

from __future__ import annotations

import numpy as np

from ..cost import CostModel
from ..params import Interval, Param
from . import _sparse
from .base import Picks, Problem, register


@register(
    "vote-k",
    summary="Picks points that many neighbours 'vote' for, and lowers the votes near points "
    "already picked, so the picks are both typical and spread out.",
    family="coverage",
    paper="Su et al., Selective Annotation Makes Language Models Better Few-Shot Learners, "
    "ICLR 2023 (fast vote-k, the baseline of Zhang et al., IDEAL: Influence-Driven Selective "
    "Annotations Empower In-Context Learners in Large Language Models, ICLR 2024).",
    params=(
        Param("neighbors", Interval("int", 1, 500), 10,
              "Size of each point's neighbourhood in the k-nearest-neighbour graph."),
        Param("discount", Interval("float", 1, None, closed="neither"), 10.0,
              "How much a vote loses per picked point already in the voter's neighbourhood "
              "(rho in the paper)."),
        Param("graph_search", _sparse.GRAPH_SEARCH_RANGE, _sparse.SEARCH_DEFAULT,
              _sparse.GRAPH_SEARCH_HELP),
    ),
    greedy=True,
    randomized=False,
    cost=CostModel(
        seconds=lambda s: _sparse.graph_seconds(s) + s.k * s.n * 8 / s.bandwidth,
        memory=lambda s: _sparse.graph_bytes(s, s.params["neighbors"] + 1)
        + 8 * s.n * s.params["neighbors"] + s.matrix,
        advice="Select from a sample."),
)
def vote_k(problem: Problem, neighbors: int, discount: float, graph_search: int) -> Picks:
    """Fast vote-k (graph-based selective annotation).

    Every point v votes for its ``neighbors`` nearest points N(v). A vote of v weighs
    ``discount ** -c(v)``, where c(v) counts the picked points inside N(v); picked points
    stop voting. Each step picks the allowed point u with the largest total weight of the
    unpicked points voting for it (ties: lowest index) and updates the weights locally
    (O(k^2) per pick). Pinned rows are picked first and discount their neighbourhoods.
    ``gains`` holds each pick's score at pick time. The graph is the one facility location
    uses (exact up to 10,000 rows, NN-descent above, whose recall ``graph_search`` sets).

    References
    ----------
    H. Su, J. Kasai, C. H. Wu, W. Shi, T. Wang, J. Xin, R. Zhang, M. Ostendorf, L. Zettlemoyer,
    N. A. Smith and T. Yu, "Selective Annotation Makes Language Models Better Few-Shot
    Learners", ICLR 2023.
    W. Dong, M. Charikar and K. Li, "Efficient k-nearest neighbor graph construction for
    generic similarity measures", WWW 2011 (NN-descent, the graph above 10,000 rows).
    S. Zhang, X. Xia, Z. Wang, L.-H. Chen, J. Liu, Q. Wu and T. Liu, "IDEAL: Influence-Driven
    Selective Annotations Empower In-Context Learners in Large Language Models", ICLR 2024.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> len(explorer.select(data, "vote-k", 10).indices)
    10
    """
    n = problem.n
    k = int(min(neighbors, n - 1))
    problem.report(0.0, "vote-k: building the neighbour graph")
    Xc, sq = _sparse.centred(problem.X)
    graph = _sparse.knn_graph(Xc, sq, k + 1, search=graph_search)  # row i itself first
    nbr = np.ascontiguousarray(graph.neighbors[:, 1:], dtype=np.int64)
    # voters[u]: the points v with u in N(v) (the graph transposed, as CSR)
    flat = nbr.ravel()
    order = np.argsort(flat, kind="stable")
    voters = (order // k).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=n))])
    weight = np.ones(n)
    voting = np.ones(n, dtype=bool)
    score = np.bincount(flat, minlength=n).astype(np.float64)  # every vote weighs 1 at first

    def take(j: int) -> None:
        # j stops voting: its neighbours lose j's vote
        if voting[j]:
            np.subtract.at(score, nbr[j], weight[j])
            voting[j] = False
        # every voter v whose neighbourhood holds j is discounted
        vs = voters[starts[j] : starts[j + 1]]
        vs = vs[voting[vs]]
        if len(vs):
            old = weight[vs].copy()
            weight[vs] = old / discount
            np.subtract.at(score, nbr[vs].ravel(), np.repeat(old - weight[vs], k))

    for p in problem.pinned:
        take(int(p))
    candidate = problem.allowed.copy()
    picks = []
    gains = []
    step = max(1, problem.n_new // 50)
    for t in range(problem.n_new):
        masked = np.where(candidate, score, -np.inf)
        j = int(np.argmax(masked))
        picks.append(j)
        gains.append(float(masked[j]))
        candidate[j] = False
        take(j)
        if t % step == 0:
            problem.report(t / problem.n_new, "vote-k: picking")
    idx = np.concatenate([problem.pinned, np.asarray(picks, dtype=np.int64)]).astype(np.int64)
    g = np.concatenate([np.full(len(problem.pinned), np.nan), gains])
    return Picks(idx, gains=g, info={"neighbors": k, "graph": graph.method})
