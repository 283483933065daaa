"""Settings, read once at the edge: CLI flag, then PORTAL_MOCK_* variable, then default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC

DEV_KEY = "dev-key"
ENV_PREFIX = "PORTAL_MOCK_"
# The longest delay --latency or Prefer: delay= may add (portal_mock.faults, .prefer).
MAX_DELAY_MS = 10_000
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the server needs; ``create_app`` and the CLI take one of these."""

    host: str = "127.0.0.1"
    port: int = 8080
    # A store file, or a PostgreSQL URL (kept as text) for the shared store.
    db: Path | str | None = Path("portal-mock-db.json")
    spec: Path = DEFAULT_SPEC
    fixtures: Path | None = DEFAULT_FIXTURES
    api_keys: tuple[str, ...] = ()
    # A TOML file of keys, each scoped to company namespaces (portal_mock.key_scopes).
    keys_file: Path | None = None
    max_body_bytes: int = 64 * 1024
    # Mock sessions, start-up and the terminal (issue 7).
    max_sessions: int = 100
    reset: bool = False
    quiet: bool = False
    log_format: str = "text"
    reload: bool = False
    # Server processes (portal_mock.workers); more than one only over a shared store.
    workers: int = 1
    # Browser apps and provoked failures (issue 7).
    cors: bool = True
    cors_origins: tuple[str, ...] = ()
    latency_ms: tuple[int, int] = (0, 0)
    fail_rate: float = 0.0
    # The connection's own limits (portal_mock.transport_limits), in seconds and bytes.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 5.0
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100

    @property
    def uses_dev_key(self) -> bool:
        return not self.api_keys and self.keys_file is None


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    def get(name: str) -> str | None:
        value = environ.get(ENV_PREFIX + name)
        return value if value else None

    values: dict[str, Any] = {
        "host": get("HOST"),
        "port": get("PORT"),
        "db": get("DB"),
        "spec": get("SPEC"),
        "fixtures": get("FIXTURES"),
        "api_keys": _comma_list(get("API_KEY")),
        "keys_file": get("KEYS"),
    }
    if (get("NO_FIXTURES") or "").lower() in _TRUE:
        values["fixtures"] = ""
    values["max_sessions"] = get("MAX_SESSIONS")
    values["workers"] = get("WORKERS")
    values["log_format"] = get("LOG_FORMAT")
    values["cors_origins"] = _comma_list(get("CORS_ORIGIN"))
    values["latency_ms"] = get("LATENCY")
    values["fail_rate"] = get("FAIL_RATE")
    for name in TRANSPORT_LIMITS:
        values[name] = get(name.upper())
    values["cors"] = False if (get("NO_CORS") or "").lower() in _TRUE else None
    for switch in ("RESET", "QUIET", "RELOAD"):
        values[switch.lower()] = True if (get(switch) or "").lower() in _TRUE else None
    return values


def build_settings(flags: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Merge CLI ``flags`` (None where not given) over ``environ`` over the defaults.

    An empty ``fixtures`` value means "load no fixtures" (``--no-fixtures``).
    Raises ValueError for a value that cannot be used, such as a port that is
    not a number.
    """
    env = _from_env(environ)
    merged = {k: flags.get(k) if flags.get(k) is not None else env.get(k) for k in env}
    defaults = Settings()
    fixtures = merged["fixtures"]
    db = db_setting(merged["db"]) if merged["db"] else defaults.db
    return Settings(
        host=merged["host"] or defaults.host,
        port=_port(merged["port"]) if merged["port"] is not None else defaults.port,
        db=db,
        spec=Path(merged["spec"]) if merged["spec"] else defaults.spec,
        fixtures=defaults.fixtures if fixtures is None else (Path(fixtures) if fixtures else None),
        api_keys=tuple(merged["api_keys"] or ()),
        keys_file=Path(merged["keys_file"]) if merged["keys_file"] else None,
        max_sessions=_count("max sessions", merged["max_sessions"], defaults.max_sessions),
        reset=bool(merged["reset"]),
        quiet=bool(merged["quiet"]),
        log_format=_log_format(merged["log_format"] or defaults.log_format),
        reload=bool(merged["reload"]),
        workers=_workers(merged["workers"], db),
        cors=merged["cors"] is not False,
        cors_origins=tuple(merged["cors_origins"] or ()),
        latency_ms=_latency(merged["latency_ms"]) if merged["latency_ms"] else defaults.latency_ms,
        fail_rate=_rate(merged["fail_rate"]) if merged["fail_rate"] else defaults.fail_rate,
        **{name: _limit(name, merged[name], getattr(defaults, name)) for name in TRANSPORT_LIMITS},
    )


TRANSPORT_LIMITS = (
    "header_timeout",
    "body_timeout",
    "idle_timeout",
    "max_header_bytes",
    "max_headers",
)


def _limit(name: str, value: Any, default: float) -> Any:
    """A positive number of the default's kind (seconds may be fractions, sizes not)."""
    if value is None:
        return default
    flag = "--" + name.replace("_", "-")
    kind = type(default)
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(
            f"{flag} {value!r} is not a {'number' if kind is float else 'whole number'}"
        ) from None
    if not number > 0:
        raise ValueError(f"{flag} {value!r} must be more than 0")
    return number


def _comma_list(value: str | None) -> list[str] | None:
    return [item.strip() for item in (value or "").split(",") if item.strip()] or None


def _latency(value: str) -> tuple[int, int]:
    """``"MIN-MAX"`` (or one number) in milliseconds."""
    low, _, high = str(value).partition("-")
    try:
        bounds = int(low), int(high or low)
    except ValueError:
        raise ValueError(f"latency {value!r} is not MIN-MAX in milliseconds") from None
    if not 0 <= bounds[0] <= bounds[1] <= MAX_DELAY_MS:
        raise ValueError(f"latency {value!r} is not 0 <= MIN <= MAX <= {MAX_DELAY_MS} ms")
    return bounds


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise ValueError(f"fail rate {value!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"fail rate {value!r} is not between 0 and 1")
    return rate


def _port(value: Any) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"port {value!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not between 0 and 65535")
    return port


def _count(what: str, value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if number < 0:
        raise ValueError(f"{what} {number} is negative")
    return number


LOG_FORMATS = ("text", "json")


def _log_format(value: str) -> str:
    if value not in LOG_FORMATS:
        raise ValueError(f"log format {value!r} is not one of {', '.join(LOG_FORMATS)}")
    return value


def _workers(value: Any, db: Path | str | None) -> int:
    """``--workers``: at least 1, and more only where every process can reach the store."""
    count = _count("workers", value, 1)
    if count < 1:
        raise ValueError("--workers must be 1 or more")
    if count > 1 and not isinstance(db, str):
        raise ValueError(
            f"--workers {count} needs a store every worker shares: --db postgresql://"
            "USER@HOST:PORT/DB (a store file is one process's)"
        )
    return count


def db_setting(value: str) -> Path | str:
    """``--db``: a PostgreSQL URL as it is, anything else a store file."""
    return value if value.startswith(("postgresql://", "postgres://")) else Path(value)
