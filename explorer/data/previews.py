"""What one row looks like to a person: a text snippet, or its image (a ``data:image/`` URI
held in the metadata, or a file path that lies below the allowed folders).

Paths from a metadata file are data: an image path is opened only when it resolves below
:func:`explorer.data.paths.allowed_roots` and names a regular file; anything else gives no
preview, never an error page.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ExplorerError
from .paths import inside_roots, regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")


def text_column(data) -> str | None:
    """The column a row's text is in: the embedded text column, else ``text``, else None."""
    record = getattr(data, "embedding", None) or {}
    if record.get("kind") == "text" and record.get("column") in data.metadata.columns:
        return record["column"]
    return "text" if "text" in data.metadata.columns else None


def image_column(data) -> str | None:
    """The column a row's image is in: the embedded image column, else ``image`` / ``path``
    when it holds images, else None."""
    record = getattr(data, "embedding", None) or {}
    if record.get("kind") == "image" and record.get("column") in data.metadata.columns:
        return record["column"]
    for name in ("image", "path"):
        if name in data.metadata.columns:
            first = data.metadata[name].dropna()
            first = str(first.iat[0]) if len(first) else ""
            if first.startswith("data:image/") or first.lower().endswith(IMAGE_SUFFIXES):
                return name
    return None


def snippet(data, row: int, length: int = 160) -> str:
    """The start of the row's text (one line), or "" without a text column.

    >>> import numpy as np, pandas as pd, explorer
    >>> d = explorer.Dataset.from_arrays(np.eye(2, dtype=np.float32),
    ...                                  metadata=pd.DataFrame({"text": ["a\\nb " * 3, None]}))
    >>> snippet(d, 0, 7), snippet(d, 1)
    ('a b a …', '')
    """
    column = text_column(data)
    if column is None:
        return ""
    value = data.metadata[column].iat[int(row)]
    if value is None or value != value:
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= length else text[: length - 1].rstrip() + " …"


def image(data, row: int):
    """The row's image for display: a ``data:image/`` URI (str), a checked file (Path), or
    None when the row has none or its path lies outside the allowed folders."""
    return image_source(data, row)[0]


def image_source(data, row: int) -> tuple[str | Path | None, str]:
    """The row's image as :func:`image` gives it, and why there is none when the row names one
    that cannot be opened: one line naming the file, the row and the column ("" otherwise).

    >>> import numpy as np, pandas as pd, explorer
    >>> d = explorer.Dataset.from_arrays(np.eye(2, dtype=np.float32),
    ...     metadata=pd.DataFrame({"image": ["/nowhere/a.png", None]}))
    >>> image_source(d, 1)
    (None, '')
    >>> image_source(d, 0)[1].startswith("/nowhere/a.png (row 0, column image): is outside")
    True
    """
    column = image_column(data)
    if column is None:
        return None, ""
    value = data.metadata[column].iat[int(row)]
    if not isinstance(value, str) or not value:
        return None, ""
    if value.startswith("data:image/"):
        return value, ""
    what = f"row {int(row)}, column {column}"
    path = Path(value)
    if not path.is_absolute() and data.source:
        path = Path(data.source).expanduser().parent / path
    try:
        return regular_file(inside_roots(path, what), what), ""
    except ExplorerError as exc:
        return None, str(exc)
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop, a NUL byte in the path
        return None, f"{value} ({what}): cannot be resolved ({exc})."
