"""Bounded load test of the service on loopback: latency and throughput of the hot endpoints.

Starts its own ``bentoml serve bento.service:Moodtune`` on a free port, with the feedback store
pointed at a temporary SQLite file (the project's feedback database is never touched), then
runs one phase per endpoint: ``--clients`` concurrent keep-alive clients for ``--duration``
seconds each:

* ``recommend``       a playlist of ``--playlist`` random catalog ids, k=10;
* ``recommend_text``  a Chinese sentence from a fixed list, k=10 (``--text-mode``: calm, the
                      service's default, ranks the whole catalog with the policy; match, the nearest);
* ``feedback``        the eight HRV metrics for a track of a recommendation made in phase 1.

Prints p50/p99 latency, requests/s and the 4xx/5xx counts per phase, then the feedback rows
the service acknowledged (HTTP 200 with an id) against the rows found in the database
afterwards: they must be equal. Targets on 2 cores: recommend_text p99 <= 50 ms, recommend
and feedback p99 <= 100 ms at 50 concurrent clients (feedback also >= 1,000 req/s), no 5xx,
no lost rows. Missed latency targets are
printed (they depend on the machine); exit status 1 on any 5xx or lost row. ``--url``
measures an already running service instead (then the database check is skipped unless
``--feedback-db`` names its file).

The clients speak plain HTTP/1.1 over asyncio streams (no client library, uvloop when
installed), so the load generator spends little of the two cores the server needs; its own
CPU time per request is printed beside the server's.

First, in-process, the reference comparison of the benchmarks/ convention: 50 threads
logging recommendation events through the service's group-committing ``EventWriter`` vs one
commit per event through ``FeedbackStore.record_recommendation``; the ratio is printed.

    python benchmarks/service.py                 # the defaults: 50 clients, 10 s per phase
    python benchmarks/service.py --duration 20 --clients 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bento/ (make bench sets PYTHONPATH too)

from moodtune.serving.requests import AnalyzeHrvRequest  # noqa: E402

TEXTS = [
    "今天阳光很好，心情特别愉快",
    "想念你，好难过",
    "考试没考好，很失望也很伤心",
    "和朋友一起出去玩，开心极了",
    "晚上一个人走在路上有点害怕",
    "终于放假了，轻松又快乐",
    "他总是骗我，我很生气",
    "工作压力太大，心里很烦躁很害怕",
    "收到礼物，感动又惊喜",
    "安安静静地喝杯茶，很安心",
    "思念远方的家人",
    "这首歌让我想起美好的时光",
]
METRICS = AnalyzeHrvRequest.EXAMPLE["metrics"]  # a reading the service accepts (its docs' example)
TARGETS_MS = {"recommend": 100.0, "recommend_text": 50.0, "feedback": 100.0}


# --- a minimal HTTP/1.1 keep-alive client -----------------------------------------------------------


def run_loop(coro):
    """``asyncio.run`` on uvloop when it is installed (it comes with BentoML's uvicorn): the
    load generator then takes about a third less of the CPU the server needs."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict) -> tuple[int, bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            sock = self.writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Phase:
    name: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    status: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    answered: int = 0  # every answered request, warm-up included (for CPU per request)
    split: str = "-"  # clients per worker, sampled half-way through

    def row(self) -> dict:
        lat = np.asarray(self.latencies) * 1000
        fours = sum(n for s, n in self.status.items() if 400 <= s < 500)
        fives = sum(n for s, n in self.status.items() if s >= 500)
        return {
            "endpoint": self.name,
            "clients": self.clients,
            "requests": len(lat),
            "req_per_s": len(lat) / self.seconds if self.seconds else 0.0,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
            "4xx": fours,
            "5xx": fives,
        }


async def run_phase(
    name: str,
    host: str,
    port: int,
    clients: int,
    seconds: float,
    make_payload,
    on_answer=None,
    warmup: float = 1.0,
    sample_split=None,
) -> Phase:
    phase = Phase(name, clients)
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + seconds

    async def client(i: int) -> None:
        conn = Connection(host, port)
        rng = random.Random(i)
        try:
            while time.perf_counter() < end:
                payload = make_payload(rng)
                t0 = time.perf_counter()
                status, data = await conn.post(f"/{name}", payload)
                t1 = time.perf_counter()
                phase.answered += 1
                if t0 >= measure_from:
                    phase.latencies.append(t1 - t0)
                    phase.status[status] = phase.status.get(status, 0) + 1
                    if status >= 400 and len(phase.errors) < 3:
                        phase.errors.append(f"{status}: {data[:200]!r}")
                if on_answer is not None:
                    on_answer(status, data, payload, counted=t0 >= measure_from)
        finally:
            await conn.close()

    async def sampler() -> None:
        await asyncio.sleep(warmup + seconds / 2)
        phase.split = sample_split()

    await asyncio.gather(*(client(i) for i in range(clients)), *([sampler()] if sample_split else []))
    phase.seconds = time.perf_counter() - measure_from
    return phase


# --- the server -------------------------------------------------------------------------------------


def process_tree(root: int | None) -> dict[int, float]:
    """Pid -> user + system CPU seconds of a process and all its live descendants (Linux /proc);
    the BentoML workers run in sessions of their own, so the tree is followed by parent pid."""
    if root is None:
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # after "pid (name)": state ppid pgrp ... utime (index 11) stime (12)
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return {pid: stats[pid][1] for pid in tree if pid in stats}


def tree_cpu_seconds(root: int | None) -> float:
    """CPU seconds of the service's whole process tree (see :func:`process_tree`)."""
    return sum(process_tree(root).values())


def client_split(root: int | None, port: int) -> str:
    """How the open client connections are spread over the service's processes, e.g. ``26/24``."""
    from bento.testing import connections_by_process

    counts = sorted((n for n in connections_by_process(process_tree(root), port).values() if n), reverse=True)
    return "/".join(map(str, counts)) or "-"


def wait_settled(root: int | None, timeout: float = 180.0, idle_cpu: float = 0.1) -> float:
    """Wait until the service's processes use under ``idle_cpu`` of a core: ``/readyz`` answers
    as soon as one worker is ready, while another may still be loading its models (which would
    take CPU from the first phase and leave that worker few of the clients). Seconds waited."""
    start = time.perf_counter()
    if root is None:
        return 0.0
    last, calm = tree_cpu_seconds(root), 0
    while time.perf_counter() - start < timeout and calm < 2:
        time.sleep(0.5)
        now = tree_cpu_seconds(root)
        calm = calm + 1 if now - last < idle_cpu * 0.5 else 0
        last = now
    return time.perf_counter() - start


def post(url: str, endpoint: str, payload: dict) -> dict:
    req = urllib.request.Request(
        f"{url}/{endpoint}", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def catalog_ids(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/ui/api/catalog?limit=1000", timeout=30) as r:
        return [t["track_id"] for t in json.loads(r.read())["tracks"]]


def event_log_reference(settings, threads: int = 50, per_thread: int = 4) -> None:
    """In-process: ``threads`` writers logging recommendation events (24 candidates each)
    through the service's group-committing EventWriter vs one commit per event through
    FeedbackStore.record_recommendation (the reference), on the same kind of SQLite file."""
    import threading

    from moodtune.feedback import FeedbackStore
    from moodtune.registry.names import POLICY
    from moodtune.serving.eventlog import EventWriter, RecommendationEvent

    rng = np.random.default_rng(0)
    candidates = [
        {
            "track_id": f"t{i}",
            "features": {f"f{j}": float(v) for j, v in enumerate(rng.random(10).round(6))},
            "score": float(-rng.random()),
            "probability": 1 / 24,
        }
        for i in range(24)
    ]
    event = RecommendationEvent(
        source="catalog",
        age=30,
        gender="female",
        mood=3,
        candidates=candidates,
        chosen=[c["track_id"] for c in candidates[:10]],
        model_versions={POLICY: "1"},
    )

    def timed(log_one) -> float:
        barrier = threading.Barrier(threads)

        def work():
            barrier.wait()
            for _ in range(per_thread):
                log_one()

        pool = [threading.Thread(target=work) for _ in range(threads)]
        start = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="moodtune-bench-log-") as tmp:
        grouped_store = FeedbackStore(f"sqlite:///{tmp}/grouped.db", settings=settings)
        writer = EventWriter(grouped_store)
        grouped = timed(lambda: writer.record_recommendation(event))
        writer.close()
        plain_store = FeedbackStore(f"sqlite:///{tmp}/plain.db", settings=settings)
        plain_store.ensure_schema()
        plain = timed(lambda: plain_store.record_recommendation(event))
        n = threads * per_thread
        assert grouped_store.count_recommendations() == plain_store.count_recommendations() == n
    print(
        f"event log, {threads} concurrent writers x {per_thread} events: group commit {n / grouped:7.0f} events/s "
        f"({writer.commits} commits), one commit per event (FeedbackStore) {n / plain:7.0f} events/s: "
        f"ratio {plain / grouped:.1f}x"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="measure a running service instead of starting one")
    parser.add_argument("--feedback-db", help="with --url: the service's SQLite feedback file, to count rows")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--text-clients", type=int, default=None, help="clients for recommend_text (default --clients)"
    )
    parser.add_argument(
        "--text-mode",
        choices=("calm", "match"),
        default="calm",
        help="recommend_text's mode: calm (the policy over the catalog, the default) or match",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per phase (after 1 s of warm-up)"
    )
    parser.add_argument("--playlist", type=int, default=24, help="catalog ids per recommend request")
    parser.add_argument("--workers", type=int, default=None, help="BentoML workers (default: params.yaml)")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the in-process event-log comparison"
    )
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="PATCH",
        help="serve without this patch of bento/patches.py (repeatable), to measure what it buys",
    )
    args = parser.parse_args(argv)
    if not args.no_reference:
        from moodtune.settings import get_settings

        event_log_reference(get_settings())

    service = None
    tmp = tempfile.TemporaryDirectory(prefix="moodtune-bench-")
    db_path = Path(args.feedback_db) if args.feedback_db else None
    if args.url:
        url = args.url.rstrip("/")
    else:
        from bento.testing import ServiceProcess, import_models

        db_path = Path(tmp.name) / "feedback.db"
        env = {
            **os.environ,
            "MOODTUNE_FEEDBACK__URL": f"sqlite:///{db_path}",
            "BENTOML_DO_NOT_TRACK": "True",
            "MOODTUNE_SERVICE__RATE_LIMIT_PER_MINUTE": "0",  # the load comes from one address
            "MOODTUNE_BENTO_PATCHES_OFF": ",".join(args.without),
        }
        if args.workers:
            env["MOODTUNE_SERVICE__WORKERS"] = str(args.workers)
        import_models(env)
        service = ServiceProcess(env, Path(tmp.name) / "service.log")
        url = service.url
    try:
        if service is not None:
            service.start()
            print(f"service ready; its workers settled {wait_settled(service.proc.pid):.1f} s later")
        host, port = url.split("//", 1)[1].split(":")
        port = int(port)
        ids = catalog_ids(url)
        size = min(args.playlist, len(ids))
        print(
            f"service {url}: catalog of {len(ids)} tracks; {args.clients} clients, {args.duration:g} s per "
            f"phase; {os.cpu_count()} CPUs"
        )

        pairs: list[tuple[str, str]] = []

        def keep_pair(status, data, payload, counted):
            if status == 200 and len(pairs) < 5000:
                answer = json.loads(data)
                pairs.append((answer["recommendation_id"], answer["tracks"][0]["track_id"]))

        acknowledged: list[int] = []

        def keep_ack(status, data, payload, counted):
            if status == 200:
                acknowledged.append(int(json.loads(data)["id"]))

        def rec_payload(rng):
            return {
                "track_ids": rng.sample(ids, size),
                "age": rng.randint(18, 70),
                "gender": rng.choice(["female", "male"]),
                "mood": rng.randint(1, 5),
                "k": 10,
            }

        def text_payload(rng):
            return {"text": rng.choice(TEXTS), "k": 10, "mode": args.text_mode}

        def feedback_payload(rng):
            rec_id, track = rng.choice(pairs)
            return {"recommendation_id": rec_id, "track_id": track, "metrics": METRICS}

        group = service.proc.pid if service is not None else None  # the `bentoml serve` process
        phases, cpu_ms, client_ms, loads = [], [], [], []
        for name, clients, payload, hook in (
            ("recommend", args.clients, rec_payload, keep_pair),
            ("recommend_text", args.text_clients or args.clients, text_payload, None),
            ("feedback", args.clients, feedback_payload, keep_ack),
        ):
            loads.append(os.getloadavg()[0])
            before, own_before = tree_cpu_seconds(group), time.process_time()
            phase = run_loop(
                run_phase(
                    name,
                    host,
                    port,
                    clients,
                    args.duration,
                    payload,
                    hook,
                    sample_split=(lambda: client_split(group, port)) if group else None,
                )
            )
            phases.append(phase)
            used, own = tree_cpu_seconds(group) - before, time.process_time() - own_before
            cpu_ms.append(used * 1000 / max(1, phase.answered) if group else float("nan"))
            client_ms.append(own * 1000 / max(1, phase.answered))
        rows = [p.row() for p in phases]
        print(
            f"\n{'endpoint':16} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'4xx':>5} {'5xx':>5} {'CPU ms/req srv':>14} {'client':>6} {'load':>5} {'split':>7}"
        )
        for r, c, own, load, p in zip(rows, cpu_ms, client_ms, loads, phases, strict=True):
            print(
                f"{r['endpoint']:16} {r['clients']:7d} {r['requests']:8d} {r['req_per_s']:8.1f} "
                f"{r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['4xx']:5d} {r['5xx']:5d} {c:14.2f} {own:6.2f} "
                f"{load:5.2f} {p.split:>7}"
            )
        print(
            "(CPU ms/req: CPU time per request, warm-up included, of the service's processes (srv) and of "
            "this load generator (client); load: the machine's 1-minute load average when the phase started; "
            "split: the clients' connections per worker half-way through)"
        )
        for p in phases:
            for e in p.errors:
                print(f"  {p.name} error {e}")

        fast = correct = True  # latency targets (machine-dependent) / no 5xx, no lost row (never)
        for r in rows:
            target = TARGETS_MS.get(r["endpoint"])
            if target is not None and r["clients"] < 50:
                print(
                    f"({r['endpoint']}: latency targets are set at 50 clients; not judged at {r['clients']})"
                )
            elif target is not None and not r["p99_ms"] <= target:
                print(f"MISSED: {r['endpoint']} p99 {r['p99_ms']:.1f} ms > {target:.0f} ms")
                fast = False
            if r["5xx"]:
                print(f"FAILED: {r['endpoint']} answered {r['5xx']} requests with 5xx")
                correct = False
        if db_path is not None and db_path.exists():
            with sqlite3.connect(db_path) as conn:
                ids_in_db = {row[0] for row in conn.execute("SELECT id FROM feedback")}
            found = sum(1 for i in acknowledged if i in ids_in_db)
            print(
                f"\nfeedback rows acknowledged: {len(acknowledged)}, found in the database: {found} "
                f"(lost: {len(acknowledged) - found})"
            )
            correct = correct and found == len(acknowledged)
        else:
            print(f"\nfeedback rows acknowledged: {len(acknowledged)} (database not checked)")
        print(
            ("latency targets met" if fast else "latency targets MISSED")
            + "; "
            + ("no 5xx, no lost feedback row" if correct else "5xx answers or LOST ROWS")
        )
        return 0 if correct else 1
    finally:
        if service is not None:
            service.stop()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
