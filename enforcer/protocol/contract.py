"""Checks a request or an answer against the catalogue's JSON Schemas.

The catalogue is the contract both op implementations keep; these checks
are how the tests hold them to it (the simulator's contract audit). They
need jsonschema, a test dependency, so it is imported only when a check
runs: the engine and the simulator import this module at no cost.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .agent import catalogue

_URI = "urn:enforcer:catalogue"
_MAX_MESSAGE = 300


def request_problems(op: str, args: Any) -> list[str]:
    """Why `args` are not arguments of `op` (none: they are); an op the catalogue lacks is a problem too."""
    if op not in catalogue()["ops"]:
        return [f"{op!r} is not an op of the catalogue"]
    return _problems(f"/ops/{op}/args", args)


def answer_problems(op: str, data: Any) -> list[str]:
    """Why `data` is not what `op` answers when it succeeds (none: it is)."""
    if op not in catalogue()["ops"]:
        return [f"{op!r} is not an op of the catalogue"]
    return _problems(f"/ops/{op}/data", data)


def error_problems(error: Any) -> list[str]:
    """Why `error` is not what a failed op answers: {kind of error_kinds, message}."""
    return _problems("/$defs/error", error)


def _problems(pointer: str, instance: Any) -> list[str]:
    from jsonschema.exceptions import best_match

    found = []
    for error in _validator(pointer).iter_errors(instance):
        error = best_match([error])  # the alternative that came closest, inside anyOf and if/then
        message = error.message if len(error.message) <= _MAX_MESSAGE else error.message[:_MAX_MESSAGE] + "..."
        found.append(f"{error.json_path}: {message}")
    return found


@cache
def _validator(pointer: str) -> Any:
    """A validator of the schema at `pointer` in the catalogue, whose $refs resolve within the catalogue."""
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    registry: Registry = Registry().with_resource(_URI, DRAFT202012.create_resource(catalogue()))
    return Draft202012Validator({"$ref": f"{_URI}#{pointer}"}, registry=registry)
