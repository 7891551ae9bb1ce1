import pytest

from training.config import MAX_DEPTH_LIMIT, load_config
from training.errors import TrainingConfigError


def test_default_config_is_packaged_and_sane():
    cfg = load_config(None)
    assert cfg.snapshots.horizon_days == 90
    assert cfg.gap_days >= cfg.snapshots.horizon_days
    assert cfg.model.params["max_depth"] <= 6
    assert cfg.model.seed == 20261129


def test_user_file_overrides_only_what_it_names(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("split:\n  test_snapshots: 2\nmodel:\n  params:\n    learning_rate: 0.1\n", encoding="utf-8")
    cfg = load_config(p)
    assert cfg.split.test_snapshots == 2
    assert cfg.model.params["learning_rate"] == 0.1
    assert cfg.model.params["max_depth"] == 6  # untouched keys keep the default


@pytest.mark.parametrize("override, match", [
    ({"split": {"tset_snapshots": 2}}, r"unknown key\(s\) \['tset_snapshots'\]"),
    ({"splits": {}}, r"unknown section"),
    ({"model": {"imbalance": "smote"}}, r"imbalance='smote' is not allowed; possible values"),
    ({"calibration": {"method": "beta"}}, r"possible values are \['auto', 'isotonic', 'sigmoid'\]"),
    ({"split": {"gap_days": 30}}, r"shorter than the horizon"),
    ({"model": {"params": {"max_depth": 12}}}, rf"between 1 and {MAX_DEPTH_LIMIT}"),
    ({"fairness": {"bounds": [1.2, 0.8]}}, r"low < 1 < high"),
])
def test_bad_config_is_refused_with_a_clear_message(override, match):
    with pytest.raises(TrainingConfigError, match=match):
        load_config(None, overrides=override)


def test_missing_config_file(tmp_path):
    with pytest.raises(TrainingConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_key_in_a_file_names_file_key_and_allowed_keys(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("calibration:\n  metod: isotonic\n", encoding="utf-8")
    with pytest.raises(TrainingConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: ") and "unknown key(s) ['metod'] in section 'calibration'" in msg
    assert "calibration.metod: unknown key; allowed: method, min_positives_isotonic. Did you mean 'method'?" in msg


def test_bad_enum_value_in_a_file_names_value_and_allowed_values(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model:\n  imbalance: smote\n", encoding="utf-8")
    with pytest.raises(TrainingConfigError, match=r"model.imbalance='smote' is not allowed; possible values are "
                                                  r"\['none', 'scale_pos_weight'\]") as info:
        load_config(p)
    assert str(p) in str(info.value)


@pytest.mark.parametrize("override, match", [
    ({"snapshots": {"frequency_days": 0}}, r"snapshots.frequency_days = 0: Input should be greater than or equal to 1"),
    ({"split": {"calibration_fraction": 1.0}}, r"split.calibration_fraction = 1.0: Input should be less than 1"),
    ({"evaluation": {"capacity_per_grid_per_week": 0}}, r"capacity_per_grid_per_week = 0: Input should be greater"),
    ({"model": {"params": {"objective": "regression"}}}, r"only 'binary' is supported"),
])
def test_ranges_are_field_constraints(override, match):
    with pytest.raises(TrainingConfigError, match=match):
        load_config(None, overrides=override)


def test_null_section_and_yaml_dates_keep_their_meaning(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("snapshots:\n  first: 2024-07-01\npromotion:\n", encoding="utf-8")
    cfg = load_config(p)
    assert cfg.snapshots.first == "2024-07-01"
    assert cfg.promotion.auc_tolerance == 0.005
    assert cfg.to_dict()["fairness"]["bounds"] == [0.8, 1.25]
