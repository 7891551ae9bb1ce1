"""QR codes for the tip page, one per building (standard address), to print and post at the entrance.

Each code encodes ``{base_url}/tip/{address_code}`` and is written as an SVG (segno, pure Python) with the
address code printed under it, plus ``index.csv`` (address code, grid, file, URL) for the print shop.

>>> tip_url("https://weimeng.example/", "510107001002-0012")
'https://weimeng.example/tip/510107001002-0012'
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from common.errors import BadInput

__all__ = ["tip_url", "write_qr_codes"]


def tip_url(base_url: str, address_code: str) -> str:
    return f"{base_url.rstrip('/')}/tip/{address_code}"


def write_qr_codes(addresses: pd.DataFrame, base_url: str, out: str | Path, *, prefix: str | None = None,
                   limit: int | None = None) -> int:
    """Write an SVG per address (those whose code starts with ``prefix``, a village/township/county code); returns
    how many were written."""
    import segno

    if not base_url.startswith(("http://", "https://")):
        raise BadInput(f"二维码地址须以 http:// 或 https:// 开头 / base URL {base_url!r} must start with http(s)://",
                       field="base_url")
    rows = addresses
    if prefix:
        rows = rows[rows["address_code"].astype(str).str.startswith(prefix)]
    if limit is not None:
        rows = rows.head(limit)
    if rows.empty:
        raise BadInput(f"没有符合条件的地址 / no address starts with {prefix!r}.", field="prefix")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "index.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["address_code", "grid_id", "file", "url"])
        for code, grid in zip(rows["address_code"].astype(str), rows["grid_id"].astype(str), strict=True):
            url = tip_url(base_url, code)
            name = f"{code}.svg"
            segno.make(url, error="m").save(str(out / name), kind="svg", scale=6, border=4,
                                            title=f"未萌 匿名线索 {code}")
            w.writerow([code, grid, name, url])
    return len(rows)
