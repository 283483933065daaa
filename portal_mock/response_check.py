"""Response bodies checked by a validator compiled once per schema (jsonschema-rs).

Connexion builds a pure-Python validator for every response and walks it over
the body: 84% of a list page's time (bench/results/profile.md). A body the
compiled validator refuses is checked again by Connexion's own validator, so
the error logged and answered is the same as before.
"""

from __future__ import annotations

from typing import Any

from connexion.validators import JSONResponseBodyValidator

from portal_mock.compiled_schemas import compiled_for


class CompiledResponseValidator(JSONResponseBodyValidator):
    """Connexion's JSON response validator, with the compiled check in front."""

    def _validate(self, body: Any) -> None:
        compiled = compiled_for(self._schema)
        if compiled is not None and compiled.is_valid(body):
            return
        super()._validate(body)
