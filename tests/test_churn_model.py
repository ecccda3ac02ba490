"""Churn warnings (models/churn): model quality on synthetic churners, the time split, rules and the BG/NBD formula."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.churn import ChurnSettings, evaluate_against_truth, score_churn, simulator_truth_labels
from models.churn.baseline import bgnbd_scores, fixed_fitter
from models.churn.classifier import training_cutoffs
from models.churn.features import to_day
from models.churn.rules import assign_status, churn_reasons
from models.churn.scoring import choose_model

START = pd.Timestamp("2024-01-01")
DAYS = 730
AS_OF = (START + pd.Timedelta(days=DAYS - 1)).date()
SPLIT = pd.Timestamp(AS_OF) - pd.Timedelta(days=90)
EMPTY_RETURNS = pd.DataFrame(
    {"merchant_code": [], "customer_code": [], "returned_date": pd.to_datetime([]), "amount": []}
)


def synthetic_merchant(
    seed: int, customers: int, merchant_id: int = 1, churn_share: float = 0.5, fade_days: int = 60
) -> dict:
    """Customers buy as Poisson processes; churners' rate fades linearly to zero over 60 days up to their churn day.

    Churn days fall between day 150 and 180 days past the end, so some customers are churning at as_of.
    """
    rng = np.random.default_rng(seed)
    code = f"M{merchant_id}"
    joined = rng.integers(0, 300, customers)
    rate = rng.gamma(3.0, 1 / 60, customers)
    churner = rng.random(customers) < churn_share
    churn_day = np.where(churner, rng.integers(150, DAYS + 180, customers), np.iinfo(np.int64).max // 2)
    day = np.arange(DAYS)
    fade = np.clip((churn_day[:, None] - day[None, :]) / fade_days, 0.0, 1.0)
    counts = rng.poisson(rate[:, None] * fade * (day[None, :] >= joined[:, None]))
    who, when = np.nonzero(counts)
    who, when = np.repeat(who, counts[who, when]), np.repeat(when, counts[who, when])
    codes = np.array([f"C{i:05d}" for i in range(customers)])
    order_ids = merchant_id * 10_000_000 + np.arange(len(who))
    purchases = pd.DataFrame(
        {
            "merchant_id": np.int64(merchant_id),
            "merchant_code": code,
            "customer_code": codes[who],
            "order_id": order_ids.astype("int64"),
            "ordered_date": START + pd.to_timedelta(when, unit="D"),
            "amount": rng.gamma(2.0, 40.0, len(who)).round(2),
            "discounted": rng.random(len(who)) < 0.2,
        }
    )
    per_order = rng.integers(1, 4, len(who))
    categories = pd.DataFrame(
        {
            "merchant_code": code,
            "customer_code": np.repeat(codes[who], per_order),
            "order_id": np.repeat(order_ids, per_order),
            "category_code": rng.integers(0, 8, per_order.sum()).astype(str),
        }
    ).drop_duplicates()
    returned = rng.random(len(who)) < 0.03
    returns = pd.DataFrame(
        {
            "merchant_code": code,
            "customer_code": codes[who][returned],
            "returned_date": START + pd.to_timedelta(when[returned] + 3, unit="D"),
            "amount": purchases["amount"].to_numpy()[returned],
        }
    )
    customers_frame = pd.DataFrame(
        {
            "merchant_id": np.int64(merchant_id),
            "merchant_code": code,
            "customer_code": codes,
            "joined_date": START + pd.to_timedelta(joined, unit="D"),
        }
    )
    lifecycle = pd.DataFrame(
        {
            "merchant_code": code,
            "customer_code": codes,
            "churned_on": pd.Series(START + pd.to_timedelta(np.where(churner, churn_day, 0), unit="D")).where(churner),
        }
    )
    return {
        "purchases": purchases,
        "purchase_categories": categories,
        "returns": returns,
        "customers": customers_frame,
        "lifecycle": lifecycle,
    }


def run(data: dict, settings: ChurnSettings = ChurnSettings()):  # noqa: B008
    return score_churn(
        data["purchases"], data["purchase_categories"], data["returns"], data["customers"], AS_OF, settings
    )


@pytest.fixture(scope="module")
def large():
    data = synthetic_merchant(seed=1, customers=4800)
    return data, run(data)


def test_chosen_model_ranks_churners_above_loyal_customers(large):
    data, result = large
    evaluation = result.evaluation.set_index(["merchant_code", "model"])
    chosen = evaluation.loc[("M1", "chosen")]
    print(evaluation[["auc", "precision_top_decile", "brier", "chosen"]])
    assert chosen["auc"] > 0.75
    assert chosen["customers"] >= 1000

    truth = simulator_truth_labels(data["lifecycle"], SPLIT, 90)
    simulator = evaluate_against_truth(result.validation, truth).set_index(["merchant_code", "model"])
    print(simulator[["auc", "precision_top_decile", "customers"]])
    assert (simulator["truth"] == "simulator").all()
    assert simulator.loc[("M1", "chosen"), "auc"] > 0.75

    # At as_of: customers who have churned by then must rank above those who never churn.
    scores = result.scores.merge(data["lifecycle"], on=["merchant_code", "customer_code"])
    buyers = scores[scores["days_since_last_purchase"].notna()]
    churned = buyers["churned_on"].notna() & (buyers["churned_on"] <= pd.Timestamp(AS_OF))
    loyal = buyers["churned_on"].isna()
    assert roc_auc_score(churned[churned | loyal], buyers["churn_risk"][churned | loyal]) > 0.75
    assert buyers.loc[churned, "churn_risk"].median() > buyers.loc[loyal, "churn_risk"].median() + 0.2


def test_slow_fading_churners_make_the_classifier_worth_its_refit():
    # Rates fading over a year break BG/NBD's sudden-dropout assumption; the trend features catch it.
    data = synthetic_merchant(seed=1, customers=1500, fade_days=365)
    result = run(data)
    evaluation = result.evaluation[result.evaluation["merchant_code"] == "M1"].set_index("model")
    chosen_model = result.validation["chosen_model"].iloc[0]
    print(evaluation[["auc", "chosen"]])
    assert chosen_model in {"classifier", "blend"}
    assert evaluation.loc[chosen_model, "auc"] > evaluation.loc["bgnbd", "auc"] + 0.005
    assert evaluation.loc[chosen_model, "chosen"] and not evaluation.loc["bgnbd", "chosen"]
    buyers = result.scores[result.scores["days_since_last_purchase"].notna()]
    assert (buyers["model"] == chosen_model).all()
    truth = data["lifecycle"].set_index("customer_code")["churned_on"].reindex(buyers["customer_code"])
    churned = (truth.notna() & (truth <= pd.Timestamp(AS_OF) + pd.Timedelta(days=90))).to_numpy()
    assert roc_auc_score(churned, buyers["churn_risk"]) > 0.8


def test_outputs_have_one_row_per_customer_and_documented_columns(large):
    data, result = large
    scores = result.scores
    assert len(scores) == len(data["customers"])
    assert list(scores.columns) == [
        "merchant_id",
        "merchant_code",
        "customer_code",
        "as_of",
        "horizon_days",
        "churn_risk",
        "expected_purchases",
        "status",
        "reasons",
        "model",
        "p_alive",
        "days_since_last_purchase",
    ]
    assert scores["churn_risk"].between(0, 1).all()
    assert (scores["expected_purchases"] >= 0).all()
    assert set(scores["status"]) <= {"active", "at_risk", "sleeping", "lost"}
    assert (scores["as_of"] == AS_OF).all()
    network = result.evaluation[result.evaluation["merchant_code"].isna()]
    assert sorted(network["model"]) == ["bgnbd", "blend", "chosen", "classifier"]
    assert (result.evaluation["split_cutoff"] == SPLIT.date()).all()


def test_validation_never_sees_label_days_after_the_split():
    settings = ChurnSettings()
    split_day = to_day(SPLIT)
    assert all(c + settings.horizon_days <= split_day for c in training_cutoffs(split_day, settings))

    data = synthetic_merchant(seed=2, customers=600, merchant_id=2)
    baseline = run(data)
    # Rewrite history after the split: the purchases there go to other customers, returns appear.
    # Observed labels change, but predictions made at the split must not move at all.
    rng = np.random.default_rng(7)
    purchases = data["purchases"].copy()
    after = purchases["ordered_date"] > SPLIT
    purchases.loc[after, "customer_code"] = rng.choice(data["customers"]["customer_code"].to_numpy(), after.sum())
    purchases.loc[after, "amount"] *= 5
    late_returns = data["returns"].assign(returned_date=SPLIT + pd.Timedelta(days=10))
    rewritten = run({**data, "purchases": purchases, "returns": pd.concat([data["returns"], late_returns])})

    before, after_rewrite = baseline.validation, rewritten.validation
    assert baseline.evaluation.set_index(["merchant_code", "model"]).loc[("M2", "classifier"), "note"] is None
    assert not np.array_equal(before["observed"], after_rewrite["observed"])
    for model in ("bgnbd", "classifier", "blend"):
        np.testing.assert_array_equal(before[model].to_numpy(), after_rewrite[model].to_numpy())


def test_scores_are_reproducible_for_a_fixed_seed():
    data = synthetic_merchant(seed=3, customers=400)
    first, second = run(data), run(data)
    pd.testing.assert_frame_equal(first.scores, second.scores)
    pd.testing.assert_frame_equal(first.evaluation, second.evaluation)
    assert first.scores["churn_risk"].nunique() > 100


def test_small_merchant_gets_the_baseline_with_a_note():
    big, small = synthetic_merchant(seed=4, customers=500), synthetic_merchant(seed=5, customers=30, merchant_id=2)
    data = {key: pd.concat([big[key], small[key]], ignore_index=True) for key in big}
    result = run(data)
    small_scores = result.scores[result.scores["merchant_code"] == "M2"]
    assert len(small_scores) == 30
    assert (small_scores["model"] == "bgnbd").all()
    evaluation = result.evaluation.set_index(["merchant_code", "model"])
    assert "baseline only" in evaluation.loc[("M2", "chosen"), "note"]
    assert "< 60" in evaluation.loc[("M2", "chosen"), "note"]
    assert np.isnan(evaluation.loc[("M2", "classifier"), "auc"])
    assert evaluation.loc[("M2", "bgnbd"), "chosen"]
    assert evaluation.loc[("M1", "chosen"), "note"] is None


def test_amount_only_history_and_a_merchant_without_history_are_scored():
    history = synthetic_merchant(seed=8, customers=300)
    newcomer = synthetic_merchant(seed=9, customers=40, merchant_id=3)
    purchases = history["purchases"].drop(columns=["discounted"])  # imported: customer, date, amount only
    customers = pd.concat([history["customers"], newcomer["customers"]], ignore_index=True)
    result = score_churn(purchases, history["purchase_categories"].iloc[:0], EMPTY_RETURNS, customers, AS_OF)

    assert len(result.scores) == 340
    assert not result.scores["reasons"].map(lambda reasons: "fewer_categories" in reasons).any()
    assert result.scores.loc[result.scores["merchant_code"] == "M1", "days_since_last_purchase"].notna().any()
    newcomer_rows = result.evaluation[result.evaluation["merchant_code"] == "M3"]
    assert sorted(newcomer_rows["model"]) == ["bgnbd", "blend", "chosen", "classifier"]
    assert (newcomer_rows["customers"] == 0).all()
    assert newcomer_rows["note"].str.contains("no customer with a purchase").all()
    assert (result.evaluation["as_of"] == AS_OF).all()


def test_a_more_complex_model_must_win_by_a_margin():
    assert choose_model({"bgnbd": 0.80, "classifier": 0.803, "blend": 0.804}) == "bgnbd"
    assert choose_model({"bgnbd": 0.80, "classifier": 0.82, "blend": 0.823}) == "classifier"
    assert choose_model({"bgnbd": 0.80, "classifier": 0.82, "blend": 0.83}) == "blend"
    assert choose_model({"bgnbd": 0.80, "classifier": 0.79, "blend": 0.81}) == "blend"


def test_status_rules_on_hand_made_customers():
    settings = ChurnSettings()
    days_since = np.array([200.0, 180.0, 120.0, 90.0, 10.0, 10.0, np.nan, np.nan, np.nan])
    tenure = np.array([400.0, 400.0, 400.0, 400.0, 400.0, 400.0, 200.0, 100.0, 5.0])
    risk = np.array([0.1, 0.1, 0.1, 0.1, 0.6, 0.4, 0.1, 0.1, 0.5])
    status = assign_status(days_since, tenure, risk, settings)
    expected = ["lost", "lost", "sleeping", "sleeping", "at_risk", "active", "lost", "sleeping", "at_risk"]
    assert status.tolist() == expected


def test_reason_rules_on_hand_made_customers():
    features = pd.DataFrame(
        {
            "recency_days": [70.0, 5.0, 5.0, 25.0, 40.0],
            "gap_mean": [20.0, 10.0, 10.0, 10.0, np.nan],
            "orders_90": [0.0, 6.0, 7.0, 2.0, 1.0],
            "orders_prev90": [4.0, 10.0, 10.0, 2.0, 0.0],
            "amount_90": [0.0, 500.0, 100.0, 80.0, 50.0],
            "amount_prev90": [400.0, 600.0, 200.0, 100.0, 0.0],
            "categories_180": [2.0, 5.0, 5.0, 3.0, 1.0],
            "categories_prev180": [5.0, 5.0, 4.0, 3.0, 0.0],
        }
    )
    assert churn_reasons(features) == [
        ["long_silence", "falling_frequency", "falling_amount", "fewer_categories"],
        ["falling_frequency"],  # 6 < 7 orders; amount 500 ≥ 0.7 × 600
        ["falling_amount"],  # 7 orders is exactly 70 %: not falling
        [],  # 25 days > 2 × 10 but under 30 days: not a long silence yet
        [],  # one purchase day: no usual gap to compare with
    ]


def test_customer_who_never_bought_gets_a_row():
    data = synthetic_merchant(seed=6, customers=200)
    extra = pd.DataFrame(
        {
            "merchant_id": [np.int64(1)] * 2,
            "merchant_code": ["M1"] * 2,
            "customer_code": ["NEW-OLD", "NEW-RECENT"],
            "joined_date": [pd.Timestamp(AS_OF) - pd.Timedelta(days=300), pd.Timestamp(AS_OF) - pd.Timedelta(days=5)],
        }
    )
    result = run({**data, "customers": pd.concat([data["customers"], extra], ignore_index=True)})
    rows = result.scores.set_index("customer_code").loc[["NEW-OLD", "NEW-RECENT"]]
    assert rows["days_since_last_purchase"].isna().all()
    assert rows["status"].tolist()[0] == "lost"
    assert rows["status"].tolist()[1] in {"active", "at_risk"}
    assert (rows["model"] == "bgnbd").all()
    assert rows["reasons"].tolist() == [[], []]
    assert rows["churn_risk"].between(0, 1).all()


def test_bgnbd_churn_risk_matches_hand_computation():
    r, alpha, a, b = 0.25, 4.0, 0.8, 2.5
    x, t_x, big_t, h = 3.0, 20.0, 50.0, 90
    p_alive = 1.0 / (1.0 + a / (b + x - 1.0) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    expected_risk = 1.0 - p_alive + p_alive * ((alpha + big_t) / (alpha + big_t + h)) ** (r + x)
    rfm = pd.DataFrame({"frequency": [x, 0.0], "recency": [t_x, 0.0], "T": [big_t, 30.0]})
    scores = bgnbd_scores(fixed_fitter(r, alpha, a, b), rfm, h)
    assert scores["p_alive"].iloc[0] == pytest.approx(p_alive, rel=1e-9)
    assert scores["churn_risk"].iloc[0] == pytest.approx(expected_risk, rel=1e-9)
    # No repeat purchase: alive for sure under BG/NBD, so the risk is the Poisson-gamma silence alone.
    assert scores["p_alive"].iloc[1] == pytest.approx(1.0)
    assert scores["churn_risk"].iloc[1] == pytest.approx(((alpha + 30.0) / (alpha + 30.0 + h)) ** r, rel=1e-9)
    assert scores["expected_purchases"].gt(0).all()


def test_simulator_truth_labels_count_churn_up_to_the_horizon_end():
    lifecycle = pd.DataFrame(
        {
            "merchant_code": ["M1"] * 3,
            "customer_code": ["a", "b", "c"],
            "churned_on": pd.to_datetime(["2025-01-10", "2025-04-02", None]),
        }
    )
    labels = simulator_truth_labels(lifecycle, dt.date(2025, 1, 1), 90)
    assert labels["label"].tolist() == [1, 0, 0]
