"""Connexion validators that report every schema violation with its field, in the envelope."""

from __future__ import annotations

import codecs
import copy
import json
from collections.abc import AsyncGenerator, Iterator
from functools import cached_property
from typing import Any

import jsonschema
from connexion.exceptions import UnsupportedMediaTypeProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import ParameterValidator
from connexion.validators.json import DefaultsJSONRequestBodyValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Receive, Scope

from portal_mock import size_bounds, strict_json
from portal_mock.compiled_schemas import DEFAULT_KEYWORDS, compiled_for, fill_defaults
from portal_mock.errors import InvalidInput, MalformedBody


def _details(error: ValidationError) -> list[dict[str, str]]:
    """One detail per offending field; a missing or unknown property is named itself."""
    path = [str(part) for part in error.absolute_path]
    names: list[str] = []
    if error.validator == "required" and isinstance(error.instance, dict):
        names = [name for name in error.validator_value if name not in error.instance]
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        names = sorted(set(error.instance) - set(error.schema.get("properties", {})))
    if not names:
        return [{"field": ".".join(path), "message": error.message}]
    return [{"field": ".".join([*path, name]), "message": error.message} for name in names]


def _with_defaults(validator_class: Any) -> Any:
    """Extend a validator to fill in schema defaults, each a fresh copy.

    Connexion's own version inserts the schema's default object itself, so a
    default of ``{}`` filled in by one request would be shared, and changed, by
    the next. A filled-in object is validated like a sent one, so the defaults
    of its own properties are filled in too.
    """
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                keyword = next((key for key in DEFAULT_KEYWORDS if key in subschema), None)
                if keyword is not None and name not in instance:
                    instance[name] = copy.deepcopy(subschema[keyword])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultsValidator = _with_defaults(Draft4RequestValidator)


class BodyValidator(DefaultsJSONRequestBodyValidator):
    """Fills in defaults and lists every violation, not just the first."""

    @cached_property
    def _validator(self) -> Any:
        return _DefaultsValidator(self._schema, format_checker=Draft4Validator.FORMAT_CHECKER)

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        if raw and "content-type" not in Headers(scope=scope):
            # Connexion would guess JSON; a client that does not say what it sends is told.
            raise UnsupportedMediaTypeProblem(
                detail="The request body has no Content-Type; send it as application/json."
            )
        try:
            # JSON is UTF-8 (RFC 8259); a charset parameter naming another is refused.
            if codecs.lookup(self._encoding).name != "utf-8":
                raise MalformedBody(f"The request body must be UTF-8, not {self._encoding}.")
            return strict_json.loads(raw, strict_json.limits_of(scope)) if raw else None
        except UnicodeDecodeError as exc:
            raise MalformedBody(f"The request body is not valid UTF-8: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise MalformedBody(f"The request body is not valid JSON: {exc}") from exc
        except strict_json.BodyRefused as exc:
            raise MalformedBody(
                "The request body is JSON that this API does not take (see x-json-limits).",
                [{"field": field, "message": message} for field, message in exc.problems],
            ) from exc
        except LookupError as exc:
            raise MalformedBody(f"Unknown charset {self._encoding!r} in Content-Type.") from exc

    def _insert_body(self, receive: Receive, *, body: Any, scope: Scope) -> tuple[Receive, Scope]:
        receive, scope = super()._insert_body(receive, body=body, scope=scope)
        # The schema's default stands in for a missing optional body: say it is
        # JSON, or Connexion hands the handler the raw bytes instead of a dict.
        if body is not None and "content-type" not in Headers(scope=scope):
            MutableHeaders(scope=scope)["content-type"] = "application/json"
        return receive, scope

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if body is None:
            raise InvalidInput("The request body must not be empty.", [])
        # The fast path: defaults filled in, then the compiled check. Only a body it
        # refuses meets the Python validator, which names every violation.
        fill_defaults(self._schema, body)
        compiled = compiled_for(self._schema)
        beyond = size_bounds.problems(self._schema, body)
        if compiled is not None and compiled.is_valid(body) and not beyond:
            return None
        errors = sorted(self._validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors or beyond:
            raise InvalidInput(
                "The request body does not match the schema.",
                [detail for error in errors for detail in _details(error)]
                + [{"field": field, "message": message} for field, message in beyond],
            )
        return None


class ParameterChecker(ParameterValidator):
    """Names the parameter in each error and gives jsonschema's short message."""

    def validate_query_parameter_list(
        self, request: Any, security_params: list[str] | None = None
    ) -> set[str]:
        extra: set[str] = super().validate_query_parameter_list(request, security_params)
        if extra:
            names = sorted(extra)
            raise InvalidInput(
                f"Unknown query parameter(s): {', '.join(names)}.",
                [
                    {"field": name, "message": "is not a parameter of this operation"}
                    for name in names
                ],
            )
        return extra

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        name = param["name"]
        if value is None:
            if param.get("required"):
                raise InvalidInput(
                    f"The {parameter_type} parameter '{name}' is required.",
                    [{"field": name, "message": "is required"}],
                )
            return None
        schema = param.get("schema", param)
        compiled = compiled_for(schema)
        if compiled is not None and compiled.is_valid(value):
            return None
        validator = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
        errors = list(validator.iter_errors(value))
        if errors:
            raise InvalidInput(
                f"The {parameter_type} parameter '{name}' is invalid: {errors[0].message}",
                [{"field": name, "message": e.message} for e in errors],
            )
        return None
