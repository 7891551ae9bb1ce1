"""MLflow tracking and the model registry: log a run, register a version, load by alias, list.

Defaults: tracking URI ``sqlite:///<home>/mlflow.db`` (home = ``$WEIMENG_HOME`` or ``./weimeng-data``);
any MLflow URI (e.g. ``postgresql+psycopg://user@host/db``) by argument or ``$WEIMENG_MLFLOW_TRACKING_URI``.
Every training run registers a new version of ``weimeng-escalation`` and points the ``challenger``
alias at it; only :func:`training.promote` moves ``champion``.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from common.settings import Settings
from training.errors import RegistryError
from training.model import EscalationModel

__all__ = [
    "MODEL_NAME",
    "resolve_tracking_uri",
    "client_for",
    "log_and_register",
    "load_registered_model",
    "load_model_version",
    "list_versions",
    "download_test_set",
    "THRESHOLDS_ARTIFACT",
    "register_thresholds",
    "registered_thresholds",
    "stored_versions",
    "stored_version",
]

MODEL_NAME = "weimeng-escalation"
TEST_SET_PATH = "evaluation/test_set.parquet"
#: The alert thresholds of a model version (per-county bars and budgets, training.budget), an artifact of
#: its run; the version's tags name the thresholds version and the budget digest.
THRESHOLDS_ARTIFACT = "policy/alert_thresholds.json"
_PIP = ["lightgbm>=4.5,<5", "scikit-learn>=1.5,<2", "pandas>=2.2,<3", "numpy"]


def resolve_tracking_uri(uri: str | None = None, home: str | Path | None = None) -> str:
    """Argument, else the settings (``WEIMENG_MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_URI``), else SQLite
    under the data home (created)."""
    if uri:
        return str(uri)
    settings = Settings.from_env(home=Path(home) if home else None)
    if settings.mlflow_tracking_uri is None:
        settings.ensure_dirs()
    return settings.resolved_mlflow_uri


def client_for(tracking_uri: str | None = None):
    import mlflow
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v if not isinstance(v, (list, tuple)) else json.dumps(list(v))
    return out


def log_and_register(model: EscalationModel, *, tracking_uri: str | None, experiment: str, model_name: str,
                     params: dict, metrics: dict, tags: dict, artifacts_dir: Path, test_set: pd.DataFrame,
                     input_example: pd.DataFrame, artifact_location: str | None = None) -> tuple[str, str]:
    """Log one training run (params, metrics, card, plots, test set) and register the model.

    Returns ``(run_id, version)``; the new version carries alias ``challenger``.
    """
    import mlflow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mlflow's type-hint nudge: the signature is explicit
        from training.pyfunc import EscalationPyfunc, input_signature

    client = client_for(tracking_uri)
    _ensure_experiment(client, experiment, resolve_tracking_uri(tracking_uri), artifact_location)
    mlflow.set_experiment(experiment)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name=tags.get("run_name")) as run, \
            warnings.catch_warnings():
        # The signature is given explicitly; mlflow's type-hint and input-example nudges do not apply.
        warnings.simplefilter("ignore", UserWarning)
        flat = _flatten(params)
        mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.set_tags({k: str(v)[:5000] for k, v in tags.items()})
        mlflow.log_artifacts(str(artifacts_dir), artifact_path="report")
        tpath = Path(tmp) / "test_set.parquet"
        test_set.to_parquet(tpath, index=False)
        mlflow.log_artifact(str(tpath), artifact_path="evaluation")
        paths = model.save(Path(tmp) / "model")
        # any numeric type per feature (int, bool, float): predict casts, so a BYOD table's integer columns work
        sig = input_signature(model.feature_names)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=EscalationPyfunc(), artifacts=paths, signature=sig,
            pip_requirements=_PIP, registered_model_name=model_name,
        )
        run_id = run.info.run_id
    version = str(info.registered_model_version)
    client.set_registered_model_alias(model_name, "challenger", version)
    for k, v in {**tags, "run_id": run_id, "catalog_version": model.metadata.get("catalog_version"),
                 "ruleset_version": model.metadata.get("ruleset_version")}.items():
        if v is not None:
            client.set_model_version_tag(model_name, version, k, str(v)[:5000])
    return run_id, version


def default_artifact_location(tracking_uri: str) -> str | None:
    """Artifacts of a SQLite store live beside the database (``<dir>/mlartifacts``), never in the cwd."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


def _ensure_experiment(client, name: str, tracking_uri: str, artifact_location: str | None) -> None:
    if client.get_experiment_by_name(name) is None:
        client.create_experiment(name, artifact_location=artifact_location or default_artifact_location(tracking_uri))


def _version_for(client, model_name: str, alias: str | None, version: str | int | None):
    from mlflow.exceptions import MlflowException

    try:
        if version is not None:
            return client.get_model_version(model_name, str(version))
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        what = f"version {version}" if version is not None else f"alias '@{alias}'"
        raise RegistryError(
            f"注册表中找不到模型 / no {what} of registered model '{model_name}' at "
            f"{client.tracking_uri}. Train one first (`weimeng train`) or check the alias / --tracking-uri; "
            f"existing versions: `weimeng model list`.") from None


def load_model_version(model_name: str = MODEL_NAME, alias: str | None = "champion", version=None,
                       tracking_uri: str | None = None) -> EscalationModel:
    import mlflow.pyfunc

    client = client_for(tracking_uri)
    mv = _version_for(client, model_name, alias, version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mlflow's type-hint nudge on unpickling
        pyf = mlflow.pyfunc.load_model(f"models:/{model_name}/{mv.version}")
    model = pyf.unwrap_python_model().model
    model.metadata.update(model_name=model_name, model_version=str(mv.version), run_id=mv.run_id,
                          aliases=list(getattr(mv, "aliases", []) or []))
    th = _download_thresholds(mv)
    if th is not None:
        model.metadata["alert_thresholds"] = th
    return model


def _download_thresholds(mv) -> dict | None:
    """The version's registered thresholds (None when it has none: never promoted under a budget)."""
    if not (mv.tags or {}).get("alert_thresholds_version"):
        return None
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        p = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=THRESHOLDS_ARTIFACT, dst_path=tmp)
        return json.loads(Path(p).read_text(encoding="utf-8"))


def register_thresholds(version: str | int, thresholds, *, tracking_uri: str | None = None,
                        model_name: str = MODEL_NAME) -> str:
    """Store alert thresholds (a ``training.budget.AlertThresholds``) with a model version: the JSON as
    an artifact of its run, the thresholds version and the budget as version tags. Returns the
    thresholds version. Registering again replaces them (a budget change is a new thresholds version)."""
    import mlflow

    client = client_for(tracking_uri)
    mv = _version_for(client, model_name, None, version)
    body = thresholds.to_dict()
    body["detail"] = {**body["detail"], "model_version": str(mv.version)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(THRESHOLDS_ARTIFACT).name
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        with mlflow.start_run(run_id=mv.run_id):
            mlflow.log_artifact(str(path), artifact_path=str(Path(THRESHOLDS_ARTIFACT).parent))
    d = body["detail"]
    tags = {"alert_thresholds_version": thresholds.version, "alert_budget_digest": d.get("budget_digest", ""),
            "alert_budget": json.dumps(d.get("budget", {}), sort_keys=True)[:4900],
            "alert_budget_per_run": str(d.get("alerts_per_run", "")),
            "alert_thresholds_snapshots": ",".join(d.get("snapshots", []))[:4900]}
    for k, v in tags.items():
        client.set_model_version_tag(model_name, str(mv.version), k, str(v))
    return thresholds.version


def registered_thresholds(version: str | int | None = None, alias: str | None = "champion", *,
                          tracking_uri: str | None = None, model_name: str = MODEL_NAME) -> dict | None:
    """The thresholds registered with a version (or alias), as stored; None if it has none."""
    client = client_for(tracking_uri)
    return _download_thresholds(_version_for(client, model_name, None if version is not None else alias, version))


def load_registered_model(alias: str = "champion", tracking_uri: str | None = None, model_name: str = MODEL_NAME,
                          version: str | int | None = None) -> EscalationModel:
    """Load a registered model for serving: ``.predict_proba``, ``.booster``, ``.calibrator``,
    ``.feature_names``, ``.metadata`` (catalog / rule-set versions, operating threshold, ...).

    >>> # m = load_registered_model("champion", tracking_uri="sqlite:///weimeng-data/mlflow.db")
    """
    return load_model_version(model_name, alias=None if version is not None else alias, version=version,
                              tracking_uri=tracking_uri)


def download_test_set(run_id: str, tracking_uri: str | None = None) -> pd.DataFrame:
    import mlflow.artifacts

    client_for(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        p = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=TEST_SET_PATH, dst_path=tmp)
        return pd.read_parquet(p)


def list_versions(tracking_uri: str | None = None, model_name: str = MODEL_NAME) -> pd.DataFrame:
    """One row per registered version: aliases, creation time, key test metrics and promotion tags."""
    client = client_for(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        rm = client.get_registered_model(model_name)
    except MlflowException:
        return pd.DataFrame(columns=["version", "aliases", "created", "roc_auc", "precision_at_capacity"])
    alias_of: dict[str, list[str]] = {}
    for a, v in (rm.aliases or {}).items():
        alias_of.setdefault(str(v), []).append(a)
    rows = []
    for mv in client.search_model_versions(f"name='{model_name}'"):
        t = mv.tags or {}
        rows.append({
            "version": int(mv.version), "aliases": ",".join(sorted(alias_of.get(str(mv.version), []))),
            "created": pd.Timestamp(mv.creation_timestamp, unit="ms").strftime("%Y-%m-%d %H:%M"),
            "roc_auc": t.get("test_roc_auc"), "precision_at_capacity": t.get("test_precision_at_capacity"),
            "fairness_flags": t.get("test_fairness_flags"), "data": t.get("data_kind"),
            "promoted_by": t.get("promoted_by"), "promotion_reason": t.get("promotion_reason"),
            "alert_thresholds_version": t.get("alert_thresholds_version"), "run_id": mv.run_id,
        })
    return pd.DataFrame(rows).sort_values("version").reset_index(drop=True) if rows else pd.DataFrame(rows)


#: The run artifacts :func:`stored_version` reads (written by training.pipeline and training.promotion).
CARD_ARTIFACT = "report/model_card.md"
FAIRNESS_REFERENCE_ARTIFACT = "report/fairness_reference.csv"


def stored_versions(tracking_uri: str | None = None) -> list[dict]:
    """Every version of every registered model, as the registry stores it (no artifact is read): ``name``,
    ``version``, ``aliases``, ``created`` (aware UTC), ``tags``, ``run_id``. For read-only pages (the console)."""
    from datetime import UTC, datetime

    client = client_for(tracking_uri)
    out = []
    for rm in client.search_registered_models():
        alias_of: dict[str, list[str]] = {}
        for a, v in (rm.aliases or {}).items():
            alias_of.setdefault(str(v), []).append(a)
        for mv in client.search_model_versions(f"name='{rm.name}'"):
            v = str(mv.version)
            out.append({"name": rm.name, "version": v, "aliases": sorted(alias_of.get(v, [])),
                        "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
                        "tags": dict(mv.tags or {}), "run_id": mv.run_id})
    return sorted(out, key=lambda r: (r["name"], -int(r["version"]) if r["version"].isdigit() else 0))


def stored_version(version: str | int, *, tracking_uri: str | None = None, model_name: str = MODEL_NAME) -> dict:
    """What the registry stores with one version, read and not recomputed: the :func:`stored_versions` fields,
    the run's ``params`` and ``metrics``, the model's ``metadata`` (its metadata.json), the alert ``thresholds``
    (None before promotion under a budget), the model card's Markdown (``card``) and the reference-group
    fairness audit (``fairness_reference``, a DataFrame). A missing artifact is None; an unknown version is a
    :class:`RegistryError`."""
    from datetime import UTC, datetime

    import mlflow.artifacts

    client = client_for(tracking_uri)
    mv = _version_for(client, model_name, None, version)
    run = client.get_run(mv.run_id) if mv.run_id else None

    def read(path: str, reader):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                if path.startswith("models:/"):
                    p = mlflow.artifacts.download_artifacts(artifact_uri=path, dst_path=tmp)
                else:
                    p = client.download_artifacts(mv.run_id, path, tmp)
                return reader(Path(p))
            except Exception:  # an artifact this version never had (older or test registrations)
                return None

    def text(p: Path) -> str:
        return p.read_text(encoding="utf-8")

    return {
        "name": model_name, "version": str(mv.version), "aliases": sorted(getattr(mv, "aliases", []) or []),
        "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC), "tags": dict(mv.tags or {}),
        "run_id": mv.run_id, "params": dict(run.data.params) if run else {},
        "metrics": dict(run.data.metrics) if run else {},
        "metadata": read(f"models:/{model_name}/{mv.version}/artifacts/metadata.json", lambda p: json.loads(text(p))),
        "thresholds": (read(THRESHOLDS_ARTIFACT, lambda p: json.loads(text(p)))
                       if (mv.tags or {}).get("alert_thresholds_version") else None),
        "card": read(CARD_ARTIFACT, text),
        "fairness_reference": read(FAIRNESS_REFERENCE_ARTIFACT, lambda p: pd.read_csv(p, keep_default_na=False)),
    }
