"""Literal text search and nearest neighbours (of a row, of a typed sentence through the real
MiniLM of the [embed] extra), against brute force."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors

import explorer
from explorer import search


def test_text_search_is_literal_and_ignores_case(pydocs):
    texts = pydocs.metadata["text"].astype(str).tolist()
    got = search.text_matches(pydocs, "text", "LAMBDA")
    assert got.tolist() == [i for i, t in enumerate(texts) if "lambda" in t.casefold()]
    assert len(got) > 0
    # regex characters are plain text: ".*" matches only rows holding those two characters
    assert search.text_matches(pydocs, "text", ".*").tolist() == \
        [i for i, t in enumerate(texts) if ".*" in t]
    assert search.text_matches(pydocs, "text", "").tolist() == []
    with pytest.raises(explorer.ExplorerError, match="not in the metadata"):
        search.text_matches(pydocs, "nope", "x")
    with pytest.raises(explorer.ExplorerError, match="at most 500"):
        search.text_matches(pydocs, "text", "x" * 501)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=6))
def test_any_search_text_is_a_substring_test(pydocs, query):
    texts = pydocs.metadata["text"].astype(str).tolist()
    got = search.text_matches(pydocs, "text", query)
    want = [i for i, t in enumerate(texts) if query and query.casefold() in t.casefold()]
    assert got.tolist() == want


@pytest.mark.parametrize("sample,metric", [("digits", "euclidean"), ("pydocs", "cosine")])
def test_neighbours_of_a_row_match_brute_force(sample, metric, request):
    data = request.getfixturevalue(sample)
    X = np.asarray(data.embeddings, dtype=np.float64)
    nn = NearestNeighbors(n_neighbors=9, metric=metric, algorithm="brute").fit(X)
    for row in (0, 17, data.n - 1):
        got = search.neighbours_of_row(data, row, k=8, metric=metric)
        d, _ = nn.kneighbors(X[row : row + 1])
        np.testing.assert_allclose(got.distances, d[0, 1:], atol=1e-5)
        assert row not in got.indices and got.query == f"row {row}"
        assert np.all(np.diff(got.distances) >= 0)
    with pytest.raises(explorer.ExplorerError, match="outside the"):
        search.neighbours_of_row(data, data.n, k=3)


def test_neighbours_of_a_typed_sentence_through_minilm(pydocs):
    """pydocs' vectors are MiniLM's (tests/test_embed.py checks it), so with the model's
    record the dataset is one 'explorer embed' would write; a sentence lands in its space."""
    with pytest.raises(explorer.ExplorerError, match="not embedded by a known text model"):
        search.query_model(pydocs)
    from explorer.embed.models import TextModel

    data = replace(pydocs, embedding={**TextModel().record, "column": "text"})
    model = search.query_model(data)
    row = 123
    text = str(data.metadata["text"].iat[row])
    found = search.neighbours_of_text(data, model, text, k=5)
    assert found.indices[0] == row and found.distances[0] < 1e-4
    found = search.neighbours_of_text(data, model, "how does a for loop iterate", k=4)
    labels = data.metadata["label"].to_numpy()[found.indices]
    assert (labels == "compound statements").all(), labels  # 4 of 4; by chance about 15 %
    with pytest.raises(explorer.ExplorerError, match="other weights"):
        search.query_model(replace(data, embedding={**data.embedding, "weights": "0" * 32}))
