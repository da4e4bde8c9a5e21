"""The op contract: the catalogue's schemas follow one set of conventions, the
checker applies them, and the protocol package stays a leaf both ends share."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from enforcer.protocol import contract
from enforcer.protocol.agent import catalogue

ROOT = Path(__file__).resolve().parents[1]
OPS = catalogue()["ops"]


@pytest.mark.parametrize("op", sorted(OPS))
def test_each_op_has_valid_schemas_of_the_catalogue_shape(op: str):
    entry = OPS[op]
    assert set(entry) == {"summary", "read_only", "args", "data"}
    for part in ("args", "data"):
        Draft202012Validator.check_schema(entry[part])
    args = entry["args"]
    assert args["type"] == "object" and args["additionalProperties"] is False
    assert set(args["required"]) <= set(args["properties"])
    for name, prop in args["properties"].items():
        if name in args["required"]:
            assert "default" not in prop, f"{op}: required argument {name!r} has a default"
        else:
            assert "default" in prop or "computed" in prop.get("description", ""), (
                f"{op}: optional argument {name!r} has neither a default nor a description of the computed one")


def test_shared_definitions_are_valid_and_errors_have_the_catalogues_kinds():
    for schema in catalogue()["$defs"].values():
        Draft202012Validator.check_schema(schema)
    assert catalogue()["$defs"]["error"]["properties"]["kind"]["enum"] == list(catalogue()["error_kinds"])


def test_read_only_ops_are_the_readers():
    assert {op for op, entry in OPS.items() if entry["read_only"]} == {
        "facts", "registry.get", "path.get", "service.get", "dtc.get", "sql.get", "events.query", "cluster.nodes",
        "cluster.groups", "cluster.networks", "node.info"}


@pytest.mark.parametrize("op, args, problem", [
    ("registry.get", {"path": "HKLM\\SOFTWARE"}, None),
    ("registry.get", {}, "'path' is a required property"),
    ("registry.get", {"path": ""}, "should be non-empty"),
    ("service.stop", {"name": "MSDTC", "timeout": 5}, "'timeout' was unexpected"),
    ("facts", {"events": {"ids": ["7024"]}}, "$.events.ids[0]: '7024' is not of type 'integer'"),
    ("events.query", {"max": 0}, "0 is less than the minimum of 1"),
    ("registry.frobnicate", {}, "not an op of the catalogue"),
])
def test_request_problems(op: str, args: dict, problem: str | None):
    found = contract.request_problems(op, args)
    assert (found == []) if problem is None else any(problem in p for p in found), found


SERVICE = {"name": "MSDTC", "exists": True, "status": "Running", "start_type": "Automatic",
           "display_name": "Distributed Transaction Coordinator"}


@pytest.mark.parametrize("change, problem", [
    ({}, None),
    ({"status": "running"}, "$.status: 'running' is not one of"),
    ({"exists": "yes"}, "$.exists: 'yes' is not of type 'boolean'"),
    ({"exists": False}, "$.status"),
    ({"colour": "blue"}, "'colour' was unexpected"),
])
def test_answer_problems(change: dict, problem: str | None):
    found = contract.answer_problems("service.get", {**SERVICE, **change})
    assert (found == []) if problem is None else any(problem in p for p in found), found


def test_an_absent_service_is_all_nulls():
    absent = {"name": "Nope", "exists": False, "status": None, "start_type": None, "display_name": None}
    assert contract.answer_problems("service.get", absent) == []
    assert contract.answer_problems("service.get", {**absent, "status": "Stopped"})


def test_error_problems():
    assert contract.error_problems({"kind": "not_found", "message": "no such service: X"}) == []
    assert contract.error_problems({"kind": "oops", "message": "x"})
    assert contract.error_problems({"kind": "failed"})


def _imports(path: Path) -> list[str]:
    """The absolute names a module imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            names.append(f"{base}.{node.module}" if node.module else base)
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module)
    return names


def test_the_protocol_package_is_a_leaf():
    allowed = set(sys.stdlib_module_names) | {"jsonschema", "referencing", "spnego"}  # spnego: typing only
    for path in (ROOT / "enforcer" / "protocol").glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert name.startswith("enforcer.protocol") or (top != "enforcer" and top in allowed), (
                f"{path.name} imports {name}")


def test_the_simulator_imports_only_the_protocol_of_the_engine():
    for path in (ROOT / "enforcer" / "simulator").rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] == "enforcer":
                assert name.startswith(("enforcer.simulator", "enforcer.protocol")), (
                    f"{path.relative_to(ROOT)} imports {name}")
