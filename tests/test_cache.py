"""The cache of intermediate results is the caller's: a library ``select`` keeps nothing
after it returns, and inside ``with Cache().kept():`` repeated runs are served from it."""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import explorer
from explorer import cache
from explorer.cache import Cache

N, DIM = 60_000, 64  # 15 MB of float32: large enough that keeping it would matter


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, DIM), dtype=np.float32)
    return explorer.Dataset.from_arrays(X)


@pytest.mark.parametrize("strategy", ["k-center", "k-means", "stratified"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_a_library_select_holds_no_reference_to_the_matrix(strategy, metric):
    data = _data()
    matrix = weakref.ref(data.embeddings)
    sel = explorer.select(data, strategy, 40, seed=0, metric=metric)
    assert cache.current() is None
    del data
    gc.collect()
    assert matrix() is None, "something kept the data matrix after select returned"
    assert len(sel) == 40  # the selection itself is kept by its caller


def test_a_kept_cache_serves_repeats_and_lets_go_when_dropped():
    data = _data()
    matrix = weakref.ref(data.embeddings)
    kept = Cache()
    with kept.kept():
        small = explorer.select(data, "k-center", 20, seed=0)
        large = explorer.select(data, "k-center", 60, seed=0)  # continues the traversal
        explorer.select(data, "stratified", 30, seed=0)
        explorer.select(data, "stratified", 50, seed=0)  # the same clusters
    assert kept.size("k-center traversals") == 1 and kept.size("k-means clusterings") == 1
    assert np.array_equal(large.indices[:20], small.indices)
    assert large.info["distance_evaluations"] == \
        explorer.select(data, "k-center", 60, seed=0).info["distance_evaluations"]
    del data
    gc.collect()
    assert matrix() is not None  # the cache keeps the traversal and its matrix for prefetch
    kept.clear()
    gc.collect()
    assert matrix() is None and kept.size() == 0


def test_the_cache_is_per_thread_and_restored_on_exit():
    outer, inner = Cache(), Cache()
    seen = []
    with outer.kept():
        with inner.kept():
            assert cache.current() is inner
            thread = threading.Thread(target=lambda: seen.append(cache.current()))
            thread.start()
            thread.join()
        assert cache.current() is outer
    assert cache.current() is None and seen == [None]


def test_least_recently_used_entries_go_first():
    kept = Cache()
    for key in ("a", "b", "a", "c"):
        kept.get_or_make("kind", key, lambda key=key: key.upper(), keep=2)
    assert kept.size("kind") == 2
    calls = []
    assert kept.get_or_make("kind", "a", lambda: calls.append(1), keep=2) == "A" and not calls
    assert kept.get_or_make("kind", "b", lambda: "B again", keep=2) == "B again"  # b was dropped
