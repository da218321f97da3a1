"""Lakeward's one exception hierarchy.

Every error Lakeward raises on purpose derives from :class:`LakewardError`. User-facing
errors mix in the matching builtin, so ``except ValueError`` keeps working for callers
that do not know Lakeward. The CLI maps the branches to exit codes: ``InputError`` and
its children to 2 (usage or input error), ``PolicyDenied``/``CheckFailed`` to 1.

::

    LakewardError
    ├── InputError (ValueError)                 bad argument, file, setting: fix the input
    │   ├── ConfigurationError                  a setting is wrong (names LAKEWARD_* var)
    │   ├── LakeError                           a lake root or dataset cannot be read
    │   │   ├── DatasetUnreadable               a file cannot be opened (permissions, gone)
    │   │   ├── DatasetMalformed                bad content: ragged CSV, truncated Parquet
    │   │   ├── SchemaConflict                  a column's type differs between part files
    │   │   └── StreamSchemaChanged             a DP stream's source no longer has its schema
    │   ├── ProfileFailed                       one or more datasets failed; .errors lists them
    │   └── HEInputError (lakeward.he)          bad einsum input, keys or ciphertexts:
    │       ├── EinsumSyntaxError, ShapeMismatch    malformed subscripts, mismatched sizes
    │       ├── MissingGaloisKeys, ContextMismatch  keys lack a rotation; foreign ciphertext
    │       ├── DepthExceeded, SecretKeyRequired    chain too short; decrypt without the key
    │       └── KeyFileError                        unreadable key or ciphertext file
    ├── NotFound (LookupError)                  a dataset, version or record does not exist
    ├── ServiceUnavailable (ConnectionError)    catalog DB, Spark master, Prefect API unreachable
    │   ├── CatalogUnavailable
    │   └── SparkUnavailable
    ├── PolicyDenied (PermissionError)          the policy layer said no (carries reasons)
    │   ├── BudgetExhausted                     a privacy-budget spend would exceed its cap
    │   └── NotAuthenticated                    no authenticated principal (unmapped OS user,
    │                                           missing, expired or revoked token, bad JWT)
    ├── CheckFailed                             a verification found a problem (audit chain)
    └── LakewardInternalError (AssertionError)  an invariant broke: this is a bug

Raise the most specific class; put what is wrong *and how to fix it* in the message.
``http_status`` gives the status ``lakeward server`` answers for a branch (401, 403, 404,
503, 400); ``error_for_status`` is the client's way back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BudgetExhausted",
    "CatalogUnavailable",
    "CheckFailed",
    "ConfigurationError",
    "DatasetMalformed",
    "DatasetUnreadable",
    "InputError",
    "LakeError",
    "LakewardError",
    "LakewardInternalError",
    "NotAuthenticated",
    "NotFound",
    "PolicyDenied",
    "ProfileFailed",
    "SchemaConflict",
    "ServiceUnavailable",
    "SparkUnavailable",
    "StreamSchemaChanged",
    "error_for_status",
    "http_status",
]


class LakewardError(Exception):
    """Base of every error Lakeward raises on purpose."""

    #: CLI exit code for this branch of the hierarchy.
    exit_code: int = 2


class InputError(LakewardError, ValueError):
    """An argument, file or setting is wrong; the message says how to fix it."""


class ConfigurationError(InputError):
    """A setting is invalid; the message names the ``LAKEWARD_*`` variable."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class LakeError(InputError):
    """A lake root or a dataset cannot be read."""

    def __init__(self, message: str, *, dataset: str | None = None, path: str | None = None):
        super().__init__(message)
        self.dataset = dataset
        self.path = path


class DatasetUnreadable(LakeError):
    """A dataset file cannot be opened (missing, permissions, dangling link)."""


class DatasetMalformed(LakeError):
    """A dataset's content is not valid for its format (ragged CSV, truncated Parquet)."""


class SchemaConflict(LakeError):
    """A column's type differs between the part files of one dataset."""


class StreamSchemaChanged(LakeError):
    """A DP stream's source columns changed type or vanished since the stream was created."""


class ProfileFailed(InputError):
    """Profiling finished, but some datasets failed; ``errors`` maps dataset → reason."""

    def __init__(self, message: str, errors: dict[str, str], result: Any = None) -> None:
        super().__init__(message)
        self.errors = errors
        self.result = result


class NotFound(LakewardError, LookupError):
    """A dataset, version or record does not exist."""


class ServiceUnavailable(LakewardError, ConnectionError):
    """A service Lakeward depends on cannot be reached."""


class CatalogUnavailable(ServiceUnavailable):
    """The catalog database cannot be reached or opened."""


class SparkUnavailable(ServiceUnavailable):
    """The Spark master cannot be reached or the session cannot start."""


class PolicyDenied(LakewardError, PermissionError):
    """The policy layer denied the request; ``reasons`` explains why."""

    exit_code = 1

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.reasons = list(reasons)


class BudgetExhausted(PolicyDenied):
    """A privacy-budget spend would exceed its cap; nothing was spent."""


class NotAuthenticated(PolicyDenied):
    """No authenticated principal: the caller could not be identified; nothing was done."""


class CheckFailed(LakewardError):
    """A verification ran and found a problem (e.g. an edited audit record)."""

    exit_code = 1


class LakewardInternalError(LakewardError, AssertionError):
    """An internal invariant broke. This is a bug in Lakeward."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message}\nThis is probably a bug in Lakeward; please report it with the command "
            "you ran."
        )


#: The HTTP status ``lakeward server`` answers for each branch, most specific first; the
#: Python client maps a status back to the same class.
_HTTP_STATUS: tuple[tuple[type[LakewardError], int], ...] = (
    (NotAuthenticated, 401),
    (PolicyDenied, 403),
    (NotFound, 404),
    (ServiceUnavailable, 503),
    (InputError, 400),
)


def http_status(error: type[BaseException] | None) -> int | None:
    """The HTTP status for an error class (``None``: no specific one)."""
    for cls, status in _HTTP_STATUS:
        if error is not None and issubclass(error, cls):
            return status
    return None


def error_for_status(status: int) -> type[LakewardError] | None:
    """The error class a client raises for an HTTP error status (``None`` below 400)."""
    if status in (413, 422):
        return InputError
    for cls, known in _HTTP_STATUS:
        if known == status:
            return cls
    return ServiceUnavailable if status >= 500 else InputError if status >= 400 else None
