"""Honest evaluation on the test period: ranking, probability quality, and the operating point.

The operating point is a capacity, not a probability: each grid's team can act on
``capacity_per_grid_per_week`` alerts a week, so a snapshot taken every ``frequency_days`` days can
raise ``k = capacity x grids x frequency_days / 7`` alerts. Every scorer (model, rules-only baseline,
oracles) is judged by precision and recall of its top ``k`` in each test snapshot.

Scores with ties at the cut (the rules baseline gives many people the same score) are judged by the
*expected* precision under a random choice among the tied rows, so no scorer gains or loses by an
arbitrary tie-break.

>>> import numpy as np
>>> y = np.array([1, 0, 1, 0, 0]); s = np.array([3, 2, 2, 2, 1])
>>> tp, k = expected_hits_at_k(y, s, 2)   # 1 sure hit + 1 of 3 tied rows, 1/3 of them positive
>>> round(tp, 3), k
(1.333, 2)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "alerts_per_snapshot",
    "expected_hits_at_k",
    "top_k_flags",
    "at_capacity",
    "score_metrics",
    "calibration_table",
    "plot_calibration",
    "plot_curves",
    "plot_importance",
    "plot_fairness_svg",
    "svg_text",
]


def alerts_per_snapshot(capacity_per_grid_per_week: float, n_grids: int, frequency_days: int) -> int:
    """k = capacity x grids x weeks between snapshots (at least 1).

    >>> alerts_per_snapshot(0.5, 400, 30)
    857
    """
    return max(1, int(round(capacity_per_grid_per_week * n_grids * frequency_days / 7.0)))


def expected_hits_at_k(y: np.ndarray, s: np.ndarray, k: int) -> tuple[float, int]:
    """Expected true positives among the top ``k`` of ``s`` (ties at the cut shared pro rata)."""
    y = np.asarray(y, dtype=float)
    s = np.asarray(s, dtype=float)
    n = len(s)
    k = min(int(k), n)
    if k <= 0:
        return 0.0, 0
    order = np.argsort(-s, kind="stable")
    cut = s[order[k - 1]]
    above = s > cut
    tied = s == cut
    n_above = int(above.sum())
    take = k - n_above
    tp = y[above].sum() + (take * y[tied].mean() if tied.any() else 0.0)
    return float(tp), k


def top_k_flags(frame: pd.DataFrame, score: np.ndarray, k: int, time_col: str = "as_of", seed: int = 0) -> np.ndarray:
    """Boolean flags: the top ``k`` rows by score within each snapshot (random order among exact ties)."""
    rng = np.random.default_rng(seed)
    jitter = rng.random(len(frame))
    df = pd.DataFrame({"t": frame[time_col].to_numpy(), "s": np.asarray(score, float), "j": jitter})
    rank = df.sort_values(["s", "j"], ascending=False).groupby("t", sort=False).cumcount()
    return (rank.reindex(df.index) < k).to_numpy()


def at_capacity(frame: pd.DataFrame, score: np.ndarray, label: str, k: int, time_col: str = "as_of") -> dict:
    """Precision and recall of each snapshot's top ``k``, pooled over the snapshots."""
    s = np.asarray(score, dtype=float)
    tp = flagged = positives = 0.0
    for _, idx in frame.groupby(time_col, sort=True).indices.items():
        y = frame[label].to_numpy()[idx]
        hits, kk = expected_hits_at_k(y, s[idx], k)
        tp += hits
        flagged += kk
        positives += y.sum()
    return {"k_per_snapshot": int(k), "alerts": int(flagged), "expected_true_positives": float(tp),
            "precision_at_capacity": tp / flagged if flagged else float("nan"),
            "recall_at_capacity": tp / positives if positives else float("nan")}


def score_metrics(y: np.ndarray, s: np.ndarray, probability: bool = False) -> dict:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    out = {"roc_auc": float("nan"), "pr_auc": float("nan")}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, s))
        out["pr_auc"] = float(average_precision_score(y, s))
    if probability:
        out["brier"] = float(brier_score_loss(y, s))
        out["mean_predicted"] = float(s.mean())
        out["observed_rate"] = float(y.mean())
    return out


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Quantile bins of predicted probability: mean predicted vs observed rate per bin."""
    df = pd.DataFrame({"y": np.asarray(y, int), "p": np.asarray(p, float)})
    q = min(bins, max(1, df["p"].nunique()))
    df["bin"] = pd.qcut(df["p"].rank(method="first"), q, labels=False)
    t = df.groupby("bin").agg(n=("y", "size"), mean_predicted=("p", "mean"), observed=("y", "mean")).reset_index()
    return t


def plot_calibration(y, p, path: str | Path, bins: int = 10, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = calibration_table(y, p, bins)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    hi = max(float(t["mean_predicted"].max()), float(t["observed"].max()), 1e-3) * 1.1
    ax.plot([0, hi], [0, hi], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.plot(t["mean_predicted"], t["observed"], marker="o", label="model (quantile bins)")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(title or "Calibration (test period)")
    ax.legend()
    ax2.hist(np.asarray(p, float), bins=50, color="tab:blue", alpha=0.8)
    ax2.set_yscale("log")
    ax2.set_xlabel("predicted probability")
    ax2.set_ylabel("rows (log)")
    ax2.set_title("Distribution of predictions")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_curves(y, scores: dict[str, np.ndarray], path: str | Path, k_fraction: float | None = None) -> Path:
    """ROC and precision-recall curves for every scorer on the same rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y, int)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, s in scores.items():
        s = np.asarray(s, float)
        if not 0 < y.sum() < len(y) or np.all(s == s[0]):
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=name)
        prec, rec, _ = precision_recall_curve(y, s)
        ax2.plot(rec, prec, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC (test period)")
    ax.legend(fontsize=8)
    ax2.set_xlabel("recall")
    ax2.set_ylabel("precision")
    ax2.set_title("Precision-recall (test period)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_importance(importance: pd.Series, path: str | Path, top: int = 20) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    imp = importance.sort_values(ascending=False).head(top)[::-1]
    total = float(importance.sum()) or 1.0
    fig, ax = plt.subplots(figsize=(7, max(3, 0.28 * len(imp) + 1)))
    ax.barh(imp.index, imp.to_numpy() / total * 100)
    ax.set_xlabel("share of total gain (%)")
    ax.set_title(f"Feature importance (gain), top {len(imp)}")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def finite(x) -> float | None:
    """JSON-friendly float (NaN -> None)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def svg_text(fig) -> str:
    """A matplotlib figure as inline SVG with text kept as text (searchable, translatable, small)."""
    import io
    import warnings

    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "weimeng"}), warnings.catch_warnings():
        # text stays text: the viewer's fonts draw the CJK glyphs, so a missing glyph here only affects layout
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def plot_fairness_svg(audit: pd.DataFrame, attribute: str, bounds: tuple[float, float]) -> str:
    """One attribute of a reference-group audit: each group's ratio to the reference with its interval.

    Panels: FPR, FNR, precision, selection-rate ratios and calibration (mean predicted / observed);
    the shaded band is ``bounds``; red marks a flag (the whole interval outside the band).
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = audit[audit["attribute"] == attribute]
    metrics = [("fpr_ratio", "FPR ratio"), ("fnr_ratio", "FNR ratio"), ("precision_ratio", "precision ratio"),
               ("selection_rate_ratio", "selection ratio"), ("calibration", "mean pred / observed")]
    points = list(dict.fromkeys(a["operating_point"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.3 * len(metrics) + 1.5, 0.45 * a["group"].nunique() + 1.6),
                             sharey=True)
    groups = list(dict.fromkeys(a["group"]))
    for ax, (col, title) in zip(axes, metrics, strict=True):
        ax.axvspan(bounds[0], bounds[1], color="#e8f0e8")
        ax.axvline(1.0, color="grey", linewidth=0.8)
        for k, op in enumerate(points):
            sub = a[a["operating_point"] == op].set_index("group")
            for i, g in enumerate(groups):
                if g not in sub.index or col not in sub or not np.isfinite(sub.loc[g, col]):
                    continue
                v, lo, hi = sub.loc[g, col], sub.loc[g].get(f"{col}_lo"), sub.loc[g].get(f"{col}_hi")
                metric = col.removesuffix("_ratio")
                red = metric in str(sub.loc[g, "flags"]).split(",")
                y = i + (k - (len(points) - 1) / 2) * 0.25
                if lo is not None and np.isfinite(lo):
                    ax.plot([lo, hi], [y, y], color="#c0392b" if red else "#555", linewidth=1.2)
                ax.plot([v], [y], marker="o" if k == 0 else "s", color="#c0392b" if red else "#1f4e79",
                        markersize=4, label=op if i == 0 else None)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(range(len(groups)), groups)
    axes[0].invert_yaxis()
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{attribute}: ratio to the reference group (95% interval)", fontsize=10)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        fig.tight_layout()
    out = svg_text(fig)
    plt.close(fig)
    return out
