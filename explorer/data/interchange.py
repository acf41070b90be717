"""Exports other tools load: a Hugging Face ``datasets`` folder and a Label Studio task list,
of a strategy's selection or of any rows (a lasso, a filter), with the map's x / y and
cluster ids as columns on request.

- ``hf``: a folder that ``datasets.load_from_disk`` opens, holding the rows (rank, index,
  id, gain / weight, metadata, the extra columns) and an ``embedding`` column (float32, fixed
  length); a selection's manifest is kept beside the data as ``subset-explorer-manifest.json``.
- ``label-studio``: the JSON list of tasks Label Studio imports (its "basic JSON format": a
  list of ``{"data": {...}}``), each with the row's text or image, ``row_id``,
  ``row_index`` and ``rank``, and its label when there is one, so a labelling config reads
  ``$text`` or ``$image``.

Both are written through :mod:`explorer.data.atomic` (whole or not at all).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import ExplorerError
from .atomic import atomic_folder, atomic_path
from .dataset import Dataset
from .export import _inputs, _manifest_text, selection_frame
from .json_values import json_safe
from .rows import row_indices

FORMATS = ("hf", "label-studio")
MANIFEST_NAME = "subset-explorer-manifest.json"


@dataclass(frozen=True)
class Rows:
    """Rows to export that no strategy chose (a lasso, a filter): indices in their order."""

    indices: np.ndarray
    gains: None = None
    weights: None = None
    how: str = "rows"


def as_rows(rows, data: Dataset, how: str = "rows") -> Rows:
    """Row indices (or a boolean mask of length N) as :class:`Rows`, checked."""
    arr = row_indices(rows, data.n, f"the {how}", repeats="keep", allow_empty=True)
    if len(arr) == 0:
        raise ExplorerError(f"Nothing to export: the {how} holds no rows.")
    return Rows(arr, how=how)


def _in_memory(data, rows, engine=None):
    """``(data, rows, index)`` for the writers: unchanged for a dataset in memory; for a
    sharded one, its exported rows only, read shard by shard on ``engine`` into a Dataset in
    memory where they are rows 0 .. k-1, and ``index`` their global indices (what the export
    records)."""
    from .shards import ShardedDataset

    index = np.asarray(rows.indices, dtype=np.int64)
    if not isinstance(data, ShardedDataset):
        return data, rows, index
    from ..engine.drivers import rows_as_dataset

    return (rows_as_dataset(data, index, engine),
            dataclasses.replace(rows, indices=np.arange(len(index))), index)


def extra_columns(data: Dataset, rows, *, layout=None, clusters=None, scores=None) -> dict:
    """``x`` / ``y`` from ``layout`` ((N, 2), e.g. the map), ``cluster`` from ``clusters``
    ((N,) ids) and the per-row score columns of ``scores`` (an
    :class:`explorer.row_scores.RowScores`), for the exported rows; empty when none is
    given."""
    idx = np.asarray(rows.indices, dtype=np.int64)
    out = {}
    if scores is not None:
        if len(scores.frame) != data.n:
            raise ExplorerError(f"The per-row scores have {len(scores.frame)} rows; expected "
                                f"{data.n}.")
        out.update(scores.columns_for(idx))
    if layout is not None:
        layout = np.asarray(layout)
        if layout.shape != (data.n, 2):
            raise ExplorerError(f"The map layout has shape {layout.shape}; expected "
                                f"({data.n}, 2).")
        out["x"] = layout[idx, 0].astype(np.float64)
        out["y"] = layout[idx, 1].astype(np.float64)
    if clusters is not None:
        clusters = np.asarray(clusters)
        if clusters.shape != (data.n,):
            raise ExplorerError(f"The cluster ids have shape {clusters.shape}; expected "
                                f"({data.n},).")
        out["cluster"] = clusters[idx].astype(np.int64)
    return out


def export_frame(data: Dataset, rows, *, layout=None, clusters=None, scores=None
                 ) -> pd.DataFrame:
    """What an export holds: :func:`~explorer.data.export.selection_frame` of a selection or
    of :class:`Rows`, plus :func:`extra_columns`."""
    return selection_frame(data, rows).assign(**extra_columns(data, rows, layout=layout,
                                                                clusters=clusters,
                                                                scores=scores))


def _arrow_table(data: Dataset, frame: pd.DataFrame):
    idx = frame["index"].to_numpy(dtype=np.int64)
    X = np.ascontiguousarray(data.embeddings[idx], dtype=np.float32)
    table = pa.Table.from_pandas(frame.drop(columns=[c for c in ("embedding",)
                                                     if c in frame.columns]),
                                 preserve_index=False)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1), pa.float32()),
                                                data.dim)
    return table.append_column("embedding", vectors)


def write_hf(data: Dataset, rows, folder, *, force: bool = False, layout=None, clusters=None,
             manifest_text: str | None = None, scores=None, engine=None) -> Path:
    """Write a folder that Hugging Face ``datasets.load_from_disk`` opens (see the module
    docstring); an existing folder is replaced only with ``force`` and only when it is one
    (it holds ``state.json``). A sharded dataset's rows are read on ``engine``."""
    try:
        import datasets
    except ImportError:
        raise ExplorerError("The Hugging Face export needs the datasets package: pip install "
                            "'subset-explorer[embed]' (or pip install datasets).") from None
    inputs = _inputs(data)
    data, rows, index = _in_memory(data, rows, engine)
    frame = export_frame(data, rows, layout=layout, clusters=clusters, scores=scores)
    table = _arrow_table(data, frame)
    # a sharded dataset's rows are 0 .. k-1 of the Dataset read for the export; the column
    # records their global indices
    table = table.set_column(table.schema.get_field_index("index"), "index",
                             pa.array(index, pa.int64()))
    record = getattr(data, "embedding", None)
    about = (f"{len(frame)} rows of {data.name} chosen with Subset Explorer"
             f" ({getattr(rows, 'strategy', getattr(rows, 'how', 'rows'))})"
             + (f"; embeddings: {record['kind']} by {record['model']}" if record else "")
             + ("; score columns: " + " ".join(r.caption() for r in scores.records.values())
                if scores is not None else ""))
    info = datasets.DatasetInfo(description=about)
    bars_were_on = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        with atomic_folder(folder, force, "--out", inputs=inputs,
                           looks_ours=lambda p: (p / "state.json").is_file()) as tmp:
            datasets.Dataset(table, info=info).save_to_disk(str(tmp))
            if manifest_text is not None:
                (tmp / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()
    return Path(folder).expanduser()


def metadata_columns(data) -> list:
    """The metadata column names of a dataset in memory or a sharded one."""
    return list(data.metadata.columns) if hasattr(data, "metadata") else list(data.columns)


def _check_column(data, name: str, purpose: str) -> None:
    """A missing column is an error that names it and lists the columns (before any row is
    read)."""
    if hasattr(data, "metadata"):
        data.column(name, purpose)
    elif name not in data.columns:
        raise ExplorerError(f"Column {name!r} for {purpose} is not in the shards of "
                            f"{data.source}. Their columns are: "
                            f"{', '.join(map(str, data.columns)) or '(none)'}.")


def _pick_column(data, given: str | None, kind: str) -> str | None:
    if given is not None:
        _check_column(data, given, f"the Label Studio {kind}")
        return given
    columns = metadata_columns(data)
    record = getattr(data, "embedding", None) or {}
    if record.get("kind") == kind and record.get("column") in columns:
        return record["column"]
    if kind == "image" and record.get("kind") == "image" and "path" in columns:
        return "path"
    return kind if kind in columns else None


def task_columns(data) -> tuple:
    """The (text, image) columns a Label Studio task shows when none is named: the embedded
    column, else columns named ``text`` / ``image``; None where there is none."""
    return _pick_column(data, None, "text"), _pick_column(data, None, "image")


def label_studio_tasks(data: Dataset, rows, *, text_column: str | None = None,
                       image_column: str | None = None, label_column: str | None = None,
                       engine=None) -> list[dict]:
    """Label Studio tasks (its basic JSON import format) for ``rows``: ``{"data": {"text" or
    "image": ..., "row_id", "row_index", "rank", ["label"]}}``. The text / image columns
    default to the embedded column, else to columns named ``text`` / ``image``.

    >>> import numpy as np, pandas as pd
    >>> d = Dataset.from_arrays(np.eye(3, dtype=np.float32), ids=["a", "b", "c"],
    ...                         metadata=pd.DataFrame({"text": ["x", "y", "z"]}))
    >>> label_studio_tasks(d, as_rows([2, 0], d))
    [{'data': {'text': 'z', 'row_id': 'c', 'row_index': 2, 'rank': 0}}, {'data': {'text': 'x', 'row_id': 'a', 'row_index': 0, 'rank': 1}}]
    """
    text = _pick_column(data, text_column, "text")
    image = _pick_column(data, image_column, "image")
    if text is None and image is None:
        columns = ", ".join(map(str, metadata_columns(data)))
        raise ExplorerError(f"A Label Studio task needs the text or the image of each row, and "
                            f"{data.name} has no 'text' or 'image' column; "
                            + (f"name one of its columns ({columns}) as the text or the image "
                               "column." if columns else "it has no metadata columns."))
    if label_column is not None:
        _check_column(data, label_column, "the label")
    data, rows, index = _in_memory(data, rows, engine)
    idx = np.asarray(rows.indices, dtype=np.int64)
    meta = data.metadata
    tasks = []
    for rank, (i, row_index) in enumerate(zip(idx.tolist(), index.tolist())):
        task = {}
        if text is not None:
            task["text"] = meta[text].iat[i]
        if image is not None:
            task["image"] = meta[image].iat[i]
        task.update({"row_id": data.ids[i], "row_index": row_index, "rank": rank})
        if label_column is not None:
            task["label"] = data.column(label_column, "the label").iat[i]
        tasks.append({"data": json_safe(task)})
    return tasks


def write_label_studio(data: Dataset, rows, path, *, force: bool = False, engine=None,
                       **columns) -> Path:
    """Write :func:`label_studio_tasks` as a ``.json`` file Label Studio imports."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".json":
        raise ExplorerError(f"{path.name}: Label Studio tasks are written as .json.")
    text = json.dumps(label_studio_tasks(data, rows, engine=engine, **columns),
                      ensure_ascii=False) + "\n"
    with atomic_path(path, force, "--out") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def export_as(data: Dataset, rows, path, fmt: str, *, force: bool = False, layout=None,
              clusters=None, label_column: str | None = None, with_manifest: bool = True,
              scores=None, engine=None) -> Path:
    """Write ``rows`` (a Selection or :class:`Rows`) in ``fmt`` ('hf' or 'label-studio').
    A selection's manifest goes into the HF folder (``with_manifest``). Of a sharded dataset
    only the exported rows are read, shard by shard on ``engine`` (the map's x / y, clusters
    and per-row scores need the dataset in memory)."""
    if not hasattr(data, "metadata") and (layout is not None or clusters is not None or
                                          scores is not None):
        raise ExplorerError("The map's x / y, cluster ids and per-row scores are not "
                            "exported from a sharded dataset; leave them out.")
    if fmt not in FORMATS:
        raise ExplorerError(f"Unknown export format {fmt!r}. Known: {', '.join(FORMATS)} (and "
                            ".csv / .parquet / .npy by the file name).")
    if fmt == "hf":
        text = None
        if with_manifest and hasattr(rows, "strategy") and getattr(rows, "seed", None) is not None:
            text = _manifest_text(data, rows)
        return write_hf(data, rows, path, force=force, layout=layout, clusters=clusters,
                        manifest_text=text, scores=scores, engine=engine)
    return write_label_studio(data, rows, path, force=force, label_column=label_column,
                              engine=engine)
