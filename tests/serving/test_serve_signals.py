"""`weimeng serve` stops cleanly: SIGTERM (what systemd, supervisord or a container runtime sends) or
SIGINT to the PID that was started closes the port and leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._shared import free_port

pytestmark = pytest.mark.service

REPO = Path(__file__).resolve().parents[2]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start_serve(tmp_path: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """`weimeng serve` on a free port with a rules-only configuration (no world, no model: quick)."""
    import httpx

    home = tmp_path / "home"
    config = tmp_path / "serving.yaml"
    config.write_text(f"home: {home}\nrequire_model: false\ndata_dir: {tmp_path / 'no-world'}\n"
                      f"tracking_uri: sqlite:///{tmp_path / 'mlflow.db'}\nregistry_poll_seconds: 0\n",
                      encoding="utf-8")
    env = {**os.environ, "WEIMENG_HOME": str(home), "WEIMENG_PROGRESS": "0", "BENTOML_DO_NOT_TRACK": "true"}
    env.pop("WEIMENG_DATABASE_URL", None)
    last = ""
    for _ in range(3):  # BentoML's internal ports can be taken between its pick and its bind (busy machine)
        port = free_port()
        cmd = [sys.executable, "-m", "weimeng.cli", "serve", "--port", str(port), "--config", str(config), "--no-auth"]
        with open(log, "w") as fh:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return proc, port
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        last = log.read_text()[-3000:]
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if "Address already in use" not in last:
            break
    pytest.fail(f"weimeng serve did not become ready:\n{last}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_weimeng_serve_stops_the_server_and_leaves_nothing(tmp_path, sig):
    import psutil

    log = tmp_path / "serve.log"
    proc, port = _start_serve(tmp_path, log)
    family = [proc.pid]
    try:
        family += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert len(family) >= 2, "expected BentoML's workers under the started PID"
        os.kill(proc.pid, sig)  # only the PID we started, as a supervisor does
        proc.wait(timeout=60)
        deadline = time.time() + 20
        while time.time() < deadline and (_port_open(port) or _alive(family)):
            time.sleep(0.2)
        assert not _port_open(port), f"port {port} still answers after {sig.name}:\n{log.read_text()[-2000:]}"
        assert not _alive(family), f"left running after {sig.name}: {_alive(family)}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _alive(family):  # only what this test started
            psutil.Process(pid).kill()


def _alive(pids: list[int]) -> list[int]:
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out
