"""Cost-aware budgets: ``select(..., cost_column=C)`` makes the budget a total cost.

Guarantees checked: no strategy ever spends more than the budget (hypothesis, every registered
strategy, random positive costs); equal costs give the count budget's picks; the knapsack
greedy with the best-single-row fix is within (1 - 1/e) / 2 of a brute-force optimum; the
random envelope is drawn at the same total cost and spends it to within one row; bad costs
are refused in one line naming the column and the row; manifests replay. Real cost columns:
pydocs' words per paragraph (tokens), digits' ink (sum of pixels, a stand-in for labelling
time).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explorer
from explorer.errors import ExplorerError
from explorer.evaluate.scorecard import random_subsets_at_cost
from explorer.strategies import REGISTRY
from explorer.strategies.base import COST_RULES, COST_TOLERANCE, keep_what_fits

from test_registry_conformance import inputs_for  # the inputs each strategy needs

NAMES = sorted(REGISTRY)
COSTED = [n for n in NAMES if REGISTRY[n].cost_rule != "own-size"]
GUARANTEE = (1 - 1 / math.e) / 2


def with_costs(data, costs, rows=None, name="cost"):
    """``data`` (its first ``rows`` rows) with a cost column; same embeddings and ids."""
    rows = data.n if rows is None else rows
    meta = data.metadata.iloc[:rows].reset_index(drop=True).assign(**{name: costs})
    return explorer.Dataset.from_arrays(np.asarray(data.embeddings[:rows]),
                                        ids=data.ids[:rows], metadata=meta)


@pytest.fixture(scope="module")
def small_digits(digits):
    return with_costs(digits, np.ones(150), rows=150)


@pytest.fixture(scope="module")
def pydocs_tokens(pydocs):
    """pydocs with ``tokens``: the words of each paragraph (a token count's stand-in)."""
    words = pydocs.metadata["text"].str.split().str.len().to_numpy(dtype=np.float64)
    return with_costs(pydocs, words, name="tokens")


@pytest.fixture(scope="module")
def digits_ink(digits):
    return with_costs(digits, np.asarray(digits.embeddings, dtype=np.float64).sum(axis=1),
                      name="ink")


def test_every_strategy_has_a_cost_rule():
    assert {REGISTRY[n].cost_rule for n in NAMES} <= set(COST_RULES)
    assert REGISTRY["facility-location"].cost_rule == "knapsack"
    assert REGISTRY["random"].cost_rule == "draw"
    assert REGISTRY["dedup"].cost_rule == REGISTRY["semdedup"].cost_rule == "own-size"


@pytest.mark.parametrize("name", COSTED)
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), rows=st.integers(3, 40), spread=st.floats(0.0, 3.0),
       cost_seed=st.integers(0, 2**16))
def test_cost_never_exceeds_the_budget(small_digits, name, seed, rows, spread, cost_seed):
    spec = REGISTRY[name]
    costs = np.exp(np.random.default_rng(cost_seed).normal(0.0, spread, small_digits.n)) + 1e-3
    data = with_costs(small_digits, costs)
    budget = float(np.sort(costs)[:rows].sum() * 1.3)  # about `rows` typical rows
    # group-quota's one pick per group needs a count of at least the groups: a budget
    # that buys fewer rows is refused (as a count budget is), so its minimum is 0 here
    params = {"minimum": 0} if name == "group-quota" else None
    sel = explorer.select(data, name, budget, seed=seed, cost_column="cost", params=params,
                          **inputs_for(spec, data))
    spend = float(costs[sel.indices].sum())
    assert len(sel) >= 1 and sel.budget == len(sel)
    assert spend <= budget * (1 + COST_TOLERANCE)
    assert sel.spend == pytest.approx(spend) and sel.cost_budget == budget
    assert sel.columns["cost_column"] == "cost"
    if spec.cost_rule != "knapsack":
        # the last walk is over an order that holds as many rows as could fit: what is left
        # is less than the dearest row (each skip, or the end of the walk, leaves less)
        assert budget - spend < costs.max()


@pytest.mark.parametrize("name", COSTED)
def test_equal_costs_give_the_count_budgets_picks(small_digits, name):
    spec = REGISTRY[name]
    data = with_costs(small_digits, np.full(small_digits.n, 3.0))
    kw = inputs_for(spec, data)
    count = explorer.select(data, name, 12, seed=4, **kw)
    costed = explorer.select(data, name, 36.0, seed=4, cost_column="cost", **kw)
    assert costed.indices.tolist() == count.indices.tolist()
    assert costed.spend == pytest.approx(3.0 * len(count))


@pytest.mark.parametrize("name", ["dedup", "semdedup"])
def test_strategies_that_set_their_own_size_refuse_a_cost_budget(small_digits, name):
    with pytest.raises(ExplorerError, match=rf"^{name} sets its own size.*after="):
        explorer.select(small_digits, name, 10.0, cost_column="cost")


def test_a_cost_budget_after_dedup_is_a_pipeline(pydocs_tokens):
    first = explorer.select(pydocs_tokens, "dedup", None, params={"threshold": 0.3})
    then = explorer.select(pydocs_tokens, "k-center", 2000.0, after=first, cost_column="tokens")
    assert set(then.indices) <= set(first.indices) and then.spend <= 2000.0


def _facility_value(X, rows):
    """Facility location in apricot's euclidean form, float64: sum_i max_j (M - D_ij)."""
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    if len(rows) == 0:
        return 0.0
    return float(np.maximum(D.max() - D[:, list(rows)], 0).max(axis=1).sum())


@settings(max_examples=25, deadline=None, derandomize=True)
@given(n=st.integers(3, 9), seed=st.integers(0, 2**16), share=st.floats(0.1, 0.9),
       spread=st.floats(0.0, 2.5))
def test_knapsack_greedy_is_within_its_guarantee_of_the_optimum(n, seed, share, spread):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    X64 = X.astype(np.float64)
    costs = np.exp(rng.normal(0.0, spread, n))
    budget = max(float(costs.min()), share * float(costs.sum()))
    data = explorer.Dataset.from_arrays(X, metadata=pd.DataFrame({"cost": costs}))
    sel = explorer.select(data, "facility-location", budget, cost_column="cost",
                          params={"kernel": "dense"})
    assert costs[sel.indices].sum() <= budget * (1 + COST_TOLERANCE)
    best = max(_facility_value(X64, subset) for r in range(1, n + 1)
               for subset in itertools.combinations(range(n), r)
               if costs[list(subset)].sum() <= budget)
    got = _facility_value(X64, sel.indices)
    assert got >= GUARANTEE * best - 1e-6 * best
    assert sel.info["objective"] == pytest.approx(got, rel=1e-4, abs=1e-4)


def test_best_single_row_replaces_a_cheap_greedy_that_misses_the_big_one():
    # ten rows at the origin (each dear) and one far cheap row: per unit cost the cheap row
    # wins, and then no dear row fits; the dear row alone covers ten times as much
    X = np.zeros((11, 2), dtype=np.float32)
    X[10] = [10.0, 0.0]
    costs = np.r_[np.full(10, 10.0), 0.5]
    data = explorer.Dataset.from_arrays(X, metadata=pd.DataFrame({"cost": costs}))
    sel = explorer.select(data, "facility-location", 10.2, cost_column="cost",
                          params={"kernel": "dense"})
    assert sel.indices.tolist() == [0]
    for optimizer in ("naive", "stochastic"):
        other = explorer.select(data, "facility-location", 10.2, cost_column="cost",
                                params={"kernel": "dense", "optimizer": optimizer})
        assert other.indices.tolist() == [0]


def test_knapsack_lazy_and_naive_agree(digits_ink):
    kw = dict(cost_column="ink", params={"kernel": "dense"})
    lazy = explorer.select(digits_ink, "facility-location", 800.0, **kw)
    naive = explorer.select(digits_ink, "facility-location", 800.0,
                            **{**kw, "params": {"kernel": "dense", "optimizer": "naive"}})
    assert lazy.indices.tolist() == naive.indices.tolist()
    assert lazy.spend <= 800.0


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), share=st.floats(0.01, 0.5))
def test_random_draws_at_a_cost_spend_it_to_within_one_row(seed, share):
    costs = np.exp(np.random.default_rng(seed).normal(0, 1, 200))
    budget = share * float(costs.sum())
    draws = random_subsets_at_cost(costs, budget, 10, seed, pinned=[0], excluded=[1, 2])
    for d in draws:
        spend = costs[d].sum()
        assert d[0] == 0 and not {1, 2} & set(d.tolist()) and len(set(d.tolist())) == len(d)
        assert budget - costs.max() < spend <= budget * (1 + COST_TOLERANCE)


def test_random_strategy_is_the_envelopes_draw(pydocs_tokens):
    costs = pydocs_tokens.metadata["tokens"].to_numpy()
    sel = explorer.select(pydocs_tokens, "random", 3000.0, seed=5, cost_column="tokens")
    order = np.random.default_rng(5).permutation(pydocs_tokens.n)
    assert sel.indices.tolist() == keep_what_fits(order, costs, 3000.0).tolist()


def test_scorecard_envelope_is_drawn_at_the_same_total_cost(pydocs_tokens):
    costs = pydocs_tokens.metadata["tokens"].to_numpy()
    budget = 4000.0
    sel = explorer.select(pydocs_tokens, "k-center", budget, seed=0, cost_column="tokens")
    card = explorer.score(pydocs_tokens, sel, random_draws=20)
    c = card.cost
    assert c["column"] == "tokens" and c["budget"] == budget
    assert c["spend"] == pytest.approx(costs[sel.indices].sum()) and card.budget == len(sel)
    # the draws spend the budget to within the last row's granularity, as the selection does
    assert budget - costs.max() < c["random_spend_mean"] <= budget
    assert budget - costs.max() < c["spend"] <= budget
    # and their count follows the cost: about budget / mean cost rows
    assert c["random_count_mean"] == pytest.approx(budget / costs.mean(), rel=0.2)
    text = card.describe_cost()
    assert f"{len(sel)} rows spending" in text and "tokens" in text
    assert card.to_dict()["cost"]["random_count_mean"] == pytest.approx(c["random_count_mean"])
    # row indices with a cost column and no budget: the budget is their own cost
    same = explorer.score(pydocs_tokens, sel.indices, random_draws=20, cost_column="tokens")
    assert same.cost["budget"] == pytest.approx(c["spend"])


@pytest.mark.parametrize("value, shown", [(0.0, "0"), (-3.0, "-3"), (np.nan, "nan"),
                                          (np.inf, "inf")])
def test_bad_costs_are_refused_in_one_line_naming_the_column_and_row(small_digits, value,
                                                                      shown):
    costs = np.ones(small_digits.n)
    costs[7] = value
    costs[9] = value
    data = with_costs(small_digits, costs, name="secs")
    with pytest.raises(ExplorerError) as err:
        explorer.select(data, "k-center", 10.0, cost_column="secs")
    text = str(err.value)
    assert "\n" not in text and "'secs'" in text and "row 7" in text and f"holds {shown}" in text


def test_cost_budget_errors_name_the_problem(small_digits):
    text_costs = small_digits.metadata.assign(secs="x")
    data = explorer.Dataset.from_arrays(np.asarray(small_digits.embeddings),
                                        metadata=text_costs)
    with pytest.raises(ExplorerError, match="Cost column 'secs' must be numeric"):
        explorer.select(data, "random", 5.0, cost_column="secs")
    with pytest.raises(ExplorerError, match="No row fits in a budget of 0.5 \\(cost\\)"):
        explorer.select(small_digits, "random", 0.5, cost_column="cost")
    with pytest.raises(ExplorerError, match="The 3 pinned rows cost 3"):
        explorer.select(small_digits, "random", 2.0, cost_column="cost", pinned=[0, 1, 2])
    with pytest.raises(ExplorerError, match="'budget' parameter of k-center must be a number > 0"):
        explorer.select(small_digits, "k-center", -1, cost_column="cost")
    with pytest.raises(ExplorerError, match="Column 'nope'"):
        explorer.select(small_digits, "k-center", 5.0, cost_column="nope")


def test_pinned_rows_count_towards_the_cost(digits_ink):
    ink = digits_ink.metadata["ink"].to_numpy()
    sel = explorer.select(digits_ink, "k-means", 600.0, cost_column="ink", pinned=[5, 6],
                          excluded=[7])
    assert sel.indices[:2].tolist() == [5, 6] and 7 not in sel.indices
    assert ink[sel.indices].sum() <= 600.0


def test_manifest_records_the_cost_and_replays(tmp_path, pydocs_tokens):
    sel = explorer.select(pydocs_tokens, "facility-location", 2500.0, seed=3,
                          cost_column="tokens")
    card = explorer.score(pydocs_tokens, sel, random_draws=5)
    path = tmp_path / "m.json"
    explorer.write_manifest(path, pydocs_tokens, sel, card)
    doc = json.loads(path.read_text())
    assert doc["columns"]["cost_column"] == "tokens"
    assert doc["cost"] == {"budget": 2500.0, "spend": pytest.approx(sel.spend)}
    assert doc["budget"] == len(sel) and "tokens" in doc["dataset"]["metadata_columns"]
    assert doc["scorecard"]["cost"]["column"] == "tokens"
    _, again = explorer.replay(path, data=pydocs_tokens)
    assert again.indices.tolist() == sel.indices.tolist() and again.spend == sel.spend


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory, pydocs):
    """The pydocs sample as a parquet file with a ``tokens`` column (words per paragraph)."""
    from explorer.data.samples import SAMPLES

    frame = pd.read_parquet(SAMPLES["pydocs"])
    frame["tokens"] = frame["text"].str.split().str.len()
    path = tmp_path_factory.mktemp("cost") / "pydocs_tokens.parquet"
    frame.to_parquet(path)
    return path


def _cli(capsys, *argv):
    from explorer.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_cost_column_selects_scores_and_replays(capsys, tmp_path, tokens_file):
    tokens = pd.read_parquet(tokens_file)["tokens"].to_numpy()
    out, manifest = tmp_path / "sel.csv", tmp_path / "m.json"
    code, _, err = _cli(capsys, "select", tokens_file, "--id-column", "id", "--strategy",
                        "k-center", "--cost-column", "tokens", "--budget", 3000, "--out", out,
                        "--manifest", manifest)
    assert code == 0 and "spending" in err and "of 3,000 tokens" in err
    picked = pd.read_csv(out)["index"].to_numpy()
    assert tokens[picked].sum() <= 3000
    doc = json.loads(manifest.read_text())
    assert doc["cost"]["budget"] == 3000 and doc["columns"]["cost_column"] == "tokens"
    code, text, _ = _cli(capsys, "score", tokens_file, "--id-column", "id", "--selection",
                         manifest, "--random-draws", 5)
    assert code == 0 and "random subsets of the same total tokens" in text
    assert f"{len(picked)} rows spending" in text and "of 3,000 tokens" in text
    code, _, err = _cli(capsys, "select", "--replay", manifest, "--out", tmp_path / "r.csv")
    assert code == 0 and "identical ids" in err
    code, _, err = _cli(capsys, "select", tokens_file, "--id-column", "id", "--strategy",
                        "dedup", "--cost-column", "tokens", "--budget", 3000, "--out",
                        tmp_path / "d.csv")
    assert code == 2 and err.count("\n") == 1 and "dedup sets its own size" in err
    code, _, err = _cli(capsys, "select", tokens_file, "--id-column", "id", "--strategy",
                        "dedup", "--then", "k-means", "--cost-column", "tokens", "--budget",
                        2000, "--out", tmp_path / "p.csv")
    assert code == 0 and tokens[pd.read_csv(tmp_path / "p.csv")["index"]].sum() <= 2000


def test_cli_compare_at_a_cost(capsys, tmp_path, tokens_file):
    out = tmp_path / "t.csv"
    code, _, _ = _cli(capsys, "compare", tokens_file, "--id-column", "id", "--strategies",
                      "k-means,random", "--budgets", "1500,4000", "--cost-column", "tokens",
                      "--random-draws", 8, "--out", out)
    assert code == 0
    table = pd.read_csv(out)
    assert sorted(table["budget"].unique()) == [1500, 4000]
    assert (table["spend"] <= table["budget"]).all()
    assert (table["random_spend"] <= table["budget"]).all()
    # random's own run and its envelope agree on the count a budget buys
    rand = table[table["strategy"] == "random"].groupby("budget").first()
    assert np.allclose(rand["size"], rand["random_size"], rtol=0.25)


def app_at_a_total_cost(total: float):
    """The app on digits with the sidebar's budget a total of ``total`` difficulty (the
    sample's one numeric column), set as its widgets remember them."""
    from app_pages import opened

    at = opened()
    assert "total cost" in at.radio(key="w:budget_mode").options
    digits = explorer.load_sample("digits")
    at.session_state["budget_mode"] = "total cost"
    at.session_state["cost_column"] = "difficulty"
    at.session_state["budget_cost"] = total
    at.session_state["cost_for"] = (digits.fingerprint, "difficulty")
    at.run()
    return at, digits


def test_app_budget_as_a_total_cost():
    """The sidebar's 'total cost' budget: a numeric cost column (digits' difficulty here, the
    one numeric column of the sample) and a total; the selection spends at most that and the
    scorecard says random was drawn at the same total cost, with the spend and the count."""
    from app_pages import texts

    at, digits = app_at_a_total_cost(12.5)
    assert not at.exception and not at.error, [e.value for e in at.error]
    sel = at.session_state["selection"]
    difficulty = digits.metadata["difficulty"].to_numpy()
    assert sel.cost_budget == 12.5 and difficulty[sel.indices].sum() <= 12.5
    assert "spending" in texts(at.success) and "of 12.5 difficulty" in texts(at.success)
    shown = texts(at.markdown)
    assert "random subsets of the same total difficulty" in shown and "**Spend:**" in shown
    at.selectbox(key="w:strategy").set_value("dedup").run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_compare_sweep_at_a_cost(digits_ink):
    from explorer.evaluate.compare import sweep

    ink = digits_ink.metadata["ink"].to_numpy()
    table, selections = sweep(digits_ink, ["k-center", "random"], [400.0, 900.0],
                              random_draws=5, cost_column="ink")
    assert set(table["budget"]) == {400.0, 900.0}
    for (name, b), idx in selections.items():
        assert ink[idx].sum() <= b and b - ink[idx].sum() < ink.max()


def test_app_compare_page_at_total_costs():
    """With the sidebar's budget a total cost, the Compare page's budgets are total costs:
    each strategy spends at most each one, the curves' axis says so, the rows bought are
    listed beside random's mean count at the same total, and strategies that set their own
    size are not offered."""
    from app_pages import texts

    at, digits = app_at_a_total_cost(12.5)
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "dedup" not in at.multiselect(key="w:cmp_strategies").options
    at.multiselect(key="w:cmp_strategies").set_value(["k-center", "k-means"]).run()
    budgets = f"w:cmp_cost_budgets:{digits.fingerprint}:difficulty"
    at.text_input(key=budgets).set_value("0").run()
    assert "Budgets must be total costs above 0" in texts(at.error)
    at.text_input(key=budgets).set_value("6, 15").run()
    at.number_input(key="w:cmp_draws").set_value(5).run()
    at.button(key="cmp_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Rows bought" in texts(at.markdown)
    bought = at.dataframe[0].value
    assert list(bought.index) == [6.0, 15.0] and "random (mean rows)" in bought.columns
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert curves["layout"]["xaxis"]["title"]["text"] == "budget (total difficulty)"
    for budget, row in bought.iterrows():  # cells read "rows (spend)"
        for name in ("k-center", "k-means"):
            rows, spend = row[name].replace(",", "").rstrip(")").split(" (")
            assert int(rows) > 0 and 0 < float(spend) <= budget


def test_compare_page_budgets_refuse_what_is_not_a_budget():
    """The Compare page's typed budgets: counts are whole numbers in 1..N, total costs are
    above 0 and at most the data's total; 'inf' and 'nan' are refused by the same message
    (int(inf) raised an OverflowError the page did not catch)."""
    from explorer.ui.compare_view import parse_budgets

    for text in ("inf", "nan", "1.5", "0", "101", "a", ""):
        assert parse_budgets(text, 100).startswith("Budgets must be whole numbers")
    assert parse_budgets("60, 20, 20", 100) == [20, 60]
    costs = np.ones(10)
    for text in ("inf", "nan", "0", "10.5", "-1"):
        assert parse_budgets(text, 10, costs).startswith("Budgets must be total costs")
    assert parse_budgets("2.5, 1", 10, costs) == [1.0, 2.5]
