"""What `lakeward server` costs: latency and throughput of a read and a policy explain.

Side by side, on the same catalog: the same operation in-process (embedded mode, what the
server does once a request is authenticated) and through the real server on 127.0.0.1
(token authentication against the catalog on every request, JSON over HTTP/1.1 keep-alive),
with 1 and 16 concurrent clients. Prints p50/p99 latency, requests/s and the ratios.

    .venv/bin/python bench/server.py [--seconds 5] [--clients 1,16] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return p50 * 1000, p99 * 1000


def _run(op: Callable[[], None], clients: int, seconds: float) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            op()
            latencies[i].append(time.perf_counter() - t)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    p50, p99 = _percentiles(flat)
    return {"n": len(flat), "rps": len(flat) / elapsed, "p50_ms": p50, "p99_ms": p99}


def _wrk(
    url: str,
    path: str,
    token: str,
    body: dict[str, object] | None,
    connections: int,
    seconds: float,
    work: Path,
) -> dict[str, float]:
    script = work / "wrk.lua"
    lines = [f'wrk.headers["Authorization"] = "Bearer {token}"']
    if body is not None:
        lines += [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = [[{json.dumps(body)}]]",
        ]
    script.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{max(1, int(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url + path,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    text = result.stdout
    if "Non-2xx" in text:
        raise SystemExit(f"wrk saw errors:\n{text}")

    def ms(label: str) -> float:
        found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        assert found, text
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    assert rps, text
    return {"rps": float(rps.group(1)), "p50_ms": ms("50%"), "p99_ms": ms("99%")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument(
        "--processes", type=int, default=1, help="LAKEWARD_SERVER_PROCESSES for the server"
    )
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    work = Path(tempfile.mkdtemp(prefix="lakeward-bench-server-"))
    bundle = work / "policies"
    shutil.copytree(REPO / "policies", bundle)
    from lakeward.identity import os_user

    text = (bundle / "principals.yaml").read_text().replace('os_users: ["*"]', "os_users: []")
    text = text.replace(
        "dave: {groups: [stewards, admins]}",
        f"dave: {{groups: [stewards, admins], os_users: [{os_user()}]}}",
    )
    (bundle / "principals.yaml").write_text(text)
    os.environ.update(
        {
            "LAKEWARD_HOME": str(work / "home"),
            "LAKEWARD_POLICY_DIR": str(bundle),
            "LAKEWARD_CREDENTIALS_FILE": str(work / "none"),
        }
    )
    os.environ.pop("LAKEWARD_CATALOG_URL", None)
    env = dict(os.environ)

    from lakeward.catalog import Catalog
    from lakeward.policy._tests import seed_datasets

    catalog = Catalog.shared()
    seed_datasets(
        catalog,
        {
            "sales.customers": {
                "tags": ["pii", "financial"],
                "columns": {"email": ["pii_direct"], "city": []},
            }
        },
    )
    issued = subprocess.run(
        [str(BIN / "lakeward"), "token", "issue", "dave", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    token = json.loads(issued.stdout)["token"]
    server = subprocess.Popen(
        [str(BIN / "lakeward"), "server", "--port", "0"],
        env=env | {"LAKEWARD_SERVER_PROCESSES": str(args.processes)},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    url = ""
    while not url:
        line = server.stderr.readline()
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            url = found.group(1)
        elif server.poll() is not None:
            raise SystemExit(f"server did not start: {line}")
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()  # type: ignore[union-attr]

    import httpx

    from lakeward.identity import Principal, acting_as
    from lakeward.policy import engine_for
    from lakeward.server._commands import install_capture, run_command

    install_capture()
    dave = Principal("dave", ("stewards", "admins"), "server", "bench")
    engine = engine_for(catalog)
    local_clients = threading.local()

    def http() -> httpx.Client:
        if not hasattr(local_clients, "c"):
            local_clients.c = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
        return local_clients.c  # type: ignore[no-any-return]

    explain_body = {
        "principal": "alice",
        "action": "lake.read_content",
        "resource": "sales.customers",
        "context": {"purpose": "analytics"},
    }

    def read_local() -> None:
        result = run_command(dave, ["catalog", "show", "sales.customers", "--json"])
        assert result.exit_code == 0, result.stderr

    def read_server() -> None:
        response = http().get("/api/v1/datasets/sales.customers")
        assert response.status_code == 200, response.text

    def explain_local() -> None:
        with acting_as(dave):
            engine.decide("alice", "lake.read_content", "sales.customers", {"purpose": "analytics"})

    def explain_server() -> None:
        response = http().post("/api/v1/policy/explain", json=explain_body)
        assert response.status_code == 200, response.text

    rows = []
    wrk_rows: list[tuple[str, int, dict[str, float]]] = []
    try:
        for _ in range(20):  # warm both paths (catalog, engine, JIT-free but cache-full)
            read_local()
            read_server()
            explain_local()
            explain_server()
        if shutil.which("wrk"):  # the server's own capacity, without a Python client's GIL
            for name, path, body in (
                ("catalog show", "/api/v1/datasets/sales.customers", None),
                ("policy explain", "/api/v1/policy/explain", explain_body),
            ):
                for n in clients:
                    wrk_rows.append((name, n, _wrk(url, path, token, body, n, args.seconds, work)))
        for name, local, remote in (
            ("catalog show", read_local, read_server),
            ("policy explain", explain_local, explain_server),
        ):
            local()
            remote()  # warm both
            for n in clients:
                a = _run(local, n, args.seconds)
                b = _run(remote, n, args.seconds)
                rows.append((name, n, a, b))
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"{'operation':<16}{'clients':>8}{'in-process p50/p99 ms':>24}{'server p50/p99 ms':>20}"
        f"{'added p50 ms':>14}{'in-proc req/s':>15}{'server req/s':>14}{'ratio':>8}"
    )
    for name, n, a, b in rows:
        print(
            f"{name:<16}{n:>8}{a['p50_ms']:>12.2f} /{a['p99_ms']:>8.2f}"
            f"{b['p50_ms']:>11.2f} /{b['p99_ms']:>7.2f}{b['p50_ms'] - a['p50_ms']:>14.2f}"
            f"{a['rps']:>15.0f}{b['rps']:>14.0f}{b['rps'] / a['rps']:>8.2f}"
        )
    if wrk_rows:
        print("\nwrk (HTTP/1.1 keep-alive, 2 threads), the server alone:")
        print(f"{'operation':<16}{'connections':>12}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
        for name, n, w in wrk_rows:
            print(f"{name:<16}{n:>12}{w['p50_ms']:>10.2f}{w['p99_ms']:>10.2f}{w['rps']:>10.0f}")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"server-p{args.processes}.json").write_text(
        json.dumps(
            [
                {"operation": r[0], "clients": r[1], "in_process": r[2], "server": r[3]}
                for r in rows
            ],
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
