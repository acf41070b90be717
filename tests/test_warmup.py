"""The numba warm-up: once per process, in a thread of its own, never raising."""

from __future__ import annotations

import threading

from explorer import warmup


def test_the_background_warm_up_runs_once_per_process_off_the_calling_thread(monkeypatch):
    ran = []
    done = threading.Event()

    def warm(report):
        ran.append(threading.current_thread().name)
        done.set()
        raise RuntimeError("a failed warm-up is dropped")  # the real call compiles later

    monkeypatch.setattr(warmup, "warm", warm)
    monkeypatch.setattr(warmup, "_started", threading.Event())
    assert warmup.warm_in_background() is True
    assert warmup.warm_in_background() is False
    assert done.wait(30)
    assert ran == ["numba-warm-up"]


def test_the_install_warm_up_also_builds_an_nn_descent_graph_and_places_rows_by_umap():
    steps = []
    seconds = warmup.warm(report=steps.append, large_data=True)
    assert list(seconds) == ["k-center", "scorecard", "k-means", "umap", "nn-descent graph",
                             "umap placement"]
    assert all(line.startswith("warm-up: ") for line in steps) and len(steps) == 6
