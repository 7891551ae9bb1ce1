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
