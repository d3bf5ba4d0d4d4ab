"""A real Prefect install on loopback, for the cluster test and the scale benchmark: a Prefect
server on its own PostgreSQL database, a process work pool, the `relance-day-shard` deployment
from prefect.yaml, and process workers, each a subprocess in its own session so that it can be
killed with its flow-run children (SIGKILL, as a machine that dies). `close()` ends every process
it started, by pid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "relance"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(drivername="postgresql+psycopg", database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("select 1 from pg_database where datname = :n"), {"n": parsed.database}):
            conn.execute(text(f'create database "{parsed.database}"'))
    admin.dispose()


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc (children may start their own sessions)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if proc.poll() is not None:
        return
    pids = [proc.pid, *_descendants(proc.pid)]
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass


class Cluster:
    def __init__(self, root: Path, *, relance_db_url: str, prefect_db_url: str, outbox: Path):
        self.root = Path(root)
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.relance_db_url = relance_db_url
        self.prefect_db_url = prefect_db_url
        self.outbox = outbox
        self.server: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    # -- environment -------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RELANCE_"))}
        env.update({
            "PREFECT_HOME": str(self.root / "prefect-home"),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            "PREFECT_CLI_PROMPT": "false",
            "RELANCE_HOME": str(REPO_ROOT),
            "RELANCE_DATABASE_URL": self.relance_db_url,
            "RELANCE_OUTBOX_DIR": str(self.outbox),
            "RELANCE_LETTERS": "sandbox",
        })
        env.update(extra)
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        return subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    # -- server, pool, deployment ----------------------------------------------------------

    def start_server(self, timeout: float = 180) -> None:
        ensure_database(self.prefect_db_url)
        env = self.env(PREFECT_SERVER_DATABASE_CONNECTION_URL=self.prefect_db_url,
                       PREFECT_SERVER_LOGGING_LEVEL="WARNING")
        env.pop("PREFECT_API_URL")
        self.server = self._spawn("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                             "--port", str(self.port)], env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"Prefect server exited: see {self.logs / 'server.log'}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"Prefect server not healthy after {timeout} s")

    def prefect(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run([str(BIN / "prefect"), *args], cwd=REPO_ROOT, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def deploy(self) -> None:
        """The work pool, then the shard deployment exactly as prefect.yaml declares it."""
        pools = httpx.post(f"{self.api_url}/work_pools/filter", json={}, timeout=10).json()
        if POOL not in {p["name"] for p in pools}:
            self.prefect("work-pool", "create", POOL, "--type", "process")
        self.prefect("--no-prompt", "deploy", "--name", "relance-day-shard", "--prefect-file",
                     str(REPO_ROOT / "prefect.yaml"))

    # -- workers -----------------------------------------------------------------------------

    def start_worker(self, name: str, *, limit: int = 2) -> None:
        env = self.env(RELANCE_WORKER_NAME=name)
        self.workers[name] = self._spawn(
            f"worker-{name}", [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", name,
                               "--limit", str(limit), "--type", "process"], env)

    def kill_worker(self, name: str) -> None:
        kill_tree(self.workers.pop(name), signal.SIGKILL)

    # -- the day -----------------------------------------------------------------------------

    def start_day(self, as_of: str, *, shards: int, shard_timeout: float) -> subprocess.Popen:
        """The day's parent flow in its own process, talking to the server; its shards go to the
        workers. Its summary is the last line of its output."""
        code = ("import json, sys; from datetime import datetime; from flows.relance_day import relance_day; "
                f"s = relance_day(as_of=datetime.fromisoformat({as_of!r}), shards={shards}, "
                f"shard_timeout={shard_timeout}, fan_out='deployments'); print(json.dumps(s, default=str))")
        return subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=self.env(), stdout=subprocess.PIPE,
                                stderr=open(self.logs / "day.log", "ab"), text=True, start_new_session=True)

    def run_day(self, as_of: str, *, shards: int, timeout: float, shard_timeout: float | None = None) -> dict | None:
        proc = self.start_day(as_of, shards=shards, shard_timeout=shard_timeout or timeout)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            raise
        lines = [line for line in out.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if proc.returncode == 0 and lines else None

    def close(self) -> None:
        for name in list(self.workers):
            kill_tree(self.workers.pop(name), signal.SIGKILL)
        if self.server is not None:
            kill_tree(self.server, signal.SIGTERM)
            kill_tree(self.server, signal.SIGKILL)
            self.server = None
