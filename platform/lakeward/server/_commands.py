"""Run a ``lakeward`` command at the server, as the request's authenticated principal.

The server runs the same click commands the CLI runs, in-process, so both modes print the
same thing: the principal is bound for the command (every library call it makes is checked
against it by the guard), and what the command writes to stdout/stderr is captured per
request (a context-local stream; requests run side by side in threads).

Files a command reads from the *client's* disk (a candidate bundle directory, a stream
definition, a glossary or schema file, which keeps its name) arrive as uploads and are
written to a private temporary directory; the argument is rewritten to point there.
Commands that are the client's own business (``he``: keys and ciphertexts stay with their
owner) or the server's (``server``, ``demo``, ``config``, ``lake generate``, writing a
reconstruction to the server's disk) are refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

import click

from lakeward.errors import InputError, LakewardError
from lakeward.identity import Principal

__all__ = ["CommandResult", "install_capture", "refused_remotely", "run_command"]

UPLOAD_PREFIX = "@upload:"

#: command prefixes the server never runs for a client, and why.
REFUSED: dict[tuple[str, ...], str] = {
    ("server",): "`lakeward server` runs on the server host",
    ("demo",): "`lakeward demo` sets up an embedded installation; run it without "
    "LAKEWARD_SERVER_URL",
    ("config",): "the server's configuration is not shown to clients; run `lakeward config "
    "show` on the server host",
    ("lake", "generate"): "generating a sample lake writes to the server's disk; run it on the "
    "server host",
    ("dedup", "reconstruct"): "reconstruct writes a dataset to a directory; run it on the "
    "server host, or `lakeward dedup restore` it into the lake",
    ("he",): "`lakeward he` works on the client's own keys and ciphertexts and runs locally",
    ("dp", "plot"): "it writes a PNG on the server's disk; read the series with `lakeward dp "
    "series NAME --json` and plot it here",
}

#: options and arguments that name a file or directory: from a client, only uploads.
_UPLOAD_ONLY_OPTIONS = ("--bundle", "-f", "--file", "--queries")


def _server_paths(argv: list[str]) -> None:
    """Refuse a command line that names the server's own files.

    A client's files arrive as uploads (``@upload:K``); a bare path would make the server
    read its own disk on the caller's behalf (a bundle directory, a definition file). Lake
    roots must lie under the server's ``LAKEWARD_LAKE_ROOT``.

    Raises:
        InputError: a path argument is not an upload, or a lake root is outside the lake.
    """
    from lakeward.settings import get_settings

    words = [a for a in argv if not a.startswith("-")]
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if eq and name in _UPLOAD_ONLY_OPTIONS:
            given = value
        elif arg in _UPLOAD_ONLY_OPTIONS and i + 1 < len(argv):
            given = argv[i + 1]
        else:
            continue
        if not given.startswith(UPLOAD_PREFIX):
            raise InputError(f"{arg.split('=')[0]} must name a file the client uploads, not a path")
    if words[:2] in (["policy", "apply"], ["policy", "diff"]) and len(words) > 2:
        if not words[2].startswith(UPLOAD_PREFIX):
            raise InputError(f"`policy {words[1]}` needs the candidate uploaded by the client")
    from lakeward.client import file_argument_index

    index = file_argument_index(argv)
    if index is not None and not argv[index].startswith(UPLOAD_PREFIX):
        raise InputError(f"`{' '.join(words[:2])}` needs the FILE uploaded by the client")
    if words[:2] == ["glossary", "export"] and any(
        a in ("-o", "--output") or a.startswith(("--output=", "-o")) for a in argv
    ):
        raise InputError(
            "`glossary export --output` would write on the server's disk; the lakeward CLI "
            "writes it on yours (or redirect: `lakeward glossary export G > FILE`)"
        )
    if words[:2] in (["lake", "register"], ["lake", "profile"]) and len(words) > 2:
        root = get_settings().lake.root
        target = Path(words[2])
        if root is None or "://" in root or not target.is_absolute():
            raise InputError(
                "The server profiles lakes under its LAKEWARD_LAKE_ROOT only: give an absolute "
                "path inside it, or no root to use it."
            )
        lake = Path(root).resolve()
        if target.resolve() != lake and lake not in target.resolve().parents:
            raise InputError(f"{target} is outside the server's lake root {lake}")


def refused_remotely(argv: list[str]) -> str | None:
    """Why the server will not run ``argv`` for a client, or ``None``."""
    words = [a for a in argv if not a.startswith("-")]
    for prefix, why in REFUSED.items():
        if tuple(words[: len(prefix)]) == prefix:
            return why
    return None


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it ended."""

    exit_code: int
    stdout: str
    stderr: str
    error: str | None = None  # the LakewardError class that ended it, if any
    run: dict[str, Any] | None = None  # a deployment run started instead of running inline

    def to_dict(self) -> dict[str, Any]:
        """The response body."""
        data: dict[str, Any] = {
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "error": self.error,
        }
        if self.run:
            data["run"] = self.run
        return data


class _ContextStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` replacement bound per context.

    Writes go to the request's buffer if one is bound in this context, else to the real
    stream.
    """

    def __init__(self, real: TextIO, var: contextvars.ContextVar[io.StringIO | None]) -> None:
        self._real = real
        self._var = var

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return "strict"

    def _target(self) -> TextIO:
        return self._var.get() or self._real

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._real.fileno()


_stdout: contextvars.ContextVar[io.StringIO | None] = contextvars.ContextVar(
    "lakeward_stdout", default=None
)
_stderr: contextvars.ContextVar[io.StringIO | None] = contextvars.ContextVar(
    "lakeward_stderr", default=None
)


def install_capture() -> None:
    """Route ``sys.stdout``/``sys.stderr`` through per-request buffers (idempotent)."""
    if not isinstance(sys.stdout, _ContextStream):
        sys.stdout = _ContextStream(sys.stdout, _stdout)
    if not isinstance(sys.stderr, _ContextStream):
        sys.stderr = _ContextStream(sys.stderr, _stderr)
    # The CLI's rich consoles were made without a file: they resolve sys.stdout/sys.stderr
    # at each write, so they follow these streams too.


def _safe_relpath(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise InputError(f"upload path {name!r} must be relative, without '..'")
    return rel


def _materialise(uploads: dict[str, dict[str, str]], scratch: Path) -> dict[str, Path]:
    """Write each upload (a file or a directory of files) under ``scratch``."""
    from lakeward.client import NAMED_FILE

    paths: dict[str, Path] = {}
    for key, files in uploads.items():
        root = scratch / f"upload-{len(paths)}"
        named = list(files)[0] if len(files) == 1 else ""
        if named.startswith(NAMED_FILE):  # a single file, under its own name
            plain = _safe_relpath(named[len(NAMED_FILE) :])
            if len(plain.parts) != 1:
                raise InputError(f"upload name {named!r} must be a plain file name")
            root.mkdir(parents=True, exist_ok=True)
            (root / plain.name).write_text(files[named], encoding="utf-8")
            paths[key] = root / plain.name
            continue
        if list(files) == [""]:  # a single file
            root.parent.mkdir(parents=True, exist_ok=True)
            root.write_text(files[""])
        else:
            for name, text in files.items():
                target = root / _safe_relpath(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            root.mkdir(parents=True, exist_ok=True)
        paths[key] = root
    return paths


def _flow_parameters(argv: list[str]) -> tuple[tuple[str, str], dict[str, Any], str, bool] | None:
    """For long work run as a deployment: (command, flow parameters, purpose, --json).

    ``None`` when the command line is not long work, or uses options the flow lacks (then
    it runs inline, as the caller).
    """
    from lakeward.cli import cli
    from lakeward.orchestration._runs import LONG_WORK

    words = [a for a in argv if not a.startswith("-")]
    key = tuple(words[:2])
    if key not in LONG_WORK:
        return None
    group = cli.commands[key[0]]
    assert isinstance(group, click.Group)
    command = group.commands[key[1]]
    rest = argv[argv.index(key[1]) + 1 :]
    params = command.make_context(key[1], list(rest)).params
    as_json = bool(params.get("as_json"))
    if key == ("lake", "profile"):
        if params["names"]:
            return None
        flow = {"lake_root": params["root"], "purpose": params["purpose"], "force": params["force"]}
        return key, flow, params["purpose"], as_json
    if key == ("dedup", "find"):
        if params["names"] or params["multiset"] is not None:
            return None
        flow = {
            "purpose": params["purpose"],
            "threshold": params["threshold"],
            "reprofile": params["reprofile"],
            "propose": False,
        }
        return key, flow, params["purpose"], as_json
    if not params["yes"]:  # `dp release` without --yes is a dry run: inline, spends nothing
        return None
    flow = {"streams": list(params["streams"]) or None, "through": params["period"]}
    if params["now"]:
        flow["now"] = params["now"]
    return key, flow, "", as_json


def _start_run(principal: Principal, argv: list[str]) -> CommandResult | None:
    from lakeward.settings import get_settings

    if get_settings().server.long_work != "prefect":
        return None
    parsed = _flow_parameters(argv)
    if parsed is None:
        return None
    from lakeward.catalog import Catalog
    from lakeward.identity import acting_as
    from lakeward.orchestration._runs import start_run

    key, flow, purpose, as_json = parsed
    with acting_as(principal):
        info = start_run(Catalog.shared(), principal.name, key, flow, purpose=purpose or None)
    data = info.to_dict()
    text = (
        json.dumps(data, indent=2) + "\n"
        if as_json
        else f"started run {info.run_id} of {info.deployment} (requested by {principal.name})\n"
    )
    return CommandResult(0, text, "", None, data)


def run_command(
    principal: Principal,
    argv: list[str],
    uploads: dict[str, dict[str, str]] | None = None,
) -> CommandResult:
    """Run ``lakeward ARGV`` as ``principal``; capture its output.

    Long work (``lake profile``, ``dedup find``, ``dp release``) starts a deployment run
    instead when ``LAKEWARD_SERVER_LONG_WORK=prefect``.

    Raises:
        InputError: the command is refused at the server, or an upload is malformed.
        PolicyDenied: the caller may not start long work (``flow.run``).
    """
    why = refused_remotely(argv)
    if why is not None:
        raise InputError(f"`lakeward {' '.join(argv[:2])}` is not run by the server: {why}.")
    _server_paths(argv)
    started = _start_run(principal, argv)
    if started is not None:
        return started
    from lakeward.cli import _main_local, last_error
    from lakeward.identity import acting_as

    with contextlib.ExitStack() as stack:
        paths: dict[str, Path] = {}
        if uploads:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="lakeward-request-"))
            paths = _materialise(uploads, Path(scratch))
        args = []
        for arg in argv:
            head, sep, key = arg.partition(UPLOAD_PREFIX)  # `@upload:K` or `--bundle=@upload:K`
            if sep and head in ("", "--bundle="):
                if key not in paths:
                    raise InputError(f"argument {arg!r} names no upload")
                arg = head + str(paths[key])
            args.append(arg)
        out, err = io.StringIO(), io.StringIO()

        def run() -> tuple[int, LakewardError | None]:
            _stdout.set(out)
            _stderr.set(err)
            with acting_as(principal):
                code = _main_local(args)
            return code, last_error.get()

        code, error = contextvars.copy_context().run(run)
    return CommandResult(
        code, out.getvalue(), err.getvalue(), type(error).__name__ if error else None
    )
