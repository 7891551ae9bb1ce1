"""Small server-rendered SVG charts (no JavaScript, no CDN): factor contributions and score history.

The SVG is built from numbers and escaped labels only, so it is safe to embed in the page.
"""

from __future__ import annotations

from html import escape

__all__ = ["factor_chart", "score_chart"]

_W = 560


def factor_chart(factors: list[dict], *, max_bars: int = 8) -> str:
    """Horizontal bars: contribution (log-odds) per factor, red pushes the risk up, green down."""
    items = sorted(factors, key=lambda f: abs(float(f.get("contribution") or 0)), reverse=True)[:max_bars]
    if not items:
        return ""
    label_w, bar_h, gap = 230, 18, 8
    span = max(abs(float(f.get("contribution") or 0)) for f in items) or 1.0
    half = (_W - label_w - 60) / 2
    mid = label_w + half
    h = len(items) * (bar_h + gap) + 24
    parts = [f'<svg class="chart" role="img" aria-label="模型因素贡献" viewBox="0 0 {_W} {h}" width="{_W}" '
             f'height="{h}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{mid:.1f}" y1="0" x2="{mid:.1f}" y2="{h - 18}" stroke="#8a9099" stroke-width="1"/>']
    for i, f in enumerate(items):
        c = float(f.get("contribution") or 0)
        y = i * (bar_h + gap) + 4
        w = abs(c) / span * half
        x = mid if c >= 0 else mid - w
        colour = "#d93026" if c >= 0 else "#2e8b57"
        label = escape(str(f.get("label") or f.get("feature") or ""))[:28]
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="13">{label}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" fill="{colour}">'
                     f'<title>{escape(str(f.get("phrase") or ""))}</title></rect>')
        tx = (x + w + 4) if c >= 0 else (x - 4)
        anchor = "start" if c >= 0 else "end"
        parts.append(f'<text x="{tx:.1f}" y="{y + 13}" text-anchor="{anchor}" font-size="12" fill="#555">'
                     f'{c:+.2f}</text>')
    parts.append(f'<text x="{mid:.1f}" y="{h - 4}" text-anchor="middle" font-size="11" fill="#8a9099">'
                 f'← 降低风险　对数几率贡献　升高风险 →</text></svg>')
    return "".join(parts)


def score_chart(points: list[tuple[str, float]]) -> str:
    """A small line of (label, score in [0, 1]) points, oldest first."""
    pts = [(str(t), float(s)) for t, s in points if s is not None]
    if not pts:
        return ""
    h, pad = 120, 30
    top = max(max(s for _, s in pts) * 1.15, 0.05)
    step = (_W - 2 * pad) / max(len(pts) - 1, 1)
    xy = [(pad + i * step, h - pad - s / top * (h - 2 * pad)) for i, (_, s) in enumerate(pts)]
    poly = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    parts = [f'<svg class="chart" role="img" aria-label="评分历史" viewBox="0 0 {_W} {h}" width="{_W}" height="{h}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{pad}" y1="{h - pad}" x2="{_W - pad}" y2="{h - pad}" stroke="#c0c4cc"/>',
             f'<polyline points="{poly}" fill="none" stroke="#1677ff" stroke-width="2"/>']
    for (x, y), (t, s) in zip(xy, pts, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#1677ff">'
                     f'<title>{escape(t)}：{s:.1%}</title></circle>')
        parts.append(f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" font-size="11">{s:.1%}</text>')
    parts.append(f'<text x="{pad}" y="{h - 10}" font-size="11" fill="#8a9099">{escape(pts[0][0])}</text>')
    if len(pts) > 1:
        parts.append(f'<text x="{_W - pad}" y="{h - 10}" text-anchor="end" font-size="11" fill="#8a9099">'
                     f'{escape(pts[-1][0])}</text>')
    parts.append("</svg>")
    return "".join(parts)
