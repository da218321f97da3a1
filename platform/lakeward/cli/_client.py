"""The CLI as a client of ``lakeward server`` (``LAKEWARD_SERVER_URL`` set).

The command line is sent as it is; the server runs the same command as the token's
principal and returns what it printed and its exit code. Files the command reads from this
machine (a candidate bundle directory, a stream definition, a glossary or schema file) are
uploaded with it; ``glossary export --output FILE`` is written here. ``he``
(your keys and ciphertexts) and ``server`` run here.
"""

from __future__ import annotations

import sys
from typing import Any

from lakeward.client import pack_uploads

__all__ = ["forwards", "run_remote"]

LOCAL_GROUPS = {"server", "he"}


def forwards(argv: list[str]) -> bool:
    """Whether ``argv`` runs at the server."""
    from lakeward.identity import server_url

    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] in LOCAL_GROUPS:
        return False
    if any(a in ("-h", "--help", "--version") for a in argv):
        return False
    try:
        return server_url() is not None
    except Exception:
        return True  # let run_remote report the bad setting


def run_remote(argv: list[str]) -> int:
    """Run ``argv`` at the server; print its output; return its exit code."""
    import httpx

    from lakeward.cli._output import err
    from lakeward.errors import LakewardError
    from lakeward.identity import local_token, server_url

    try:
        url = server_url()
        token = local_token()
        if token is None:
            from lakeward.identity import credentials_file

            err.print(
                "error: LAKEWARD_SERVER_URL is set but there is no token: set LAKEWARD_TOKEN or "
                f"put the token from `lakeward token issue` in {credentials_file()} (mode 600).",
                highlight=False,
                markup=False,
            )
            return 1
        argv, output = _client_output(argv)
        args, uploads = pack_uploads(argv)
    except LakewardError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        return exc.exit_code
    try:
        response = httpx.post(
            f"{url}/api/v1/commands",
            json={"argv": args, "uploads": uploads},
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, read=None),
        )
    except httpx.HTTPError as exc:
        err.print(
            f"error: cannot reach the Lakeward server at {url} ({type(exc).__name__}: {exc}); "
            "check LAKEWARD_SERVER_URL and that `lakeward server` runs.",
            highlight=False,
            markup=False,
        )
        return 2
    data = _json(response)
    if output is not None and response.status_code == 200 and data.get("exit_code") == 0:
        from pathlib import Path

        Path(output).write_text(data.get("stdout", ""), encoding="utf-8")
        sys.stderr.write(data.get("stderr", ""))
        err.print(f"wrote {output}", highlight=False, markup=False)
        return 0
    run = data.get("run")
    if response.status_code == 200 and isinstance(run, dict) and "--wait" in argv:
        return _wait(url, token, run, "--json" in argv)  # type: ignore[arg-type]
    return _print_response(response.status_code, data)


def _client_output(argv: list[str]) -> tuple[list[str], str | None]:
    """``glossary export --output FILE``: the server prints, this client writes FILE."""
    words = [a for a in argv if not a.startswith("-")]
    if words[:2] != ["glossary", "export"]:
        return argv, None
    args: list[str] = []
    output = None
    rest = iter(argv)
    for arg in rest:
        if arg in ("-o", "--output"):
            output = next(rest, None)
        elif arg.startswith("--output="):
            output = arg.split("=", 1)[1]
        elif arg.startswith("-o") and len(arg) > 2:
            output = arg[2:]
        else:
            args.append(arg)
    return args, output


def _wait(url: str, token: str, run: dict[str, Any], as_json: bool) -> int:
    """Poll the run until it finishes, its state on stderr; exit 0 only if it completed."""
    import json
    import time

    import httpx

    from lakeward.cli._output import err

    last = run.get("state")
    err.print(f"run {run['run_id']}: {last}", highlight=False, markup=False)
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        while True:
            time.sleep(1.0)
            try:
                response = client.get(f"{url}/api/v1/runs/{run['run_id']}")
            except httpx.HTTPError as exc:
                err.print(f"  (server unreachable: {exc}; retrying)", highlight=False)
                continue
            data = _json(response)
            if response.status_code != 200:
                return _print_response(response.status_code, data)
            if data.get("state") != last:
                last = data.get("state")
                err.print(f"run {run['run_id']}: {last}", highlight=False, markup=False)
            if data.get("finished"):
                if as_json:
                    sys.stdout.write(json.dumps(data, indent=2) + "\n")
                return 0 if data.get("state") == "COMPLETED" else 1


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"detail": response.text[:500]}
    return data if isinstance(data, dict) else {"detail": str(data)}


def _print_response(status: int, data: dict[str, Any]) -> int:
    from lakeward.cli._output import err

    if "exit_code" in data:
        sys.stdout.write(data.get("stdout", ""))
        sys.stdout.flush()
        sys.stderr.write(data.get("stderr", ""))
        sys.stderr.flush()
        return int(data["exit_code"])
    detail = data.get("detail")
    if isinstance(detail, list):  # 422: pydantic's list of field errors
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail
        )
    labels = {401: "not authenticated", 403: "denied", 413: "request too large"}
    label = labels.get(status, f"server answered {status}")
    err.print(f"error: {label}: {detail}", highlight=False, markup=False)
    if status in (401, 403):
        return 1
    return 2
