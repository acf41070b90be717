"""Export a selection (.csv, .parquet, .npy), write and read its JSON manifest, replay it.

Every write goes through :mod:`explorer.data.atomic`: a temp file in the same folder, fsync,
then rename; an existing file is never replaced unless ``force=True``, a folder, FIFO or
device never; a subset and its manifest are committed together.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError
from .atomic import atomic_path, write_together  # noqa: F401  (atomic_path: public here too)
from .dataset import Dataset
from .json_values import json_safe

MANIFEST_FORMAT = "subset-explorer-manifest"
MANIFEST_VERSION = 1
EXPORT_FORMATS = (".csv", ".parquet", ".npy")
#: A .parquet export of more rows than this, from a sharded dataset, is a folder of Parquet
#: parts of at most this many rows each, in rank order (pandas, pyarrow, Dask and Spark read
#: such a folder as one table); each part's metadata is read from the shards and written
#: before the next, so the export never holds the whole subset in memory.
PART_ROWS = 1_000_000
#: The manifest's copy inside a folder of parts; readers skip names that start with "_".
PARTS_MANIFEST = "_subset-explorer-manifest.json"


def selection_frame(data: Dataset, selection, engine=None) -> pd.DataFrame:
    """rank, index, id, [gain], [weight], then the metadata columns of the selected rows
    (of a sharded dataset: read shard by shard on ``engine``)."""
    from .shards import ShardedDataset

    if isinstance(data, ShardedDataset):
        from ..engine.drivers import selection_rows

        return selection_rows(data, selection, engine)
    idx = np.asarray(selection.indices, dtype=np.int64)
    frame = pd.DataFrame({"rank": np.arange(len(idx)), "index": idx, "id": data.ids[idx]})
    if getattr(selection, "gains", None) is not None:
        frame["gain"] = selection.gains
    if getattr(selection, "weights", None) is not None:
        frame["weight"] = selection.weights
    meta = data.metadata.iloc[idx].reset_index(drop=True)
    id_col = data.options.get("id_column")
    drop = [c for c in meta.columns if c == id_col or c in frame.columns]
    return pd.concat([frame, meta.drop(columns=drop)], axis=1)


def output_type(path) -> str:
    """The export format of ``path`` from its suffix, or an error listing the supported ones.

    >>> output_type("subset.CSV")
    '.csv'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ExplorerError(f"{Path(path).name}: unsupported output type "
                            f"{suffix or '(none)'!r}. Supported: {', '.join(EXPORT_FORMATS)}.")
    return suffix


def _inputs(data: Dataset) -> list:
    """The dataset's own files, which an output must never replace."""
    shards = getattr(data, "shards", None)
    if shards is not None:
        return [(s.path, "a shard") for s in shards] + [(s.meta, "a shard's metadata")
                                                          for s in shards if s.meta]
    return [(data.source, "the data"), ((data.options or {}).get("meta"), "the metadata")]


def export(data: Dataset, selection, path, *, force: bool = False, scorecard=None,
           manifest=None, columns: dict | None = None, engine=None,
           part_rows: int = PART_ROWS) -> Path:
    """Write the selection to ``path`` (.csv / .parquet with rank, index, id and metadata, or
    .npy of int64 indices); with ``manifest``, also write the JSON manifest there.
    ``columns`` adds columns (name -> one value per selected row) to a .csv / .parquet, such
    as the map's x / y (:func:`explorer.data.interchange.extra_columns`).

    Both targets are checked before either is written, and the two are committed together
    (:func:`explorer.data.atomic.write_together`): never a subset without its manifest.
    A .parquet of more than ``part_rows`` rows of a sharded dataset is a folder of parts
    (see :data:`PART_ROWS`) holding a copy of the manifest (:data:`PARTS_MANIFEST`), so it is
    never without one either.
    """
    path = Path(path).expanduser()
    suffix = output_type(path)
    if columns and suffix == ".npy":
        raise ExplorerError(f"{path.name}: a .npy holds only the row indices; write .csv or "
                            ".parquet to add columns.")
    from .shards import ShardedDataset

    if suffix == ".parquet" and isinstance(data, ShardedDataset) and \
            len(selection.indices) > part_rows:
        return _export_parts(data, selection, path, force=force, scorecard=scorecard,
                             manifest=manifest, columns=columns, engine=engine,
                             part_rows=part_rows)

    def write_subset(tmp: Path) -> None:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(selection.indices, dtype=np.int64), allow_pickle=False)
            return
        frame = selection_frame(data, selection, engine).assign(**(columns or {}))
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)

    writes = [(path, "output", write_subset)]
    if manifest is not None:
        text = _manifest_text(data, selection, scorecard)
        writes.insert(0, (Path(manifest).expanduser(), "manifest",
                          lambda tmp: tmp.write_text(text, encoding="utf-8")))
    write_together(writes, force=force, inputs=_inputs(data))
    return path


def _export_parts(data, selection, path: Path, *, force, scorecard, manifest, columns,
                  engine, part_rows: int) -> Path:
    """:func:`export`'s folder of Parquet parts ``part-00000.parquet``, ... (ranks
    ``i * part_rows`` onward in part i), with the manifest inside and, with ``manifest``,
    beside it (written once the folder is in place)."""
    from types import SimpleNamespace

    from .atomic import atomic_folder, check_targets

    if manifest is not None:
        check_targets([(manifest, "manifest")], force=force,
                      inputs=_inputs(data) + [(path, "the output folder")])
    idx = np.asarray(selection.indices, dtype=np.int64)
    gains = getattr(selection, "gains", None)
    text = _manifest_text(data, selection, scorecard)
    with atomic_folder(path, force, "output", inputs=_inputs(data),
                       looks_ours=lambda p: (p / PARTS_MANIFEST).is_file()) as tmp:
        for part, start in enumerate(range(0, len(idx), part_rows)):
            stop = min(len(idx), start + part_rows)
            rows = SimpleNamespace(indices=idx[start:stop],
                                   gains=None if gains is None else gains[start:stop])
            frame = selection_frame(data, rows, engine)
            frame["rank"] += start
            for name, values in (columns or {}).items():
                frame[name] = np.asarray(values)[start:stop]
            frame.to_parquet(tmp / f"part-{part:05d}.parquet", index=False)
        (tmp / PARTS_MANIFEST).write_text(text, encoding="utf-8")
    if manifest is not None:
        write_together([(Path(manifest).expanduser(), "manifest",
                         lambda tmp: tmp.write_text(text, encoding="utf-8"))], force=force,
                       inputs=_inputs(data))
    return path


def versions() -> dict:
    import sklearn

    import explorer

    return {"subset-explorer": explorer.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "pandas": pd.__version__,
            "python": platform.python_version()}


def manifest_dict(data: Dataset, selection, scorecard=None) -> dict:
    """Everything that reproduces (and documents) a selection, JSON-safe."""
    from .manifest import metadata_hashes

    from .shards import ShardedDataset

    sharded = isinstance(data, ShardedDataset)
    idx = np.asarray(selection.indices, dtype=np.int64)
    pinned = np.asarray(selection.pinned, dtype=np.int64)
    excluded = np.asarray(selection.excluded, dtype=np.int64)
    ids_of = (lambda rows: rows) if sharded else (lambda rows: data.ids[rows])  # no pins there
    doc = json_safe({
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "strategy": selection.strategy,
        "params": selection.params,
        "seed": selection.seed,
        "budget": selection.budget,
        "metric": selection.metric,
        "columns": selection.columns,
        "cost": getattr(selection, "cost", None),
        "steps": list(getattr(selection, "steps", ()) or ()),
        "where": getattr(selection, "where", None),
        "target": getattr(selection, "target", None),
        "pinned": {"indices": pinned, "ids": ids_of(pinned)},
        "excluded": {"indices": excluded, "ids": ids_of(excluded)},
        "info": selection.info,
        "seconds": selection.seconds,
        "dataset": {"path": data.source, "options": data.options,
                    "shape": [data.n, data.dim], "fingerprint": data.fingerprint,
                    "dropped_ids": list(getattr(data, "dropped_ids", ())),
                    "embedding": getattr(data, "embedding", None)},  # + metadata_columns, below
        "selection": {"indices": idx, "ids": selection.ids(data)},
        "scorecard": scorecard.to_dict() if scorecard is not None else None,
        "versions": versions(),
    })
    if getattr(selection, "engine", None):
        doc["engine"] = json_safe(selection.engine)  # never a scheduler's address
    # what the metadata contributed: the fingerprint covers only the embeddings and ids
    if not sharded:
        doc["dataset"]["metadata_columns"] = metadata_hashes(data, doc)
    return doc


def write_manifest(path, data: Dataset, selection, scorecard=None, *, force: bool = False
                   ) -> Path:
    """Write the JSON manifest atomically; refuses to overwrite without ``force``."""
    path = Path(path).expanduser()
    text = _manifest_text(data, selection, scorecard)
    write_together([(path, "manifest", lambda tmp: tmp.write_text(text, encoding="utf-8"))],
                   force=force, inputs=_inputs(data))
    return path


def _manifest_text(data: Dataset, selection, scorecard=None) -> str:
    """The manifest as JSON text; made before anything is written, so a selection that
    cannot have a manifest leaves no file behind."""
    if selection.seed is None:
        raise ExplorerError("This selection was made with a Generator as seed, so it cannot be "
                            "replayed; select with an int seed to write a manifest.")
    return json.dumps(manifest_dict(data, selection, scorecard), indent=2) + "\n"


def read_manifest(path) -> dict:
    """Read a manifest file and check it (:func:`explorer.data.manifest.validate_manifest`)
    before anything in it is used."""
    from .manifest import validate_manifest
    from .paths import regular_file

    path = regular_file(path, "manifest")
    try:
        doc = strict_json(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExplorerError(f"{path.name}: not valid JSON ({exc}).") from None
    except RecursionError:
        raise ExplorerError(f"{path.name}: nested too deeply to be a manifest.") from None
    return validate_manifest(doc, path.name)


def strict_json(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity (not JSON numbers; Python's
    parser takes them, and a NaN parameter would flow into a run unchecked)."""
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _target_args(record, data: Dataset, allow_paths: bool = True, key: str = "target") -> dict:
    """select() arguments that rebuild a recorded target set; a file is read only when
    ``allow_paths`` (the app does not read paths named by someone else's manifest)."""
    if not record:
        return {}
    if "query" in record:
        return {"target_query": record["query"]}
    if "indices" in record:
        return {"target": np.asarray(record["indices"], dtype=np.int64)}
    if "path" in record:
        if not allow_paths:
            raise ExplorerError(f"The manifest's {key} is the file {record['path']!r}; a "
                                "manifest reloaded here may not make the app read files. "
                                "Replay it from the command line (explorer select --replay).")
        from .rows import load_target

        target, again = load_target(record["path"], data)
        if record.get("fingerprint") and again.get("fingerprint") != record["fingerprint"]:
            raise ExplorerError(f"The target file {record['path']} changed since the manifest "
                                f"was written (fingerprint {again.get('fingerprint')}, recorded "
                                f"{record['fingerprint']}).")
        return {"target": target}
    raise ExplorerError("The manifest's target was given as an in-memory array; it cannot be "
                        "replayed. Save the target embeddings to a file and select with it.")


def _replay_budget(step: dict):
    """The budget a recorded step ran with: its total cost under a cost column, else its
    count."""
    return (step.get("cost") or {}).get("budget", step["budget"])


def recorded_data(doc: dict, data: Dataset | None = None) -> Dataset:
    """The dataset a (checked) manifest was made on: ``data`` when given, else loaded from
    the recorded path and options; refused, naming both, when its fingerprint differs."""
    from .loading import load

    ds = doc["dataset"]
    if data is None:
        opts = dict(ds.get("options") or {})
        data = load(ds["path"], meta=opts.get("meta"), id_column=opts.get("id_column"),
                    embedding_column=opts.get("embedding_column"),
                    drop_invalid=bool(opts.get("drop_invalid")),
                    metric=opts.get("metric", "euclidean"))
    if data.fingerprint != ds["fingerprint"]:
        raise ExplorerError(
            f"The data changed since the manifest was written: {ds['path']} now has "
            f"fingerprint {data.fingerprint} (shape {data.n} x {data.dim}); the manifest "
            f"recorded {ds['fingerprint']} (shape {ds['shape'][0]} x {ds['shape'][1]})."
        )
    return data


def replay(manifest, *, data: Dataset | None = None, allow_paths: bool = True, engine=None):
    """Re-run a manifest's selection; returns (Dataset, Selection) with identical ids.

    ``manifest`` is a path or a dict (a workspace entry); either is checked first
    (:func:`explorer.data.manifest.validate_manifest`: schema, indices, filters). ``data``
    is the dataset to replay on (else the recorded path is loaded). With ``allow_paths=False``
    nothing is read from a path the manifest names (the app passes its loaded data and this,
    since the manifest may come from someone else). Refused, naming the cause, when the
    data's fingerprint or a metadata column the selection used changed. A run made on an
    engine (its manifest has ``engine``) replays on ``engine`` (default: the local engine)
    with the same ids.
    """
    from ..selection import select
    from .manifest import check_metadata, validate_manifest

    if isinstance(manifest, dict):
        doc = validate_manifest(manifest)
    else:
        doc = read_manifest(manifest)
    if doc.get("engine") or (doc["dataset"].get("options") or {}).get("sharded"):
        return _replay_on_engine(doc, data, allow_paths, engine)
    if data is None and not allow_paths:
        raise ExplorerError("replay(allow_paths=False) needs the data: load the dataset "
                            "and pass data=.")
    data = recorded_data(doc, data)
    check_metadata(data, doc)
    targets = [_target_args(step.get("target"), data, allow_paths, f"steps[{i}].target")
               for i, step in enumerate(doc.get("steps") or [])]
    final_target = _target_args(doc.get("target"), data, allow_paths)
    previous = None
    for step, target in zip(doc.get("steps") or [], targets):
        previous = select(data, step["strategy"], _replay_budget(step), seed=step["seed"],
                          metric=step["metric"], params=step["params"],
                          pinned=step.get("pinned") or None,
                          excluded=step.get("excluded") or None, where=step.get("where"),
                          after=previous, **target, **(step.get("columns") or {}))
        if len(previous) != step.get("selected", len(previous)):
            raise ExplorerError(f"Replaying pipeline step {step['strategy']} gave "
                                f"{len(previous)} rows; the manifest recorded "
                                f"{step.get('selected')}.")
    cols = doc.get("columns") or {}
    sel = select(data, doc["strategy"], _replay_budget(doc), seed=doc["seed"],
                 metric=doc["metric"],
                 params=doc["params"], pinned=(doc.get("pinned") or {}).get("indices"),
                 excluded=(doc.get("excluded") or {}).get("indices"), where=doc.get("where"),
                 after=previous, **final_target, **cols)
    recorded = [str(v) for v in doc["selection"]["ids"]]
    got = [str(v) for v in data.ids[sel.indices].tolist()]
    if got != recorded:
        from .ledger import locked_rows

        locked = set(locked_rows(data).tolist())
        if locked and not locked <= set((doc.get("excluded") or {}).get("indices") or []):
            raise ExplorerError(
                f"Replaying {doc['strategy']} gave different rows than recorded: the dataset's "
                f"confirmation split ({len(locked)} rows) was locked after the manifest was "
                "written, and locked rows cannot be selected; its recorded rows are in "
                "selection.indices (explorer confirm reads them).")
        was = (doc.get("versions") or {})
        raise ExplorerError(
            f"Replaying {doc['strategy']} gave different rows than recorded ({len(got)} vs "
            f"{len(recorded)} ids; first difference at rank "
            f"{next((i for i, (a, b) in enumerate(zip(got, recorded)) if a != b), min(len(got), len(recorded)))}). "
            f"Recorded with {was}; now {versions()}."
        )
    return data, sel


def _replay_on_engine(doc: dict, data, allow_paths: bool, engine):
    """Replay a selection made on an engine: the same distributed form and mode, on
    ``engine`` (any engine gives the same ids)."""
    from ..engine.drivers import Run
    from ..engine import engine_in_use
    from ..selection import select
    from .loading import load

    ds = doc["dataset"]
    opts = dict(ds.get("options") or {})
    if data is None:
        if not allow_paths:
            raise ExplorerError("replay(allow_paths=False) needs the data: load the dataset "
                                "and pass data=.")
        data = load(ds["path"], id_column=opts.get("id_column"),
                    embedding_column=opts.get("embedding_column"),
                    metric=opts.get("metric", "euclidean"))
    with engine_in_use(engine) as eng:
        found = Run(data, eng, doc["metric"]).fingerprint()
        if found != ds["fingerprint"]:
            raise ExplorerError(f"The data changed since the manifest was written: {ds['path']} "
                                f"now has fingerprint {found}; the manifest recorded "
                                f"{ds['fingerprint']}.")
        sel = select(data, doc["strategy"], doc["budget"], seed=doc["seed"],
                     metric=doc["metric"], params=doc["params"], engine=eng,
                     mode=(doc.get("engine") or {}).get("mode"),
                     excluded=(doc.get("excluded") or {}).get("indices") or None,
                     **(doc.get("columns") or {}))
    recorded = [str(v) for v in doc["selection"]["ids"]]
    got = [str(v) for v in sel.ids(data).tolist()]
    if got != recorded:
        raise ExplorerError(f"Replaying {doc['strategy']} on the {eng.name} engine gave "
                            f"different rows than recorded ({len(got)} vs {len(recorded)} ids).")
    return data, sel
