"""The one JSON sanitiser: any value the library produces, as plain JSON values."""

from __future__ import annotations

import math

import numpy as np


def json_safe(value):
    """``value`` as plain JSON values: dict keys as text, arrays, tuples and sets as lists,
    numpy scalars as Python numbers, NaN and infinities as None (JSON has no NaN, and ECharts
    draws None as a missing value), anything else not JSON as its text.

    >>> json_safe({1: np.float32(0.5), "b": [np.nan, np.int64(3)], "c": np.arange(2)})
    {'1': 0.5, 'b': [None, 3], 'c': [0, 1]}
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
