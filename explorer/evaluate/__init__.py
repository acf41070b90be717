"""Scorecard metrics and random-baseline envelopes (no streamlit, no plotly)."""

from .probes import Probe, holdout_split, make_probe, random_envelope, take_rows
from .scorecard import (SCORECARD_METRICS, MetricScore, Scorecard, ScoringContext,
                        random_subsets, score)
from .stats import DiffCI, bootstrap_diff_ci, holm
from .sweep import probe_sweep

__all__ = ["SCORECARD_METRICS", "MetricScore", "Scorecard", "ScoringContext", "random_subsets",
           "score",
           "Probe", "holdout_split", "make_probe", "probe_sweep", "random_envelope",
           "take_rows", "DiffCI", "bootstrap_diff_ci", "holm"]
