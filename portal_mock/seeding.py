"""Realistic links made with Faker from the spec's link schema; the same seed, the same links.

The schema decides which fields a link has, the link types, the permission and
notification switches, and every string's length bound; Faker fills them with
companies, people, addresses and sentences that read like a real customer
base. Nothing depends on the clock, so a seed reproduces its links on any day.
The store issues the ``_id``s.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from portal_mock.credentials import PORTAL_BASE_URL
from portal_mock.store.querying import Link

if TYPE_CHECKING:
    from faker import Faker

# Generated links are created inside this fixed window, so they do not depend on today.
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_DAYS = 330
SOURCES = ("dispatch-board", "customer-portal", "field-app", "crm-sync", "email-intake")


def _stamp(moment: datetime) -> str:
    """The store's own form: UTC with milliseconds, so text order is time order."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _slug(text: str, limit: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "company"


class _Company:
    """One customer: a name, a namespace, a mail domain and its work orders."""

    def __init__(self, fake: Faker) -> None:
        self.name: str = fake.company()
        self.namespace = _slug(self.name, 40)
        self.domain = _slug(self.name, 30) + "." + fake.random.choice(["com", "net", "io", "co"])
        self.workorders = [f"{fake.random.getrandbits(96):024x}" for _ in range(3)]


class LinkFaker:
    """Makes links that fit the spec's ``WorkorderPortalLink`` schema, from one seed."""

    def __init__(self, spec: dict[str, Any], seed: int) -> None:
        schemas = spec["components"]["schemas"]
        self._link_types: list[str] = schemas["LinkType"]["enum"]
        self._permissions: list[str] = list(schemas["Permissions"]["properties"])
        notify = schemas["NotificationSettings"]["properties"]
        self._notify = [name for name, field in notify.items() if field.get("type") == "boolean"]
        branding = schemas["CustomBranding"]["properties"]
        self._max_len = {name: field.get("maxLength", 10_000) for name, field in branding.items()}
        # Imported here: Faker takes a twentieth of a second to import, and a
        # server that never seeds should not start that much later.
        from faker import Faker

        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.random = self.fake.random
        self._companies = [_Company(self.fake) for _ in range(8)]

    def links(self, count: int) -> list[Link]:
        """``count`` links (without ``_id``), oldest first so that the store's ids follow time."""
        made = [self.link() for _ in range(count)]
        return sorted(made, key=lambda link: link["created_at"])

    def link(self) -> Link:
        rnd = self.random
        company = rnd.choice(self._companies)
        created = WINDOW_START + timedelta(seconds=rnd.randrange(WINDOW_DAYS * 86400))
        updated = created + timedelta(seconds=rnd.choice([0, 0, rnd.randrange(30 * 86400)]))
        return {
            "workorder": rnd.choice(company.workorders),
            "link_type": rnd.choice(self._link_types),
            "url": PORTAL_BASE_URL + self._token(12),
            "access_token": self._token(32),
            "permissions": {
                name: name == "can_view_details" or rnd.random() < 0.4 for name in self._permissions
            },
            "access_restrictions": self._restrictions(company),
            "expiry_date": self._expiry(created),
            "notification_settings": {
                **{name: rnd.random() < 0.5 for name in self._notify},
                "recipients": [self._email(company) for _ in range(rnd.randrange(3))],
            },
            "custom_branding": self._branding(company),
            "metadata": {
                "source": rnd.choice(SOURCES),
                "ticket": f"HD-{rnd.randrange(10000, 99999)}",
                "priority": rnd.randrange(1, 5),
            },
            "is_active": rnd.random() < 0.8,
            "company_namespace": self._namespaces(company),
            "created_at": _stamp(created),
            "updated_at": _stamp(updated),
        }

    def _token(self, size: int) -> str:
        raw = self.random.getrandbits(size * 8).to_bytes(size, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _email(self, company: _Company) -> str:
        first = _slug(self.fake.first_name(), 30).replace("-", "")
        last = _slug(self.fake.last_name(), 15).replace("-", "")
        return f"{first}.{last}@{company.domain}"

    def _restrictions(self, company: _Company) -> dict[str, Any]:
        rnd = self.random
        return {
            "allowed_emails": [self._email(company) for _ in range(rnd.choice([0, 0, 1, 2]))],
            "allowed_ip_ranges": [
                self.fake.ipv4(network=True) for _ in range(rnd.choice([0, 0, 0, 1]))
            ],
            "max_uses": rnd.choice([None, None, rnd.randrange(1, 500)]),
            "require_verification": rnd.random() < 0.3,
        }

    def _expiry(self, created: datetime) -> str | None:
        if self.random.random() < 0.3:
            return None
        expiry = created + timedelta(days=self.random.randrange(-10, 400))
        return expiry.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _branding(self, company: _Company) -> dict[str, Any]:
        rnd, limit = self.random, self._max_len
        branding = {
            "logo_url": f"https://cdn.{company.domain}/brand/logo.png",
            "primary_color": self.fake.hex_color(),
            "secondary_color": self.fake.hex_color(),
            "company_name": company.name,
            "welcome_message": self.fake.sentence(nb_words=10),
        }
        # Real customers fill in some of it: keep a random part, cut to the schema's bounds.
        return {k: v[: limit[k]] for k, v in branding.items() if rnd.random() < 0.7}

    def _namespaces(self, company: _Company) -> list[str]:
        extra = self.random.choice(self._companies)
        names = [company.namespace]
        if extra is not company and self.random.random() < 0.2:
            names.append(extra.namespace)
        return names


def new_seed() -> int:
    """A random seed, for a caller that gave none (and is told which, to repeat it)."""
    return secrets.randbelow(1 << 32)


def fake_links(spec: dict[str, Any], count: int, seed: int) -> list[Link]:
    """``count`` links for ``seed``, each fitting the spec, oldest first, without ``_id``."""
    return LinkFaker(spec, seed).links(count)
