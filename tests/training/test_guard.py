import numpy as np
import pandas as pd
import pytest

from features.catalog import FEATURE_NAMES, PROTECTED_ATTRIBUTES
from training.byod import load_spec
from training.config import load_config
from training.errors import ProtectedFeatureError
from training.fit import fit_model
from training.guard import check_feature_names


def test_catalog_features_pass_the_guard():
    check_feature_names(FEATURE_NAMES)


@pytest.mark.parametrize("attr", sorted(PROTECTED_ATTRIBUTES))
def test_every_protected_attribute_is_refused(attr):
    with pytest.raises(ProtectedFeatureError, match=attr):
        check_feature_names(["calls_30d", attr])


@pytest.mark.parametrize("name", ["sex_M", "age_band=30-44", "IS_URBAN", "prefecture_code_513200"])
def test_encodings_of_protected_attributes_are_refused(name):
    with pytest.raises(ProtectedFeatureError):
        check_feature_names([name])


def test_trainer_refuses_a_protected_feature_before_fitting():
    df = pd.DataFrame({"calls_30d": np.arange(100.0), "sex": np.tile([0.0, 1.0], 50), "label": np.tile([0, 1], 50)})
    with pytest.raises(ProtectedFeatureError, match="sex"):
        fit_model(df, df, df, ["calls_30d", "sex"], load_config(None))


def test_spec_never_features_and_audit_groups_cannot_be_features(spec_dict):
    with pytest.raises(ProtectedFeatureError, match="name_hash"):
        load_spec({**spec_dict, "features": [*spec_dict["features"], "name_hash"]})
    with pytest.raises(ProtectedFeatureError, match="audit group"):
        load_spec({**spec_dict, "audit_groups": ["calls_30d"]})
    with pytest.raises(ProtectedFeatureError, match="sex"):
        load_spec({**spec_dict, "features": ["calls_30d", "sex"]})


def test_a_model_artifact_with_a_protected_feature_cannot_be_built():
    from training.calibration import Calibrator
    from training.model import EscalationModel

    with pytest.raises(ProtectedFeatureError):
        EscalationModel(booster=None, calibrator=Calibrator(), feature_names=["calls_30d", "age"])
