"""Entry point: churn risk, status and reasons per merchant × customer as of a date.

Why a time split: a churn model is used to predict the next `horizon` days from today's history, so it is
judged the same way. The validation cutoff is V = as_of − horizon; the labels of V (purchase or not in
(V, as_of]) are known by as_of. For validation the classifier is trained only on cutoffs whose label
windows end on or before V, with features from data on or before each cutoff, so nothing after V reaches
the predictions made at V. Three options are compared on validation AUC:

- 'bgnbd': the BG/NBD churn risk (models/churn/baseline.py);
- 'classifier': gradient boosting on behaviour features plus the BG/NBD outputs (models/churn/classifier.py);
- 'blend': the mean of the two probabilities.

Ties go to the simpler option, in the order bgnbd < classifier < blend (the blend needs both models): a more
complex option replaces the current choice only when its AUC is higher by more than AUC_MARGIN. The chosen
option is then refitted on cutoffs whose labels end by as_of and scores every customer at as_of.
Merchants with fewer than `min_customers` customers with purchases by V, or too few churners or stayers in
validation, get the BG/NBD baseline with a note: a classifier and its comparison would be noise there.
Customers who never bought are always scored by BG/NBD (the classifier only knows buyers); their row says so.
"""

import datetime as dt
from typing import NamedTuple

import numpy as np
import pandas as pd

from models.churn.baseline import bgnbd_scores, fit_bgnbd, rfm_at
from models.churn.classifier import fit_classifier, predict_churn, training_cutoffs
from models.churn.evaluation import evaluation_rows, metrics
from models.churn.features import EPOCH, MerchantHistory, features_at, labels_at, prepare_history, to_day
from models.churn.rules import assign_status, churn_reasons
from models.churn.settings import ChurnSettings

AUC_MARGIN = 0.005
SIMPLICITY_ORDER = ("bgnbd", "classifier", "blend")
SCORE_COLUMNS = [
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
VALIDATION_COLUMNS = [
    "merchant_id",
    "merchant_code",
    "customer_code",
    "split_cutoff",
    "horizon_days",
    "bgnbd",
    "classifier",
    "blend",
    "chosen",
    "chosen_model",
    "observed",
]


class ChurnResult(NamedTuple):
    scores: pd.DataFrame
    evaluation: pd.DataFrame
    validation: pd.DataFrame


class _Cutoff(NamedTuple):
    features: pd.DataFrame  # features_at plus bgnbd_p_alive, bgnbd_risk
    bgnbd: pd.DataFrame  # p_alive, churn_risk, expected_purchases
    fitter: object
    note: str | None


class _MerchantResult(NamedTuple):
    scores: pd.DataFrame
    validation: pd.DataFrame
    chosen: str
    note: str | None


def _day_to_date(day: int) -> dt.date:
    return (EPOCH + pd.Timedelta(days=day)).date()


def _cutoff_frame(history: MerchantHistory, cutoff: int, horizon_days: int) -> _Cutoff:
    """Features and BG/NBD outputs at one cutoff, the BG/NBD fitted on data on or before it."""
    feats = features_at(history, cutoff)
    rfm = rfm_at(history, cutoff)
    fitter, note = fit_bgnbd(rfm)
    bg = bgnbd_scores(fitter, rfm, horizon_days)
    feats = feats.assign(bgnbd_p_alive=bg["p_alive"], bgnbd_risk=bg["churn_risk"])
    return _Cutoff(feats, bg, fitter, note)


def _train_and_predict(
    frames: dict[int, _Cutoff], history: MerchantHistory, label_end: int, target: pd.DataFrame, settings: ChurnSettings
) -> np.ndarray | None:
    """Classifier churn probabilities for `target`, trained on cutoffs whose label windows end by label_end."""
    parts, labels = [], []
    for cutoff in training_cutoffs(label_end, settings):
        if cutoff not in frames:
            frames[cutoff] = _cutoff_frame(history, cutoff, settings.horizon_days)
        feats = frames[cutoff].features
        if feats.empty:
            continue
        parts.append(feats)
        labels.append(labels_at(history, cutoff, settings.horizon_days).reindex(feats.index).to_numpy())
    if not parts:
        return None
    model = fit_classifier(pd.concat(parts), np.concatenate(labels), settings.seed)
    return None if model is None else predict_churn(model, target)


def _gate_note(observed: np.ndarray, settings: ChurnSettings) -> str | None:
    """Why the merchant gets the baseline only, or None when the classifier may compete."""
    buyers, churners = len(observed), int(observed.sum())
    if buyers < settings.min_customers:
        return f"baseline only: {buyers} customers with purchases by the validation cutoff (< {settings.min_customers})"
    if min(churners, buyers - churners) < settings.min_validation_class:
        return (
            f"baseline only: {churners} churners and {buyers - churners} stayers in validation "
            f"(each needs ≥ {settings.min_validation_class})"
        )
    return None


def choose_model(aucs: dict[str, float]) -> str:
    """Best validation AUC; a more complex option must beat the current choice by more than AUC_MARGIN."""
    chosen = SIMPLICITY_ORDER[0]
    for option in SIMPLICITY_ORDER[1:]:
        if np.isfinite(aucs.get(option, np.nan)) and aucs[option] > aucs[chosen] + AUC_MARGIN:
            chosen = option
    return chosen


class _Validation(NamedTuple):
    frame: _Cutoff
    observed: np.ndarray
    predictions: dict[str, np.ndarray]  # bgnbd, classifier, blend (NaN where the classifier did not run)
    chosen: str
    notes: list[str]


def _validate(history: MerchantHistory, frames: dict[int, _Cutoff], split: int, settings: ChurnSettings) -> _Validation:
    """Predict at the split from data on or before it, compare the options on the observed labels, choose."""
    val = frames[split]
    observed = labels_at(history, split, settings.horizon_days).reindex(val.features.index).to_numpy()
    notes = [val.note] if val.note else []
    bgnbd = val.bgnbd["churn_risk"].to_numpy()
    gate = _gate_note(observed, settings)
    classifier = None if gate else _train_and_predict(frames, history, split, val.features, settings)
    if gate is None and classifier is None:
        gate = "baseline only: the training windows hold a single class"
    if gate:
        nan = np.full(len(observed), np.nan)
        return _Validation(val, observed, {"bgnbd": bgnbd, "classifier": nan, "blend": nan}, "bgnbd", [*notes, gate])
    predictions = {"bgnbd": bgnbd, "classifier": classifier, "blend": (bgnbd + classifier) / 2}
    chosen = choose_model({name: metrics(observed, p)["auc"] for name, p in predictions.items()})
    return _Validation(val, observed, predictions, chosen, notes)


def _score_merchant(
    history: MerchantHistory, customers: pd.DataFrame, as_of: int, settings: ChurnSettings
) -> _MerchantResult:
    h = settings.horizon_days
    split = as_of - h
    frames = {split: _cutoff_frame(history, split, h)}
    validated = _validate(history, frames, split, settings)
    chosen, notes = validated.chosen, list(validated.notes)

    # Refit the chosen option on every window whose labels are known by as_of, and score at as_of.
    final = _cutoff_frame(history, as_of, h)
    if final.note and final.note not in notes:
        notes.append(final.note)
    risk = final.bgnbd["churn_risk"].to_numpy()
    if chosen != "bgnbd":
        classifier_now = _train_and_predict(frames, history, as_of, final.features, settings)
        if classifier_now is None:
            notes.append(f"{chosen} chosen but its refit at as_of had a single class; BG/NBD used")
            chosen = "bgnbd"
        else:
            risk = classifier_now if chosen == "classifier" else (risk + classifier_now) / 2

    validation = pd.DataFrame(
        {
            "customer_code": validated.frame.features.index,
            "split_cutoff": _day_to_date(split),
            "horizon_days": h,
            **validated.predictions,
            "chosen": validated.predictions[chosen],
            "chosen_model": chosen,
            "observed": validated.observed,
        }
    )
    scores = _customer_scores(
        history, customers, final, pd.Series(risk, index=final.features.index), chosen, as_of, settings
    )
    return _MerchantResult(scores, validation, chosen, "; ".join(notes) or None)


def _customer_scores(
    history: MerchantHistory,
    customers: pd.DataFrame,
    final: _Cutoff,
    risk: pd.Series,
    chosen: str,
    as_of: int,
    settings: ChurnSettings,
) -> pd.DataFrame:
    """One row per `customers` row: buyers from the chosen model, never-bought customers from BG/NBD."""
    codes = pd.Index(customers["customer_code"].astype(str))
    bought = codes.isin(final.features.index)
    joined = history.joined.reindex(codes).to_numpy()
    tenure = np.clip(as_of - np.nan_to_num(joined, nan=as_of), 0, None)
    never = pd.DataFrame({"frequency": 0.0, "recency": 0.0, "T": tenure}, index=codes)[~bought]
    never_bg = bgnbd_scores(final.fitter, never, settings.horizon_days)

    feats = final.features.reindex(codes)
    churn_risk = np.where(bought, risk.reindex(codes).to_numpy(), never_bg["churn_risk"].reindex(codes).to_numpy())
    bg = final.bgnbd.reindex(codes).combine_first(never_bg.reindex(codes))
    days_since = feats["recency_days"].to_numpy(dtype="float64")
    reasons = churn_reasons(feats)
    return pd.DataFrame(
        {
            "merchant_id": customers["merchant_id"].to_numpy(),
            "merchant_code": customers["merchant_code"].to_numpy(),
            "customer_code": codes,
            "as_of": _day_to_date(as_of),
            "horizon_days": settings.horizon_days,
            "churn_risk": churn_risk,
            "expected_purchases": bg["expected_purchases"].to_numpy(),
            "status": assign_status(days_since, tenure, churn_risk, settings),
            "reasons": reasons,
            "model": np.where(bought, chosen, "bgnbd"),
            "p_alive": bg["p_alive"].to_numpy(),
            "days_since_last_purchase": days_since,
        }
    )[SCORE_COLUMNS]


def score_churn(
    purchases: pd.DataFrame,
    purchase_categories: pd.DataFrame,
    returns: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: dt.date,
    settings: ChurnSettings = ChurnSettings(),  # noqa: B008 - frozen, so a shared default is safe
) -> ChurnResult:
    """Churn scores per `customers` row as of `as_of`, the validation evaluation, and the validation predictions.

    Data after as_of is ignored. Each merchant (by merchant_code) is modelled on its own history only.

    - scores (SCORE_COLUMNS): churn_risk from the merchant's chosen model (`model`; customers who never bought
      are always 'bgnbd'), expected_purchases and p_alive from BG/NBD, days_since_last_purchase NaN when never
      bought, status and reasons as in models/churn/rules.py.
    - evaluation (evaluation.EVALUATION_COLUMNS): truth 'observed', per merchant × model and network-wide.
      `chosen` is true on the 'chosen' row and on the row of the model it stands for; `note` says why a
      merchant got the baseline only, or that its BG/NBD fit needed a fallback.
    - validation (VALIDATION_COLUMNS): the predictions at split_cutoff of each model (NaN where a model did not
      run), the chosen one, and the observed label; `evaluate_against_truth` scores them against the simulator.
    """
    end = pd.Timestamp(as_of)
    as_of_day = to_day(end)
    # "On or before as_of" by day, also when a caller passes timestamps with a time of day.
    next_day = end + pd.Timedelta(days=1)
    purchases = purchases[purchases["ordered_date"] < next_day]
    returns = returns[returns["returned_date"] < next_day] if len(returns) else returns
    by_merchant = {
        "purchases": dict(tuple(purchases.groupby("merchant_code", sort=False))),
        "categories": dict(tuple(purchase_categories.groupby("merchant_code", sort=False))),
        "returns": dict(tuple(returns.groupby("merchant_code", sort=False))),
    }
    scores, validations, merchants = [], [], []
    for merchant_code, merchant_customers in customers.groupby("merchant_code", sort=True):
        history = prepare_history(
            by_merchant["purchases"].get(merchant_code, purchases.iloc[:0]),
            by_merchant["categories"].get(merchant_code, purchase_categories.iloc[:0]),
            by_merchant["returns"].get(merchant_code, returns.iloc[:0]),
            merchant_customers,
        )
        result = _score_merchant(history, merchant_customers, as_of_day, settings)
        merchant_id = merchant_customers["merchant_id"].iloc[0]
        validation = result.validation.assign(merchant_id=merchant_id, merchant_code=merchant_code)
        scores.append(result.scores)
        validations.append(validation[VALIDATION_COLUMNS])
        merchants.append((merchant_id, merchant_code, result.chosen, result.note))
    validation = pd.concat(validations, ignore_index=True) if validations else pd.DataFrame(columns=VALIDATION_COLUMNS)
    scores_frame = pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(columns=SCORE_COLUMNS)
    merchant_frame = pd.DataFrame(merchants, columns=["merchant_id", "merchant_code", "chosen_model", "note"])
    split = (end - pd.Timedelta(days=settings.horizon_days)).date()
    evaluation = evaluation_rows(validation, "observed", "observed", merchant_frame, split, settings.horizon_days)
    return ChurnResult(scores_frame, evaluation, validation)
