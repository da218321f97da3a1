"""Lakeward settings: one pydantic-settings model with a small section per room.

Every field reads an environment variable ``LAKEWARD_<SECTION>_<FIELD>`` (the top-level
``home`` reads ``LAKEWARD_HOME``). ``lakeward config show`` prints the effective values with
their descriptions and the variable that sets each. Read them with :func:`get_settings`;
it builds a fresh object each call (cheap), so tests and long-lived processes see changes
to the environment.

``LAKEWARD_HOME`` isolates a whole installation: the SQLite catalog, keys, the quarantine
area, the sample lake made by ``lakeward demo`` and Prefect's own home all live under it
unless their own settings point elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AuditSettings",
    "CatalogSettings",
    "DedupSettings",
    "GlossarySettings",
    "LakeSettings",
    "OrchestrationSettings",
    "PolicySettings",
    "RagSettings",
    "ServerSettings",
    "Settings",
    "SparkSettings",
    "get_settings",
]


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", validate_default=True)


class CatalogSettings(BaseSettings):
    """Where the metadata catalog lives."""

    model_config = _section("LAKEWARD_CATALOG_")

    url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the catalog database. Default: SQLite at <home>/catalog.db. "
            "PostgreSQL: postgresql+psycopg://user:pass@host:5432/dbname."
        ),
    )
    connect_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for the catalog database before failing with exit code 2.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging).")


class SparkSettings(BaseSettings):
    """How Lakeward reaches Spark."""

    model_config = _section("LAKEWARD_SPARK_")

    master: str = Field(
        default="local[*]",
        description=(
            "Spark master: local[*] / local[N] (embedded), spark://host:port (standalone "
            "cluster) or sc://host:port (Spark Connect)."
        ),
    )
    app_name: str = Field(default="lakeward", description="Spark application name.")
    shuffle_partitions: int = Field(
        default=4,
        ge=1,
        description="spark.sql.shuffle.partitions; small by default because catalog jobs "
        "aggregate to a single row per dataset.",
    )
    driver_memory: str = Field(
        default="2g", description="spark.driver.memory for embedded and client-mode sessions."
    )
    executor_memory: str | None = Field(
        default=None, description="spark.executor.memory on a cluster (unset: Spark's default)."
    )
    bind_address: str = Field(
        default="127.0.0.1",
        description="Driver host and bind address; loopback by default so nothing listens "
        "on public interfaces. Set to a routable address when executors run on other hosts.",
    )
    ui_enabled: bool = Field(default=False, description="Start the Spark web UI.")
    log_level: Literal["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG"] = Field(
        default="OFF",
        description="Spark's own log level after start-up. OFF by default: Lakeward reports "
        "every Spark failure itself, naming the dataset and file; set WARN to debug Spark.",
    )
    connect_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for a spark:// or sc:// master to accept a connection.",
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark configuration as JSON, e.g. {"spark.executor.cores": "2"}.',
    )


class LakeSettings(BaseSettings):
    """The data lake Lakeward governs."""

    model_config = _section("LAKEWARD_LAKE_")

    root: str | None = Field(
        default=None,
        description="Default lake root (a local path or a URI such as s3://bucket/lake) for "
        "commands that take an optional root.",
    )
    sniff_bytes: int = Field(
        default=1 << 20,
        ge=4096,
        description="Bytes read from the head of each CSV/JSON part file to sniff its dialect "
        "and infer its column types before the Spark pass (grown to the end of the first whole "
        "record, up to 64 MiB). Columns whose later values do not fit are widened, and the "
        "widening recorded.",
    )
    profile_concurrency: int = Field(
        default=4,
        ge=1,
        description="Datasets profiled at once (Spark jobs submitted from threads share one "
        "session, so one dataset's driver-side work overlaps another's computation).",
    )
    secret: SecretStr | None = Field(
        default=None,
        description="Lake secret for keyed row fingerprints (HMAC). Default: a random key "
        "created once at <home>/keys/lake.key.",
    )


class PolicySettings(BaseSettings):
    """Where the policy bundle lives."""

    model_config = _section("LAKEWARD_POLICY_")

    dir: Path | None = Field(
        default=None,
        description="Directory of the policy bundle (*.cedar, schema, principals, tests) used "
        "until `lakeward policy apply` installs a revision. Default: ./policies if present, else "
        "the bundle of this Lakeward checkout.",
    )

    recheck_s: float = Field(
        default=1.0,
        ge=0.0,
        description="Seconds a process keeps using the policy engine it verified before asking "
        "the catalog for the active revision and re-checking the bundle's files again. A "
        "revision applied by another process takes effect within this time (at once in the "
        "applying process); 0 checks on every decision.",
    )

    def bundle_dir(self) -> Path:
        """The configured bundle directory, or the default one."""
        if self.dir is not None:
            return self.dir.expanduser().resolve()
        here = Path.cwd() / "policies"
        if (here / "schema.cedarschema").exists():
            return here.resolve()
        return (Path(__file__).resolve().parents[2] / "policies").resolve()


class OrchestrationSettings(BaseSettings):
    """Prefect-facing knobs."""

    model_config = _section("LAKEWARD_ORCHESTRATION_")

    isolate_prefect_home: bool = Field(
        default=True,
        description="When PREFECT_HOME and PREFECT_API_URL are unset, keep Prefect's home "
        "(its temporary API's database) under <home>/prefect.",
    )


class DedupSettings(BaseSettings):
    """Containment deduplication: thresholds, sampling, deletion costs and safety windows.

    The HMAC key for row fingerprints is the lake secret (``LAKEWARD_LAKE_SECRET``).
    """

    model_config = _section("LAKEWARD_DEDUP_")

    near_threshold: float = Field(
        default=0.9,
        gt=0.0,
        lt=1.0,
        description="Containment ratio from which an edge is reported as near-contained "
        "(edges at exactly 1.0 are contained).",
    )
    multiset: bool = Field(
        default=False,
        description="Count duplicate rows (multiset containment) instead of distinct rows.",
    )
    sample_size: int = Field(
        default=256,
        ge=16,
        description="Child row fingerprints (a bottom-k sample of the keyed hashes) checked "
        "against the parent before the exact ratio is computed.",
    )
    sample_alpha: float = Field(
        default=1e-6,
        gt=0.0,
        lt=0.01,
        description="Early rejection on the sample drops an edge only when a ratio at the near "
        "threshold would produce so few sample hits with at most this probability.",
    )
    batch_datasets: int = Field(
        default=16,
        ge=1,
        description="Datasets fingerprinted per Spark job (amortises job start-up on big lakes).",
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        description="Fingerprint batches run at once (Spark jobs submitted from threads share "
        "one session, so one batch's driver-side work overlaps another's computation; 4 "
        "beat 2 by ~12% on 2 cores).",
    )
    work_dir: str | None = Field(
        default=None,
        description="Scratch directory (local path or URI every executor can reach) for row "
        "fingerprints during a run. Default: <home>/dedup/work.",
    )
    quarantine_dir: Path | None = Field(
        default=None,
        description="Where deleted datasets wait until purged. Default: <home>/quarantine.",
    )
    recipes_dir: Path | None = Field(
        default=None,
        description="Where reconstruction recipes keep child row fingerprints. Default: "
        "<home>/dedup/recipes.",
    )
    retention_days: float = Field(
        default=30.0,
        ge=0.0,
        description="Days a quarantined dataset is kept before `lakeward dedup purge` may "
        "delete it (unless it is on hold).",
    )
    storage_usd_per_gb_month: float = Field(
        default=0.023, ge=0.0, description="Storage cost used by deletion planning."
    )
    compute_usd_per_hour: float = Field(
        default=2.0,
        ge=0.0,
        description="Compute cost of rebuilding a deleted dataset, used by deletion planning.",
    )
    scan_mb_per_s: float = Field(
        default=50.0,
        gt=0.0,
        description="Throughput assumed for reconstruction (MB of parent scanned per second).",
    )
    reconstruct_overhead_s: float = Field(
        default=5.0,
        ge=0.0,
        description="Fixed seconds added to every reconstruction estimate (job start-up).",
    )
    max_reconstruct_s: float = Field(
        default=600.0,
        gt=0.0,
        description="Latency bound: a dataset is deleted only if it can be rebuilt from a "
        "retained ancestor within this many seconds.",
    )
    access_window_days: float = Field(
        default=30.0,
        gt=0.0,
        description="Window of audited reads (lake.read_content, other than profiling and "
        "dedup) that sets each dataset's access frequency for planning.",
    )
    milp_max_edges: int = Field(
        default=50_000,
        ge=0,
        description="Largest planning problem (deletable edges) solved exactly with "
        "scipy.optimize.milp; bigger ones use the greedy planner.",
    )
    milp_time_limit_s: float = Field(
        default=60.0, gt=0.0, description="Time limit of the exact planner before it falls back."
    )
    apply_lease_s: float = Field(
        default=900.0,
        ge=0.0,
        description="Seconds an apply holds a deletion plan (renewed per dataset); a second "
        "apply of the same plan is refused until then. After a crash, apply resumes once the "
        "lease has ended.",
    )


class GlossarySettings(BaseSettings):
    """Glossary matching: the abstention threshold, two-person review, the optional reranker."""

    model_config = _section("LAKEWARD_GLOSSARY_")

    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Calibrated score below which the matcher abstains (suggests nothing for "
        "the column). Unset: the matcher's own default. One value serves every glossary.",
    )
    two_person_tags: list[str] = Field(
        default_factory=lambda: ["public", "not_sensitive"],
        description="Tags whose acceptance needs a second steward: accepting a term that "
        "carries one is pending until another steward accepts it too. The default lists the "
        "tags that loosen access (a term's protective tags such as pii_direct go on at once). "
        'JSON list, e.g. ["public", "not_sensitive", "phi"].',
    )
    reranker_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API (e.g. http://127.0.0.1:8000/v1) whose "
        "chat model reorders each column's best candidates; requests go to "
        "<url>/chat/completions and carry metadata only (names, types, descriptions). Unset: "
        "no reranker (the default).",
    )
    reranker_model: str | None = Field(
        default=None,
        description="Model name sent to the reranker endpoint (required when reranker_url is set).",
    )
    reranker_api_key_env: str = Field(
        default="LAKEWARD_RERANKER_API_KEY",
        description="Name of the environment variable that holds the reranker's API key (sent "
        "as a bearer token, never logged). Unset variable: no Authorization header.",
    )
    reranker_timeout_s: float = Field(
        default=30.0,
        gt=0.0,
        description="Seconds to wait for the reranker per column; on timeout the matcher's "
        "order is kept.",
    )
    reranker_top_n: int = Field(
        default=10,
        ge=2,
        le=100,
        description="How many of a column's best candidates are sent to the reranker.",
    )


class RagSettings(BaseSettings):
    """RAG datastores: where they live, how documents are chunked, how much a query scans."""

    model_config = _section("LAKEWARD_RAG_")

    dir: Path | None = Field(
        default=None,
        description="Directory of the RAG stores (one subdirectory each, 0700). Default: "
        "<home>/rag.",
    )
    chunk_chars: int = Field(
        default=800,
        ge=50,
        le=20_000,
        description="Largest chunk, in characters, for new stores (sentences are packed into "
        "chunks up to this size; about 200 word pieces at 800).",
    )
    chunk_overlap: int = Field(
        default=1,
        ge=0,
        le=10,
        description="Sentences a chunk repeats from the end of the previous one (new stores).",
    )
    max_document_bytes: int = Field(
        default=10_000_000,
        ge=1,
        description="Largest document text (UTF-8 bytes) an ingest accepts; a bigger one is "
        "an input error naming it (split it into several documents).",
    )
    max_query_chars: int = Field(
        default=10_000,
        ge=1,
        description="Longest query text accepted (the model reads its first 256 word pieces).",
    )
    exact_threshold: int = Field(
        default=20_000,
        ge=0,
        description="A query whose visible chunks number at most this is answered by an "
        "exact scan of them; larger visible sets walk the quantizer's lists (stores created "
        "with a quantizer), scanning scan_fraction of the visible chunks.",
    )
    graph_min: int = Field(
        default=10_000,
        ge=0,
        description="A label class of at least this many chunks gets a graph index of its own "
        "(HNSW built from that class alone), searched instead of scanned; 0: none. For new "
        "stores and rebuilds.",
    )
    scan_fraction: float = Field(
        default=0.02,
        gt=0.0,
        le=1.0,
        description="Share of a query's visible chunks scanned in the nearest lists (counted "
        "over visible chunks only) when the visible set exceeds exact_threshold.",
    )
    min_answer_score: float = Field(
        default=0.25,
        ge=-1.0,
        le=1.0,
        description="Chunks scoring below this cosine similarity are listed in the results "
        "but never quoted in the answer (an answer from unrelated text misleads); no chunk "
        "above it: an empty answer.",
    )
    generator_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API whose chat model words the answer "
        "from the extracted sentences only (those the asker may read; citations and label "
        "unchanged). Unset: extractive answers (the default).",
    )
    generator_model: str | None = Field(
        default=None, description="Model name sent to the generator (required with its URL)."
    )
    generator_api_key_env: str = Field(
        default="LAKEWARD_GENERATOR_API_KEY",
        description="Name of the environment variable holding the generator's API key (sent "
        "as a bearer token, never logged).",
    )
    generator_timeout_s: float = Field(
        default=60.0, gt=0.0, description="Seconds to wait for the generator per answer."
    )
    answer_sentences: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Sentences in an extractive answer (each cites its document and offset).",
    )


class AuditSettings(BaseSettings):
    """The audit log's key and its anchor outside the catalog database."""

    model_config = _section("LAKEWARD_AUDIT_")

    key_file: Path | None = Field(
        default=None,
        description="HMAC key that chains audit records and seals budget-ledger entries (32 "
        "random bytes, mode 0600, created on first use). Default: <home>/keys/audit.key. "
        "Every process that writes to one catalog must share it.",
    )
    anchor: Path | None = Field(
        default=None,
        description="Append-only file that receives each audit record's (seq, MAC) as it is "
        "written, outside the catalog database, so a truncated or rewritten log is detected. "
        "Put it where catalog writers cannot rewrite it (another volume, an append-only "
        "mount, or a file with `chattr +a`). Default: <home>/audit/anchor.jsonl.",
    )


class ServerSettings(BaseSettings):
    """``lakeward server``: where it listens, request limits, OIDC."""

    model_config = _section("LAKEWARD_SERVER_")

    host: str = Field(
        default="127.0.0.1",
        description="Interface `lakeward server` binds. Keep 127.0.0.1 and put a TLS-terminating "
        "reverse proxy in front for remote clients (tokens are bearer credentials).",
    )
    port: int = Field(
        default=8750, ge=0, le=65535, description="Port `lakeward server` binds (0: any free one)."
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; larger ones get 413 before they are read.",
    )
    workers: int = Field(
        default=4,
        ge=1,
        description="Threads per process that serve requests side by side (more only adds GIL "
        "contention on 2 cores: 16 gave 143 explain req/s against 212 with 4).",
    )
    slow_workers: int = Field(
        default=4,
        ge=1,
        description="Threads per process for Spark-backed commands run inline (lake, dedup, "
        "dp release/stream create), kept apart so they never starve quick reads.",
    )
    processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes sharing the port (one per core is a good start); each "
        "keeps its own caches, none keeps a token or revocation cache.",
    )
    long_work: Literal["inline", "prefect"] = Field(
        default="inline",
        description="Where `lake profile`, `dedup find` and `dp release` run for clients: in the "
        "server's threads (inline), or as runs of the infra/prefect.yaml deployments executed "
        "by the worker's service principal (prefect; needs PREFECT_API_URL).",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OIDC issuer whose bearer JWTs are accepted (exact `iss`); unset: API "
        "tokens only.",
    )
    oidc_audience: str | None = Field(
        default=None, description="Required `aud` of OIDC JWTs (this server's client id)."
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS URL (keys are fetched from here only)."
    )
    oidc_subject_claim: str = Field(
        default="sub",
        description="JWT claim looked up in principals.yaml `oidc_subjects` to find the principal.",
    )


class Settings(BaseSettings):
    """All Lakeward settings."""

    model_config = SettingsConfigDict(env_prefix="LAKEWARD_", extra="ignore")

    home: Path = Field(
        default=Path(".lakeward"),
        description="Directory that holds one whole installation: SQLite catalog, keys, "
        "quarantine, sample lake, Prefect home.",
    )
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    orchestration: OrchestrationSettings = Field(default_factory=OrchestrationSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    glossary: GlossarySettings = Field(default_factory=GlossarySettings)
    rag: RagSettings = Field(default_factory=RagSettings)

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if self.catalog.url is None:
            self.catalog.url = f"sqlite:///{self.home / 'catalog.db'}"
        if self.audit.key_file is None:
            self.audit.key_file = self.home / "keys" / "audit.key"
        if self.audit.anchor is None:
            self.audit.anchor = self.home / "audit" / "anchor.jsonl"
        self.audit.key_file = self.audit.key_file.expanduser().resolve()
        self.audit.anchor = self.audit.anchor.expanduser().resolve()
        if self.rag.dir is None:
            self.rag.dir = self.home / "rag"
        self.rag.dir = self.rag.dir.expanduser().resolve()
        return self

    @property
    def catalog_url(self) -> str:
        """The effective catalog URL (never ``None`` after validation)."""
        assert self.catalog.url is not None
        return self.catalog.url

    def describe(self) -> list[dict[str, Any]]:
        """Every setting with its value, environment variable and description."""
        rows: list[dict[str, Any]] = []
        top = type(self).model_fields["home"]
        rows.append(
            {
                "setting": "home",
                "env": "LAKEWARD_HOME",
                "value": str(self.home),
                "description": top.description,
            }
        )
        for section_name in (
            "catalog",
            "spark",
            "lake",
            "policy",
            "orchestration",
            "dedup",
            "server",
            "audit",
            "glossary",
            "rag",
        ):
            section = getattr(self, section_name)
            prefix = section.model_config.get("env_prefix", "")
            for name, field in type(section).model_fields.items():
                value = getattr(section, name)
                if isinstance(value, SecretStr):
                    value = "**********" if value.get_secret_value() else ""
                elif isinstance(value, Path):
                    value = str(value)
                if section_name == "policy" and name == "dir":
                    value = str(self.policy.bundle_dir())
                if name == "url" and isinstance(value, str):
                    value = _redact_url(value)
                rows.append(
                    {
                        "setting": f"{section_name}.{name}",
                        "env": f"{prefix}{name}".upper(),
                        "value": value,
                        "description": field.description,
                    }
                )
        return rows


def _redact_url(url: str) -> str:
    """Hide the password in a database URL."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


_cache: dict[tuple[Any, ...], Settings] = {}


def get_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and keyword overrides, for tests).

    The settings depend only on the ``LAKEWARD_*`` variables and the working directory, so
    the object is reused while those are unchanged (building one costs ~25 ms; the server
    asks several times per request) and rebuilt as soon as either changes. Treat it as
    read-only.

    Raises:
        ConfigurationError: a variable has an invalid value (the message names it).
    """
    import os

    from pydantic import ValidationError

    from lakeward.errors import ConfigurationError

    key = None
    if not overrides:
        key = (
            os.getcwd(),
            tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LAKEWARD_"))),
        )
        cached = _cache.get(key)
        if cached is not None:
            return cached
    try:
        settings = Settings(**overrides)
        if key is not None:
            if len(_cache) > 64:
                _cache.clear()
            _cache[key] = settings
        return settings
    except ValidationError as exc:
        prefix = {
            cls.__name__: str(cls.model_config.get("env_prefix", ""))
            for cls in (
                CatalogSettings,
                SparkSettings,
                LakeSettings,
                PolicySettings,
                OrchestrationSettings,
                DedupSettings,
                GlossarySettings,
                Settings,
            )
        }.get(exc.title, "LAKEWARD_")
        problems = []
        for error in exc.errors():
            field = "_".join(str(part) for part in error["loc"] if not isinstance(part, int))
            problems.append(f"{prefix}{field.upper()}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigurationError(
            "Invalid Lakeward setting: "
            + "; ".join(problems)
            + ". Fix the environment variable (see `lakeward config show`).",
            setting=problems[0].split(":", 1)[0] if problems else None,
        ) from None
