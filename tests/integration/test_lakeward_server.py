"""A real `lakeward server` on 127.0.0.1, driven by the CLI with tokens (and by raw HTTP).

Runs over the SQLite catalog, and over PostgreSQL when LAKEWARD_TEST_POSTGRES_URL is set.
Each bad-input case of the issue gets its status and changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from lakeward.identity import os_user
from tests.integration.conftest import BIN, REPO

pytestmark = pytest.mark.server


def _bundle(tmp_path: Path) -> Path:
    """The default bundle with this OS user mapped to dave (an admin) and alice's OIDC subject."""
    target = tmp_path / "policies"
    shutil.copytree(REPO / "policies", target)
    text = (target / "principals.yaml").read_text()
    text = text.replace('os_users: ["*"]', "os_users: []")
    text = text.replace(
        "dave: {groups: [stewards, admins]}",
        f"dave: {{groups: [stewards, admins], os_users: [{os_user()}]}}",
    )
    text = text.replace(
        "alice: {groups: [analysts]}", "alice: {groups: [analysts], oidc_subjects: [sub-alice]}"
    )
    (target / "principals.yaml").write_text(text)
    return target


def _env(tmp_path: Path, catalog_url: str, bundle: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEWARD_")}
    env |= {
        "LAKEWARD_HOME": str(tmp_path / "home"),
        "LAKEWARD_CATALOG_URL": catalog_url,
        "LAKEWARD_POLICY_DIR": str(bundle),
        "LAKEWARD_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        **extra,
    }
    return env


def cli(env: dict[str, str], *args: str, token: str | None = None) -> tuple[int, str, str]:
    env = dict(env)
    if token is not None:
        env["LAKEWARD_TOKEN"] = token
    result = subprocess.run(
        [str(BIN / "lakeward"), *args], capture_output=True, text=True, env=env, timeout=300
    )
    return result.returncode, result.stdout, result.stderr


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "lakeward"), "server", "--port", "0"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        deadline = time.time() + 120
        self.url = ""
        while time.time() < deadline:
            line = self.process.stderr.readline()
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {line}{self.process.stderr.read()}")
        assert self.url, "server did not start"
        self.log: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def deployment(tmp_path: Path, catalog_url: str) -> Iterator[tuple[Server, dict[str, str]]]:
    env = _env(tmp_path, catalog_url, _bundle(tmp_path), LAKEWARD_SERVER_MAX_BODY_BYTES="65536")
    code, _, err = cli(env, "catalog", "upgrade")
    assert code == 0, err
    server = Server(env)
    try:
        yield server, env | {"LAKEWARD_SERVER_URL": server.url}
    finally:
        server.stop()


def _issue(env: dict[str, str], principal: str, *extra: str) -> dict[str, Any]:
    local = {k: v for k, v in env.items() if k not in ("LAKEWARD_SERVER_URL", "LAKEWARD_TOKEN")}
    code, out, err = cli(local, "token", "issue", principal, "--json", *extra)
    assert code == 0, err
    return dict(json.loads(out))


def test_server_trust_boundary(deployment: tuple[Server, dict[str, str]]) -> None:
    server, env = deployment
    local = {k: v for k, v in env.items() if k != "LAKEWARD_SERVER_URL"}
    assert httpx.get(f"{server.url}/healthz").status_code == 200

    # Tokens: issued by an admin in embedded mode (the OS user is dave), shown once.
    dave = _issue(env, "dave")
    carol = _issue(env, "carol")
    carol2 = _issue(env, "carol")
    assert dave["token"].startswith("lkw_") and set(dave) >= {"principal", "token", "expires"}

    # No token, a garbage token, a raw request without a header: 401, nothing done.
    code, _, err = cli(env, "whoami", "--json")
    assert code == 1 and "no token" in err
    code, _, err = cli(env, "whoami", "--json", token="lkw_nope_nope")
    assert code == 1 and "not authenticated" in err
    response = httpx.post(f"{server.url}/api/v1/commands", json={"argv": ["catalog", "ls"]})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"

    # whoami says who the token is, at the server.
    code, out, _ = cli(env, "whoami", "--json", token=carol["token"])
    assert code == 0 and json.loads(out) == {
        "principal": "carol",
        "groups": ["stewards"],
        "mode": "server",
    }
    code, out, _ = cli(local, "whoami", "--json")
    assert json.loads(out) == {
        "principal": "dave",
        "groups": ["stewards", "admins"],
        "mode": "embedded",
    }

    # The same commands print the same JSON in both modes.
    for args in (
        ["catalog", "ls", "--json"],
        ["policy", "purpose", "ls", "--json"],
        ["policy", "explain", "alice", "lake.read_content", "ops.metrics", "--json"],
        ["policy", "budget", "show", "--json"],
        ["policy", "validate", "--json"],
        ["policy", "log", "--json"],
    ):
        embedded = cli(local, *args)
        remote = cli(env, *args, token=dave["token"])
        assert embedded[0] == remote[0], (args, embedded, remote)
        assert json.loads(embedded[1]) == json.loads(remote[1]), args

    # The Python client: the library's side of service mode.
    from lakeward.client import LakewardClient
    from lakeward.errors import NotAuthenticated, PolicyDenied

    with LakewardClient(server.url, carol["token"]) as lw:
        assert lw.whoami()["principal"] == "carol"
        assert lw.json("catalog", "ls") == json.loads(cli(local, "catalog", "ls", "--json")[1])
        decision = lw.explain("alice", "lake.read_content", "ops.metrics", purpose="analytics")
        assert decision["decision"] == "deny" and decision["principal"] == "alice"
        with pytest.raises(PolicyDenied, match="admins-administer"):
            lw.json("token", "issue", "erin")
    with pytest.raises(NotAuthenticated), LakewardClient(server.url, "lkw_x_y") as lw:
        lw.whoami()

    # An analyst cannot administer: 403-equivalent exit 1 with the policy's explanation.
    code, _, err = cli(env, "token", "issue", "erin", "--json", token=carol["token"])
    assert code == 1 and "admins-administer" in err

    # Acknowledging acts for the caller only; the audit record carries the token.
    code, out, _ = cli(
        env, "policy", "purpose", "ack", "data_governance", "--yes", token=carol["token"]
    )
    assert code == 0 and "carol acknowledged data_governance" in out
    code, out, _ = cli(env, "policy", "audit", "tail", "-n", "2", "--json", token=dave["token"])
    assert [r["principal"] for r in json.loads(out)] == ["carol", "carol"]

    # Two-person rule: carol's request is approved by neither of carol's tokens, but by dave.
    from lakeward.catalog import Catalog
    from lakeward.policy import Approvals, PolicyEngine, load_bundle
    from lakeward.policy._tests import seed_datasets

    catalog = Catalog.open(env["LAKEWARD_CATALOG_URL"])
    seed_datasets(catalog, {"ops.metrics": {"tags": [], "columns": {}}})
    engine = PolicyEngine(load_bundle(Path(env["LAKEWARD_POLICY_DIR"])), catalog)
    approval = Approvals(engine).request(
        "dedup", "dataset:ops.metrics", "carol", {"purpose": "data_governance"}
    )
    for token in (carol["token"], carol2["token"]):
        code, _, err = cli(env, "policy", "approval", "approve", str(approval.id), token=token)
        assert code == 1 and "cannot also decide" in err
    cli(local, "policy", "purpose", "ack", "data_governance", "--yes")  # dave, embedded
    code, out, err = cli(
        env, "policy", "approval", "approve", str(approval.id), token=dave["token"]
    )
    assert code == 0 and "approved by dave" in out, err

    # A revoked token stops working at once; the other token of the same principal does not.
    code, _, _ = cli(env, "token", "revoke", carol["token"].split("_")[1], token=dave["token"])
    assert code == 0
    code, _, err = cli(env, "whoami", token=carol["token"])
    assert code == 1 and "revoked" in err
    assert cli(env, "whoami", token=carol2["token"])[0] == 0

    # An expired token.
    brief = _issue(env, "erin", "--expires", "0.00001")
    time.sleep(1.5)
    code, _, err = cli(env, "whoami", token=brief["token"])
    assert code == 1 and "expired" in err

    # Wrong shape (422 naming the field) and a huge body (413); nothing written.
    headers = {"Authorization": f"Bearer {dave['token']}"}
    response = httpx.post(f"{server.url}/api/v1/commands", json={"argv": "ls"}, headers=headers)
    assert response.status_code == 422 and "argv" in response.text
    response = httpx.post(
        f"{server.url}/api/v1/commands",
        json={"argv": ["whoami"], "uploads": {"0": {"x": "y" * 100_000}}},
        headers=headers,
    )
    assert response.status_code == 413

    # Commands the server never runs for a client, and server paths a client may not name.
    code, _, err = cli(env, "lake", "generate", "/tmp/x", token=dave["token"])
    assert code == 2 and "not run by the server" in err
    for argv, message in (
        (["policy", "validate", "--bundle", "/etc", "--json"], "must name a file the client"),
        (["policy", "apply", "/etc", "--yes"], "needs the candidate uploaded"),
        (["dp", "stream", "create", "-f", "/etc/passwd"], "must name a file the client"),
        (["lake", "register", "/etc"], "LAKEWARD_LAKE_ROOT only"),
        (["dp", "plot", "x", "-o", "/tmp/x.png"], "not run by the server"),
    ):
        response = httpx.post(
            f"{server.url}/api/v1/commands",
            json={"argv": argv},
            headers={"Authorization": f"Bearer {dave['token']}"},
        )
        assert response.status_code == 400 and message in response.text, (argv, response.text)

    # A candidate bundle travels with `policy apply` and is installed as dave.
    candidate = Path(env["LAKEWARD_HOME"]).parent / "candidate"
    shutil.copytree(env["LAKEWARD_POLICY_DIR"], candidate)
    (candidate / "access.cedar").write_text((candidate / "access.cedar").read_text() + "\n//\n")
    for flag in (["--bundle", str(candidate)], [f"--bundle={candidate}"]):
        embedded = cli(local, "policy", "test", *flag, "--json")
        remote = cli(env, "policy", "test", *flag, "--json", token=dave["token"])
        assert embedded[0] == remote[0] == 0, remote
        assert json.loads(embedded[1]) == json.loads(remote[1])
    code, out, err = cli(
        env, "policy", "apply", str(candidate), "--yes", "--json", token=carol2["token"]
    )
    assert code == 1  # carol may not administer
    code, out, err = cli(
        env, "policy", "apply", str(candidate), "--yes", "--json", token=dave["token"]
    )
    assert code == 0 and json.loads(out)["applied"] is True, err
    code, out, _ = cli(env, "policy", "log", "--json", token=dave["token"])
    installed = Path(json.loads(out)[0]["path"])
    assert json.loads(out)[0]["applied_by"] == "dave"

    # An edited installed revision denies everything (within LAKEWARD_POLICY_RECHECK_S, 1 s).
    principals = installed / "principals.yaml"
    principals.write_text(
        principals.read_text().replace(
            "erin: {groups: [researchers]}", "erin: {groups: [researchers, admins]}"
        )
    )
    time.sleep(1.2)
    code, _, err = cli(env, "catalog", "ls", "--json", token=dave["token"])
    assert code == 1 and "was modified after" in err
    assert httpx.get(f"{server.url}/healthz").status_code == 503
    shutil.rmtree(installed)  # restored from the catalog's copy
    time.sleep(1.2)
    assert cli(env, "catalog", "ls", "--json", token=dave["token"])[0] == 0

    # Logs: JSON lines with request ids, never a token.
    time.sleep(0.2)
    lines = [json.loads(x) for x in server.log if x.startswith("{")]
    assert lines and all(len(x["request_id"]) >= 16 for x in lines if x["msg"] == "request")
    served = [x for x in lines if x["msg"] == "request"]
    assert {x["principal"] for x in served} >= {"carol", "dave", "-"}
    assert all("?" not in x["path"] for x in served)
    assert not any(dave["token"] in x or carol["token"] in x for x in server.log)


def test_unreachable_catalog_is_503(tmp_path: Path) -> None:
    env = _env(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none", _bundle(tmp_path))
    server = Server(env | {"LAKEWARD_CATALOG_CONNECT_TIMEOUT_S": "1"})
    try:
        assert httpx.get(f"{server.url}/livez").status_code == 200
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 503
        response = httpx.post(
            f"{server.url}/api/v1/commands",
            json={"argv": ["catalog", "ls"]},
            headers={"Authorization": "Bearer lkw_abc_def"},
            timeout=30,
        )
        assert response.status_code == 503, response.text
    finally:
        server.stop()


class _JWKS(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


def test_oidc_bearer_jwt(tmp_path: Path) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": "k1", "use": "sig", "alg": "RS256"}
    _JWKS.body = json.dumps({"keys": [jwk]}).encode()
    jwks = ThreadingHTTPServer(("127.0.0.1", 0), _JWKS)
    threading.Thread(target=jwks.serve_forever, daemon=True).start()
    issuer = "http://idp.test"
    env = _env(
        tmp_path,
        f"sqlite:///{tmp_path / 'catalog.db'}",
        _bundle(tmp_path),
        LAKEWARD_SERVER_OIDC_ISSUER=issuer,
        LAKEWARD_SERVER_OIDC_AUDIENCE="lakeward",
        LAKEWARD_SERVER_OIDC_JWKS_URL=f"http://127.0.0.1:{jwks.server_address[1]}/jwks",
    )
    server = Server(env)
    try:
        now = int(time.time())

        def token(**over: Any) -> str:
            claims = {
                "iss": issuer,
                "aud": "lakeward",
                "sub": "sub-alice",
                "iat": now,
                "exp": now + 300,
            }
            return jwt.encode(claims | over, key, algorithm="RS256", headers={"kid": "k1"})

        def whoami(credential: str) -> httpx.Response:
            return httpx.get(
                f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {credential}"}
            )

        response = whoami(token())
        assert response.status_code == 200 and response.json()["principal"] == "alice"
        for bad in (
            token(aud="other"),
            token(iss="http://evil.test"),
            token(exp=now - 600),
            token(sub="sub-unknown"),
        ):
            assert whoami(bad).status_code == 401
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(
            {"iss": issuer, "aud": "lakeward", "sub": "sub-alice", "iat": now, "exp": now + 300},
            other,
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        assert whoami(forged).status_code == 401
    finally:
        server.stop()
        jwks.shutdown()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


@pytest.fixture
def long_work_catalog(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL when the tier is on (the deployment shape), else SQLite: one run either way."""
    from tests.conftest import PG_URL, _fresh_pg_database

    if PG_URL:
        yield from _fresh_pg_database()
    else:
        yield f"sqlite:///{tmp_path / 'catalog.db'}"


def test_long_work_runs_as_a_deployment_for_its_requester(
    tmp_path: Path, long_work_catalog: str
) -> None:
    """`lake profile --wait` at the server: a deployment run by the worker's service principal,
    decided for the requester first, with the requester in every audit record of the run."""
    from tests.conftest import write_small_lake
    from tests.integration.conftest import free_port, script

    root = tmp_path / "lake"
    expected = write_small_lake(root)
    bundle = _bundle(tmp_path)
    env = _env(
        tmp_path,
        long_work_catalog,
        bundle,
        LAKEWARD_LAKE_ROOT=str(root),
        LAKEWARD_SPARK_MASTER="local[2]",
        LAKEWARD_BIN=str(BIN),
    )
    env = {k: v for k, v in env.items() if not k.startswith("PREFECT_")}
    assert cli(env, "catalog", "upgrade")[0] == 0
    scheduler = _issue(env, "lakeward-scheduler")["token"]
    carol = _issue(env, "carol")["token"]
    alice = _issue(env, "alice")["token"]
    # Each acknowledges for itself: the scheduler with its service credential, in embedded mode.
    for token in (scheduler, carol, alice):
        code, _, err = cli(
            env, "policy", "purpose", "ack", "catalog_maintenance", "--yes", token=token
        )
        assert code == 0, err
    state = tmp_path / "prefect"
    worker_env = env | {"LAKEWARD_TOKEN": scheduler}
    api = script(
        "prefect-server.sh", "start", str(state), str(free_port()), env=worker_env, timeout=240
    )
    server = None
    try:
        script("prefect-server.sh", "deploy", str(state), env=worker_env)
        server_env = env | {
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(state / "home"),
            "LAKEWARD_SERVER_LONG_WORK": "prefect",
        }
        server = Server(server_env)
        client = env | {"LAKEWARD_SERVER_URL": server.url}

        code, _, err = cli(client, "lake", "profile", "--json", token=alice)
        assert code == 1 and "DENY: alice flow.run" in err and "default deny" in err

        code, out, err = cli(client, "lake", "profile", "--wait", "--json", token=carol)
        assert code == 0, err
        run = json.loads(out)
        assert run["state"] == "COMPLETED" and run["requested_by"] == "carol"
        assert run["deployment"] == "profile_lake/profile-lake-nightly"
        assert "COMPLETED" in err  # the states were shown while waiting

        code, out, _ = cli(client, "catalog", "ls", "--json", token=carol)
        rows = {d["name"]: d["rows"] for d in json.loads(out)}
        assert rows == {k: v["rows"] for k, v in expected.items()}

        from lakeward.catalog import AuditLog, Catalog

        catalog = Catalog.open(env["LAKEWARD_CATALOG_URL"])
        records = AuditLog(catalog).tail(200)
        started = [r for r in records if r.action == "flow.run"]
        assert [(r.principal, r.decision) for r in started] == [
            ("alice", "deny"),
            ("carol", "allow"),
        ]
        profiled = [r for r in records if r.action == "lake.profile"]
        assert len(profiled) == len(expected)
        for r in profiled:
            assert r.principal == "lakeward-scheduler"
            assert r.request["identity"]["requested_by"] == "carol"
            assert r.request["identity"]["authenticated_by"].startswith("token:")
        catalog.dispose()

        # Without --wait: the run id at once.
        code, out, err = cli(client, "lake", "profile", token=carol)
        assert code == 0 and re.search(r"started run [0-9a-f-]{36}", out), err
    finally:
        if server is not None:
            server.stop()
        script("prefect-server.sh", "stop", str(state), env=worker_env)


def test_rag_queries_answer_as_the_authenticated_principal(
    deployment: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    """Each caller gets answers from what they may read; a store they cannot read is a 404
    identical to a store that does not exist; the CLI in client mode uploads its queries."""
    from tests.unit.rag.conftest import doc, write_store

    server, env = deployment
    write_store(
        Path(env["LAKEWARD_HOME"]) / "rag" / "kb",
        [
            doc("a1", "Backups run nightly. Restores take an hour.", ["user:alice"]),
            doc("b1", "Backups of the fraud database are encrypted.", ["group:fraud_team"]),
            doc("s1", "Salary backups are kept for ten years.", ["group:stewards"]),
        ],
    )
    tokens = {p: _issue(env, p)["token"] for p in ("alice", "bob", "erin")}
    for token in tokens.values():
        code, _, err = cli(
            env, "policy", "purpose", "ack", "document_retrieval", "--yes", token=token
        )
        assert code == 0, err
    url = f"{server.url}/api/v1/rag/kb/query"
    assert httpx.post(url, json={"text": "backups"}).status_code == 401

    def ask(who: str, store: str = "kb", **body: Any) -> httpx.Response:
        return httpx.post(
            f"{server.url}/api/v1/rag/{store}/query",
            json={"text": "when do backups run", **body},
            headers={"Authorization": f"Bearer {tokens[who]}"},
            timeout=120,
        )

    alice, bob = ask("alice"), ask("bob")
    assert alice.status_code == 200 and bob.status_code == 200
    assert {r["doc_id"] for r in alice.json()["results"]} == {"a1"}
    assert {r["doc_id"] for r in bob.json()["results"]} == {"b1"}
    assert set(alice.json()["citations"]) <= {"a1"}
    hidden, missing = ask("erin"), ask("erin", store="nothing-here")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("'kb'", "X") == missing.json()["detail"].replace(
        "'nothing-here'", "X"
    )
    assert ask("alice", k=0).status_code == 400
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"text": "when do backups run"}\n')
    code, out, err = cli(
        env, "rag", "query", "kb", "--queries", str(queries), "--json", token=tokens["alice"]
    )
    assert code == 0, err
    assert json.loads(out.strip()) == alice.json()
