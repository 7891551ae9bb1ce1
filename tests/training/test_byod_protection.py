"""Issue 14: protection by content, fraction-based splits and integer columns in a user's own table."""

import numpy as np
import pandas as pd
import pytest

from training.byod import load_spec, table_training_set
from training.config import load_config
from training.errors import ProtectedFeatureError, TrainingConfigError
from training.guard import check_feature_names, check_proxies
from training.snapshots import fraction_split, repeat_gap_days


def _people(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    race = rng.choice(["A", "B", "C"], size=n, p=[0.5, 0.3, 0.2])
    sex = rng.choice(["M", "F"], size=n)
    x = rng.normal(size=n)
    days = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    y = (rng.random(n) < 1 / (1 + np.exp(-(x - 0.5)))).astype(int)
    return pd.DataFrame({"pid": [f"P{i}" for i in range(n)], "day": days, "label": y, "calls": rng.poisson(2, n),
                         "priors": x, "is_flagged": rng.random(n) < 0.3, "race": race, "sex": sex,
                         "age": rng.integers(18, 80, n)})


def _spec(**kw):
    return {"id": "pid", "time": "day", "label": "label", "features": ["calls", "priors", "is_flagged"],
            "audit_groups": ["race"], "horizon_days": 730, "capacity": {"top_fraction": 0.1}, **kw}


@pytest.mark.parametrize("name", ["race_black", "is_female", "gender", "民族", "religion", "political_affiliation"])
def test_always_protected_names_are_refused(name):
    with pytest.raises(ProtectedFeatureError, match=name):
        check_feature_names(["calls", name])


def test_a_renamed_copy_of_a_protected_column_is_refused_by_content():
    df = _people()
    df["group_code"] = df["race"].map({"A": 1, "B": 2, "C": 3})         # race under another name
    with pytest.raises(ProtectedFeatureError, match=r"'group_code' equals protected column 'race'.*ROC-AUC"):
        table_training_set(df, _spec(features=["calls", "group_code"]), load_config(None))


def test_a_near_proxy_is_refused_with_the_measure_named():
    df = _people()
    rng = np.random.default_rng(3)
    df["f_score"] = (df["sex"] == "F") * 3.0 + rng.normal(scale=0.5, size=len(df))   # predicts sex
    df["maturity"] = df["age"] + rng.normal(scale=2, size=len(df))                   # age by another name
    with pytest.raises(ProtectedFeatureError, match=r"'f_score'.*'sex'.*ROC-AUC"):
        table_training_set(df, _spec(features=["calls", "f_score"]), load_config(None))
    with pytest.raises(ProtectedFeatureError, match=r"'maturity'.*'age'.*ROC-AUC|'maturity'.*'age'.*\|r\|"):
        check_proxies(df, ["maturity"], ["age"])


def test_unrelated_features_pass_and_protected_columns_become_audit_groups():
    df = _people()
    ts = table_training_set(df, _spec(), load_config(None))
    assert {"race", "sex", "age"} <= set(ts.audit_columns)
    assert {"race", "sex", "age"} <= set(ts.never_features)
    assert ts.source["age_policy"] == "audit_only" and "sex" in ts.source["protected_columns"]
    ts2 = table_training_set(df, _spec(age_policy="not_used"), load_config(None))
    assert "age" not in ts2.audit_columns


def test_declared_protected_column_and_age_policy_are_checked():
    with pytest.raises(ProtectedFeatureError, match="caste"):
        load_spec(_spec(protected=["caste"], features=["calls", "caste"]))
    with pytest.raises(TrainingConfigError, match="age_policy"):
        load_spec(_spec(age_policy="feature"))


def test_fraction_split_never_cuts_a_time_value_and_gap_only_for_repeats():
    t = pd.Series(np.repeat(pd.date_range("2024-01-01", periods=50, freq="D"), 10))
    s = fraction_split(t, 0.3, 0.2, 0)
    assert len(s.test) == 15 and len(s.validation) == 10 and len(s.train) == 25
    assert not set(s.test) & set(s.validation) and max(s.train) < min(s.validation) < min(s.test)
    once = pd.DataFrame({"person_id": list("abcd"), "as_of": pd.date_range("2024-01-01", periods=4)})
    assert repeat_gap_days(once, 730) == 0
    twice = pd.DataFrame({"person_id": list("abca"), "as_of": pd.date_range("2024-01-01", periods=4)})
    assert repeat_gap_days(twice, 730) == 730
    with pytest.raises(Exception, match="split.test_fraction"):
        fraction_split(t, 0.3, 0.2, 40)


def test_validation_fraction_alone_is_refused():
    with pytest.raises(TrainingConfigError, match="test_fraction"):
        load_config(None, overrides={"split": {"validation_fraction": 0.2}})


@pytest.mark.slow
def test_daily_one_row_per_person_table_trains_with_test_fraction_and_two_year_horizon(tmp_path):
    from training.byod import train_from_table

    df = _people(n=4000)
    cfg = load_config(None, overrides={"snapshots": {"horizon_days": 730},
                                       "split": {"test_fraction": 0.3, "validation_fraction": 0.2},
                                       "model": {"num_boost_round": 50, "params": {"min_data_in_leaf": 50}}})
    res = train_from_table(df, _spec(), config=cfg, register=False, out_dir=tmp_path)
    assert res.split.gap_days == 0
    assert res.sizes["test"]["rows"] >= 0.25 * len(df)
    assert res.metrics["roc_auc"] > 0.6


def test_pyfunc_accepts_integer_and_boolean_columns(tmp_path):
    import mlflow

    from training.fit import fit_model
    from training.pyfunc import EscalationPyfunc, input_signature

    df = _people(n=3000)
    feats = ["calls", "priors", "is_flagged"]
    fl = df.assign(**{f: df[f].astype(float) for f in feats})
    fit = fit_model(fl[:2000], fl[2000:2500], fl[2500:], feats,
                    load_config(None, overrides={"model": {"num_boost_round": 20, "params": {"min_data_in_leaf": 50}}}))
    paths = fit.model.save(tmp_path / "m")
    mlflow.pyfunc.save_model(str(tmp_path / "pyfunc"), python_model=EscalationPyfunc(), artifacts=paths,
                             signature=input_signature(feats))
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    out = loaded.predict(df[feats].head(50))            # int64, float64 and bool columns as the user has them
    ref = fit.model.predict_risk(fl[feats].head(50))
    assert np.allclose(out["probability"].to_numpy(), ref)


def test_byod_card_describes_the_table_not_the_synthetic_world(tmp_path):
    from training.byod import train_from_table

    df = _people(n=3000, seed=5)
    cfg = load_config(None, overrides={"snapshots": {"horizon_days": 730},
                                       "split": {"test_fraction": 0.3, "validation_fraction": 0.2},
                                       "fairness": {"n_boot": 50},
                                       "model": {"num_boost_round": 30, "params": {"min_data_in_leaf": 50}}})
    spec = _spec(description="某县 2022–2023 筛查台账 / county screening register",
                 population="people screened at the county service centre",
                 label_definition="re-referred within two years")
    res = train_from_table(df, spec, config=cfg, register=False, out_dir=tmp_path)
    md = (tmp_path / "model_card.md").read_text(encoding="utf-8")
    for text in ("county screening register", "people screened at the county service centre",
                 "re-referred within two years", "730 days", "`race`", "`sex`", "`age`", "audit only",
                 "Base rate by period", "`calls`", "reference group"):
        assert text in md, text
    for synthetic in ("民转刑", "per grid", "365 days", "synthetic", "simulator", "residence", "Outcomes are rare",
                      "prior_outcomes", "catalog"):
        assert synthetic not in md, synthetic
    html = (tmp_path / "model_card.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 3 and "<text" in html          # one inline SVG per attribute, text kept as text
    assert res.split.gap_days == 0
