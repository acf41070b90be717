"""The figures the app and the command line share live in :mod:`explorer.figures`; this name
stays importable for the app's modules."""

from explorer.figures import (EXCLUDED, GREY, PALETTE, PINNED, SELECTED,  # noqa: F401
                              TARGET, budget_axis, budget_text, curves_figure, front_figure,
                              jaccard_figure, similarity_histogram)
