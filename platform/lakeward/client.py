"""A Python client of ``lakeward server``: the library's side of service mode.

In a multi-user deployment the catalog credentials and lake secrets stay at the server, so
a Python user reaches Lakeward the way the CLI does, as the principal of their token::

    from lakeward.client import LakewardClient

    with LakewardClient() as lw:  # LAKEWARD_SERVER_URL and LAKEWARD_TOKEN (or credentials)
        me = lw.whoami()                                  # {"principal", "groups", "mode"}
        datasets = lw.json("catalog", "ls")               # what `catalog ls --json` prints
        decision = lw.explain("alice", "lake.read_content", "sales.customers",
                              purpose="analytics")

Every CLI command is available through :meth:`LakewardClient.command` (its exit code,
stdout and stderr, exactly as ``lakeward`` prints them) and :meth:`LakewardClient.json`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from lakeward.errors import (
    ConfigurationError,
    InputError,
    LakewardError,
    PolicyDenied,
    ServiceUnavailable,
    error_for_status,
)

__all__ = ["CommandOutput", "LakewardClient", "file_argument_index", "pack_uploads"]

_MAX_UPLOAD_FILES = 512
#: Upload key of a single file sent with its name (``file:<name>``): the server writes it
#: under that name, so a format told by the extension survives the trip.
NAMED_FILE = "file:"
#: Commands whose FILE argument is read from the caller's disk (uploaded with its name).
FILE_ARGUMENT_COMMANDS = (("glossary", "import"), ("catalog", "import-schema"))


@dataclass(frozen=True)
class CommandOutput:
    """What a command printed at the server, and its exit code."""

    exit_code: int
    stdout: str
    stderr: str
    run: dict[str, Any] | None = None


def _pack_dir(path: Path) -> dict[str, str]:
    files = {
        str(p.relative_to(path)): p.read_text()
        for p in sorted(path.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    if len(files) > _MAX_UPLOAD_FILES:
        from lakeward.errors import InputError

        raise InputError(f"{path} holds over {_MAX_UPLOAD_FILES} files; is it a policy bundle?")
    return files


def file_argument_index(argv: list[str]) -> int | None:
    """Where the FILE argument of a :data:`FILE_ARGUMENT_COMMANDS` command line is, or ``None``.

    Options are skipped as the command declares them (an option that takes a value skips
    the next word), so ``glossary import --name G FILE`` finds ``FILE``.
    """
    import click

    words = [a for a in argv if not a.startswith("-")]
    if tuple(words[:2]) not in FILE_ARGUMENT_COMMANDS:
        return None
    from lakeward.cli import cli

    group = cli.commands[words[0]]
    assert isinstance(group, click.Group)
    command = group.commands[words[1]]
    valued = {
        name
        for p in command.params
        if isinstance(p, click.Option) and not p.is_flag and not p.count
        for name in (*p.opts, *p.secondary_opts)
    }
    i = argv.index(words[1]) + 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return i + 1 if i + 1 < len(argv) else None
        if arg in valued:
            i += 2
        elif arg.startswith("-") and arg != "-":
            i += 1
        else:
            return i
    return None


def _pack_named_file(path: Path) -> dict[str, str]:
    from lakeward.errors import InputError

    if path.is_dir():
        raise InputError(f"{path} is a directory; give a file.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8."
        ) from None
    return {f"{NAMED_FILE}{path.name}": text}


def pack_uploads(argv: list[str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Replace arguments that name files on this machine with uploads of their contents.

    A candidate bundle (``policy apply|diff DIR``, ``--bundle DIR``) travels as its files, a
    stream definition (``dp stream create -f FILE``, ``-`` for stdin) as its text, a glossary
    or schema file (``glossary import FILE``, ``catalog import-schema FILE``) and a batch of
    queries (``rag query --queries FILE``) as its text with its name.

    Raises:
        InputError: a named file or directory does not exist here, or is not a bundle.
    """
    from lakeward.errors import InputError

    args = list(argv)
    uploads: dict[str, dict[str, str]] = {}
    words = [a for a in args if not a.startswith("-")]

    def upload(index: int, files: dict[str, str]) -> None:
        key = str(len(uploads))
        uploads[key] = files
        args[index] = f"@upload:{key}"

    def local(text: str) -> Path:
        path = Path(text).expanduser()
        if not path.exists():
            raise InputError(f"{text}: no such file or directory here")
        return path

    for i, arg in enumerate(list(args)):
        previous = args[i - 1] if i else ""
        if previous == "--bundle":
            upload(i, _pack_dir(local(arg)))
        elif arg.startswith("--bundle="):
            key = str(len(uploads))
            uploads[key] = _pack_dir(local(arg.split("=", 1)[1]))
            args[i] = f"--bundle=@upload:{key}"
        elif previous == "--queries" and words[:2] == ["rag", "query"]:
            upload(i, _pack_named_file(local(arg)))
        elif previous in ("-f", "--file") and words[:3] == ["dp", "stream", "create"]:
            text = sys.stdin.read() if arg == "-" else local(arg).read_text()
            upload(i, {"": text})
    if words[:2] in (["policy", "apply"], ["policy", "diff"]) and len(words) > 2:
        index = args.index(words[2])
        upload(index, _pack_dir(local(words[2])))
    file_index = file_argument_index(args)
    if file_index is not None:
        upload(file_index, _pack_named_file(local(args[file_index])))
    return args, uploads


def _raise_for(status: int, data: dict[str, Any]) -> None:
    error = error_for_status(status)
    if error is None:
        return
    detail = str(data.get("detail") or data.get("stderr") or data)
    if issubclass(error, PolicyDenied):
        raise error(detail, reasons=data.get("reasons") or [])
    raise error(detail)


class LakewardClient:
    """An authenticated connection to ``lakeward server`` (HTTP keep-alive)."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        """Connect to ``url`` (default ``LAKEWARD_SERVER_URL``) with ``token``.

        Raises:
            ConfigurationError: no server URL or no token is configured.
        """
        import httpx

        from lakeward.identity import local_token, server_url

        self.url = (url or server_url() or "").rstrip("/")
        if not self.url:
            raise ConfigurationError(
                "No server: pass url= or set LAKEWARD_SERVER_URL.", setting="LAKEWARD_SERVER_URL"
            )
        token = token or local_token()
        if not token:
            raise ConfigurationError(
                "No token: pass token= or set LAKEWARD_TOKEN (from `lakeward token issue`).",
                setting="LAKEWARD_TOKEN",
            )
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, read=None),
        )

    def __enter__(self) -> LakewardClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"cannot reach {self.url}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = {"detail": response.text[:500]}
        if response.status_code >= 400 and "exit_code" not in data:
            _raise_for(response.status_code, data)
        return data if isinstance(data, dict) else {"data": data}

    def command(self, *argv: str) -> CommandOutput:
        """Run ``lakeward ARGV`` at the server as this token's principal.

        The command's own failure does not raise: read ``exit_code``.
        """
        args, uploads = pack_uploads(list(argv))
        data = self._request("POST", "/api/v1/commands", json={"argv": args, "uploads": uploads})
        return CommandOutput(
            int(data["exit_code"]), data.get("stdout", ""), data.get("stderr", ""), data.get("run")
        )

    def json(self, *argv: str) -> Any:
        """Run ``lakeward ARGV --json`` and return the parsed output.

        Raises:
            PolicyDenied, InputError, NotFound, ServiceUnavailable: the command failed
                (the error carries what it printed on stderr).
        """
        output = self.command(*argv, "--json")
        if output.exit_code != 0:
            error = {1: PolicyDenied, 2: InputError}.get(output.exit_code, LakewardError)
            raise error(output.stderr.strip() or f"exit code {output.exit_code}")
        return json.loads(output.stdout)

    def whoami(self) -> dict[str, Any]:
        """``{"principal", "groups", "mode"}`` of this token."""
        return self._request("GET", "/api/v1/whoami")

    def explain(
        self,
        principal: str,
        action: str,
        resource: str,
        *,
        purpose: str = "",
        **context: bool,
    ) -> dict[str, Any]:
        """Decide one request for a subject (not audited; the caller is not the subject)."""
        body = {
            "principal": principal,
            "action": action,
            "resource": resource,
            "context": {"purpose": purpose, **context},
        }
        return self._request("POST", "/api/v1/policy/explain", json=body)

    def run_status(self, run_id: str) -> dict[str, Any]:
        """A deployment run's state (its requester or an admin)."""
        return self._request("GET", f"/api/v1/runs/{run_id}")
