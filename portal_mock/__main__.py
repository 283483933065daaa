"""``python -m portal_mock`` runs the ``portal-mock`` command."""

from __future__ import annotations

import sys

from portal_mock.cli import main

sys.exit(main())
