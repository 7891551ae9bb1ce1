"""The `weimeng train` and `weimeng model ...` commands, driven through Typer's test runner."""

import pytest
import typer
from conftest import make_snapshot_table
from typer.testing import CliRunner

from weimeng.commands.train import model_app, train_command


@pytest.fixture(scope="module")
def app():
    a = typer.Typer()
    a.command("train")(train_command)
    a.add_typer(model_app, name="model")
    return a


@pytest.fixture(scope="module")
def byod(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    make_snapshot_table(n_people=1000, n_snapshots=15, seed=5, signal=1.5).to_parquet(d / "t.parquet", index=False)
    (d / "spec.yaml").write_text(
        "id: person_id\ntime: as_of\nlabel: label\n"
        "features: [calls_30d, calls_90d, threat_90d, failed_mediations_90d]\n"
        "audit_groups: [sex, age_band]\ncapacity: {top_fraction: 0.03}\n", encoding="utf-8")
    (d / "wide.yaml").write_text("fairness:\n  bounds: [0.01, 100]\nmodel:\n  num_boost_round: 300\n"
                                 "  early_stopping_rounds: 20\n  params:\n    learning_rate: 0.1\n", encoding="utf-8")
    return d


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def _err(result, match):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert match in result.output
    return result.output


def test_byod_train_list_promote_rollback(app, byod):
    runner = CliRunner(env={"COLUMNS": "200"})
    uri = f"sqlite:///{byod / 'mlflow.db'}"
    out = _ok(runner.invoke(app, ["train", "--table", str(byod / "t.parquet"), "--spec", str(byod / "spec.yaml"),
                                  "--tracking-uri", uri, "--config", str(byod / "wide.yaml")]))
    assert "ROC-AUC" in out and "v1" in out
    _err(runner.invoke(app, ["model", "rollback", "--tracking-uri", uri]), "no champion")
    out = _ok(runner.invoke(app, ["model", "promote", "--tracking-uri", uri, "--config", str(byod / "wide.yaml")]))
    assert "v1" in out
    _err(runner.invoke(app, ["model", "promote", "--tracking-uri", uri]), "already the champion")
    _err(runner.invoke(app, ["model", "promote", "--tracking-uri", uri, "--force"]), "needs a reason")
    out = _ok(runner.invoke(app, ["model", "list", "--tracking-uri", uri]))
    assert "champion" in out


def test_clear_errors_exit_2_without_traceback(app, tmp_path):
    runner = CliRunner()
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    _err(runner.invoke(app, ["train", "--data", str(tmp_path / "nowhere"), "--tracking-uri", uri]), "not found")
    _err(runner.invoke(app, ["train", "--table", str(tmp_path / "x.parquet"), "--tracking-uri", uri]), "--spec")
    bad = tmp_path / "bad.yaml"
    bad.write_text("split:\n  tset_snapshots: 1\n", encoding="utf-8")
    _err(runner.invoke(app, ["train", "--data", str(tmp_path), "--config", str(bad), "--tracking-uri", uri]),
         "unknown key")
    _err(runner.invoke(app, ["model", "rollback", "--tracking-uri", uri]), "no champion")
