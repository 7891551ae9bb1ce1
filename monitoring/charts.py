"""Charts for reports: matplotlib, rendered to inline SVG whose text stays text (no files, no CDN).

Every label is an SVG ``<text>`` element (``svg.fonttype: none``), so the reader's browser draws the
Chinese with its own fonts: a machine without CJK fonts can still write a report that reads well
everywhere, and headless Chromium prints it to PDF with Debian's fonts-noto-cjk. A CJK font on the
writing machine only improves the layout measurements.
"""

from __future__ import annotations

import html
import io
import logging
import re
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd

from common.levels import LEVEL_COLOURS, LEVEL_LABELS

__all__ = ["cjk_font_available", "svg", "bar_by_level", "hbar", "line_over_time", "calibration"]

log = logging.getLogger(__name__)

@lru_cache(maxsize=1)
def cjk_font_available() -> bool:
    """Register a Noto/WenQuanYi CJK font with matplotlib if the system has one (Debian: fonts-noto-cjk)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    candidates = ["Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei"]
    for path in font_manager.findSystemFonts():
        if "CJK" in path or "wqy" in path.lower():
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # a broken font file must not stop a report
                continue
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in candidates:
        if name in names:
            matplotlib.rcParams["font.family"] = [name, "DejaVu Sans"]
            matplotlib.rcParams["axes.unicode_minus"] = False
            return True
    log.debug("no CJK font on this machine: chart text is still text, drawn by the reader's browser")
    return False


def svg(fig, alt: str) -> str:
    """A matplotlib figure as an inline ``<figure>`` with SVG whose text is text; closes the figure."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with warnings.catch_warnings(), plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "weimeng"}):
        # without a CJK font matplotlib only mis-measures the labels; the browser renders the glyphs
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]                       # drop the XML prolog and doctype
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    font = "font-family:'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
    text = text.replace("<svg ", f"<svg role='img' aria-label='{html.escape(alt, quote=True)}' style=\"{font}\" ", 1)
    return f"<figure class='chart'>{text}</figure>"


def _fig(w=7.5, h=3.6):
    cjk_font_available()
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def bar_by_level(counts: pd.DataFrame, label_col: str, title: str) -> str:
    """Stacked horizontal bars: one bar per region, stacked by level (columns red/orange/yellow)."""
    fig, ax = _fig(7.5, max(2.5, 0.32 * len(counts) + 1))
    left = np.zeros(len(counts))
    for level in ("red", "orange", "yellow"):
        if level in counts:
            ax.barh(counts[label_col], counts[level], left=left, color=LEVEL_COLOURS[level], label=LEVEL_LABELS[level])
            left += counts[level].to_numpy()
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel("预警数")
    ax.legend(loc="lower right", frameon=False)
    return svg(fig, title)


def hbar(labels, values, title: str, xlabel: str = "", colour: str = "#3b7dd8") -> str:
    fig, ax = _fig(7.5, max(2.2, 0.32 * len(labels) + 1))
    ax.barh(list(labels), list(values), color=colour)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return svg(fig, title)


def line_over_time(frame: pd.DataFrame, x: str, series: dict[str, str], title: str, ylabel: str = "",
                   band: tuple[float, float] | None = None) -> str:
    fig, ax = _fig()
    for col, label in series.items():
        if col in frame:
            ax.plot(pd.to_datetime(frame[x]), frame[col], marker="o", label=label)
    if band:
        ax.axhspan(*band, color="#e0f0e0", alpha=0.6, label="公平区间 0.8–1.25")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    fig.autofmt_xdate()
    return svg(fig, title)


def calibration(table: pd.DataFrame, title: str = "校准：预测概率与实际发生率") -> str:
    fig, ax = _fig(4.5, 4.2)
    hi = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 1e-3)) * 1.1
    ax.plot([0, hi], [0, hi], "--", color="#999")
    ax.plot(table["mean_predicted"], table["observed_rate"], marker="o")
    ax.set_xlabel("平均预测概率")
    ax.set_ylabel("实际发生率")
    ax.set_title(title)
    return svg(fig, title)
