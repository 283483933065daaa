"""What ``portal-mock contract`` is asked to do: flag, then PORTAL_MOCK_CONTRACT_*, then default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from portal_mock.paths import DEFAULT_SPEC
from portal_mock.settings import DEV_KEY

ENV_PREFIX = "PORTAL_MOCK_CONTRACT_"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
REPORTS = ("junit", "har", "vcr")
# Sized so that the default run against the built-in mock ends in under two minutes on two cores.
DEFAULT_MAX_EXAMPLES = 100
MAX_WORKERS = 64


@dataclass(frozen=True)
class ContractSettings:
    """Everything one contract run needs; ``url=None`` means the built-in mock."""

    url: str | None = None
    api_key: str = DEV_KEY
    spec: Path = DEFAULT_SPEC
    max_time: int | None = None
    # CPython 3.11.7 can fail with more than one Schemathesis worker (gh-106905).
    workers: int = 1
    reports: tuple[str, ...] = ()
    report_dir: Path = Path("reports")
    seed: int | None = None
    max_examples: int = DEFAULT_MAX_EXAMPLES
    # Stop the run after this many failing test cases (Schemathesis's --max-failures).
    max_failures: int | None = None
    phases: tuple[str, ...] = PHASES
    operations: tuple[str, ...] = ()
    # Send no write: no seeding, only the GET operations (see the README for what goes unchecked).
    read_only: bool = False
    # A key of another company: the run ends with the tenant isolation check (``isolation``),
    # creating links in ``namespace`` with the API key and in ``tenant_namespace`` with this
    # one (found from the links each key lists when not given).
    tenant_key: str | None = None
    namespace: str | None = None
    tenant_namespace: str | None = None

    @property
    def built_in(self) -> bool:
        return self.url is None


_FLAGS = {
    "url": "URL",
    "api_key": "API_KEY",
    "spec": "SPEC",
    "max_time": "MAX_TIME",
    "workers": "WORKERS",
    "report": "REPORT",
    "report_dir": "REPORT_DIR",
    "seed": "SEED",
    "max_examples": "MAX_EXAMPLES",
    "max_failures": "MAX_FAILURES",
    "phases": "PHASES",
    "operation": "OPERATION",
    "read_only": "READ_ONLY",
    "tenant_key": "TENANT_KEY",
    "namespace": "NAMESPACE",
    "tenant_namespace": "TENANT_NAMESPACE",
}


def build_contract_settings(
    flags: Mapping[str, Any], environ: Mapping[str, str]
) -> ContractSettings:
    """Merge CLI ``flags`` (None where not given) over ``environ`` over the defaults.

    Raises ValueError, naming the flag, for a value that cannot be used.
    """
    merged: dict[str, Any] = {}
    for flag, env in _FLAGS.items():
        value = flags.get(flag)
        merged[flag] = value if value not in (None, []) else (environ.get(ENV_PREFIX + env) or None)
    defaults = ContractSettings()
    return ContractSettings(
        url=_url(merged["url"]) if merged["url"] else None,
        api_key=merged["api_key"] or defaults.api_key,
        spec=Path(merged["spec"]) if merged["spec"] else defaults.spec,
        max_time=_optional(merged["max_time"], "--max-time", 1, None),
        workers=_bounded(merged["workers"], "--workers", 1, MAX_WORKERS, defaults.workers),
        reports=_choices(merged["report"], "--report", REPORTS, ()),
        report_dir=Path(merged["report_dir"]) if merged["report_dir"] else defaults.report_dir,
        seed=_optional(merged["seed"], "--seed", 0, None),
        max_examples=_bounded(
            merged["max_examples"], "--max-examples", 1, None, defaults.max_examples
        ),
        max_failures=_optional(merged["max_failures"], "--max-failures", 1, None),
        phases=_choices(merged["phases"], "--phases", PHASES, PHASES) or PHASES,
        operations=tuple(_items(merged["operation"])),
        read_only=_switch(merged["read_only"], "--read-only"),
        tenant_key=_tenant_key(merged),
        namespace=merged["namespace"],
        tenant_namespace=merged["tenant_namespace"],
    )


def _tenant_key(merged: dict[str, Any]) -> str | None:
    key = merged["tenant_key"]
    if key is None:
        return None
    if not merged["url"]:
        raise ValueError("--tenant-key needs --url: the built-in mock has one key")
    if merged["read_only"]:
        raise ValueError("--tenant-key creates links, which --read-only forbids")
    if key == (merged["api_key"] or DEV_KEY):
        raise ValueError("--tenant-key must be another company's key than --api-key")
    return str(key)


def _switch(value: Any, flag: str) -> bool:
    """A flag given (True), or an environment value: 1/true/yes or 0/false/no."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise ValueError(f"{flag} {value!r} is not one of 1, true, yes, 0, false, no")


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--url {value!r} is not an http:// or https:// address")
    return value.rstrip("/")


def _items(value: Any) -> list[str]:
    """A comma list (environment) or repeated flags (CLI), flattened."""
    values = value if isinstance(value, list) else [value] if value else []
    return [part.strip() for item in values for part in str(item).split(",") if part.strip()]


def _choices(
    value: Any, flag: str, allowed: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    items = _items(value)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise ValueError(f"{flag}: {', '.join(unknown)} not one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(items)) if items else default


def _bounded(value: Any, flag: str, low: int, high: int | None, default: int) -> int:
    found = _optional(value, flag, low, high)
    return default if found is None else found


def _optional(value: Any, flag: str, low: int, high: int | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{flag} {value!r} is not a whole number") from None
    if number < low or (high is not None and number > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{flag} {number} is not {limits}")
    return number
