"""A small model trained on a synthetic table with the service's feature names, once."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from corrections.risk import features, training
from tests.support.risk_models import sign_in_place
from tests.support.risk_monitoring import drifted  # noqa: F401 - fixture (test_monitoring.py)

CATEGORIES = {
    "age_band": ["18-24", "25-34", "35-44", "45-54", "55+"],
    "gender": ["male", "female"],
    "category": ["suspended_sentence", "parole", "control_order", "temporary_outside_custody"],
    "crime_type": ["theft", "fraud", "dangerous_driving", "drug_offence"],
    "intake_risk": ["low", "medium", "high"],
    "grade": ["strict", "tight", "ordinary", "relaxed", "lenient"],
}


def synthetic_table(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Every service feature; the label depends on failed checks, missed reports and prior
    lost contact (so those are what a good model learns), with a group column."""
    rng = np.random.default_rng(seed)
    data = {}
    for f in features.FEATURES:
        if f.kind == "categorical":
            data[f.name] = rng.choice(CATEGORIES[f.name], size=n)
        elif f.name.startswith("days_"):
            vals = rng.uniform(0, 400, size=n)
            vals[rng.random(n) < 0.3] = np.nan
            data[f.name] = vals
        else:
            data[f.name] = rng.poisson(0.4, size=n).astype(float)
    # day counts and flags in realistic ranges (the model meets real persons in the tests)
    data["term_days"] = rng.integers(90, 1800, size=n).astype(float)
    data["served_days"] = np.floor(rng.random(n) * data["term_days"])
    data["remaining_days"] = data["term_days"] - data["served_days"]
    data["days_in_grade"] = np.floor(rng.random(n) * data["served_days"])
    data["juvenile"] = (rng.random(n) < 0.03).astype(float)
    data["monitored"] = (rng.random(n) < 0.05).astype(float)
    lin = (
        -3.0
        + 1.2 * data["failed_checks_30d"]
        + 0.9 * data["missed_reports_90d"]
        + 1.0 * data["prior_lost_contact"]
        + 0.6 * (data["intake_risk"] == "high")
    )
    data["lost_contact_90d"] = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    data["gender_group"] = data["gender"]
    data["as_of"] = np.repeat(
        pd.date_range("2025-01-01", periods=10, freq="30D").strftime("%Y-%m-%d"), n // 10
    )[:n]
    data["subject"] = [f"s{i}" for i in range(n)]
    return pd.DataFrame(data)


@pytest.fixture(scope="session")
def table_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "synthetic.csv"
    synthetic_table().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def _trained(tmp_path_factory, table_file):
    out = tmp_path_factory.mktemp("trained") / "test-model"
    spec = training.Spec(
        label="lost_contact_90d",
        drop=["subject"],
        group=["gender_group"],
        time_column="as_of",
        version="test-model",
    )
    return training.train(table_file, spec, out)


@pytest.fixture
def models_dir(app, tmp_path, monkeypatch, _trained):
    """A models directory holding a fresh copy of the trained model, as the service's, its
    card signed with the instance key (as ``risk train`` signs what it writes)."""
    directory = tmp_path / "models"
    shutil.copytree(_trained.directory, directory / "test-model")
    sign_in_place(app, directory / "test-model")
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(directory))
    # The test model is fitted on 2,400 synthetic rows (test_compare.py tests the minimum).
    monkeypatch.setitem(app.config, "RISK_MIN_TRAINING_ROWS", 1000)
    return directory


def flip_byte(path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))
