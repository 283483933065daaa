"""A stateful mock server and contract-test harness for the Workorder Portal Link API."""

from __future__ import annotations

__version__ = "0.1.0"
