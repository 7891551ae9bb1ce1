"""The monitoring notebook runs end to end on a small world (executed cell by cell in one namespace,
or with nbclient when installed)."""

import json
from pathlib import Path

import pytest

NB = Path(__file__).resolve().parents[2] / "notebooks" / "02_reading_monitoring_reports.ipynb"


@pytest.mark.slow
def test_monitoring_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIMENG_NB_PEOPLE", "30000")
    monkeypatch.setenv("WEIMENG_NB_DIR", str(tmp_path))
    nb = json.loads(NB.read_text(encoding="utf-8"))
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), "commit without outputs"
    ns: dict = {"__name__": "__notebook__"}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"<{NB.name}:{cell['id']}>", "exec"), ns)
    assert ns["result"].exit_code == 3
    assert (tmp_path / "reports").exists() and ns["report"].html.exists()
