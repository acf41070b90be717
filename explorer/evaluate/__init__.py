"""Scorecard metrics and random-baseline envelopes (no streamlit, no plotly)."""

from .scorecard import METRICS, MetricScore, Scorecard, ScoringContext, random_subsets, score

__all__ = ["METRICS", "MetricScore", "Scorecard", "ScoringContext", "random_subsets", "score"]
