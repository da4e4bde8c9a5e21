"""Static checks on the PowerShell agent, runnable without Windows.

They parse every file of enforcer/protocol/powershell/ and the agent they
make together with tree-sitter, and hold both op implementations (the
PowerShell family files and the simulator) to the op catalogue.
"""

from __future__ import annotations

import ast
import base64
import functools
import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from enforcer.protocol import agent

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_DIR = ROOT / "enforcer" / "protocol" / "powershell"
BOOTSTRAP = SCRIPT_DIR / agent.BOOTSTRAP
FAMILY_SCRIPTS = [SCRIPT_DIR / name for name in agent.SCRIPTS if name != "core.ps1"]

BOOTSTRAP_FIRST_LINE = "# enforcer-agent-bootstrap v1"
BOOTSTRAP_MAX_ENCODED = 4000
OPS_VARIABLE = "$script:enforcerops"  # PowerShell variable names ignore case

POWERSHELL = Language(tree_sitter_powershell.language())

# Node types whose text is data or prose, not code. A $( ) inside an
# expandable string is code again.
_NOT_CODE = {
    "comment",
    "string_literal",
    "expandable_string_literal",
    "expandable_here_string_literal",
    "verbatim_string_characters",
    "verbatim_here_string_characters",
}
_CODE_AGAIN = {"sub_expression"}


def parse(source: bytes) -> Node:
    return Parser(POWERSHELL).parse(source).root_node


def walk(node: Node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def text(node: Node) -> str:
    return node.text.decode("utf-8")


CATALOGUE_DATA = agent.catalogue()


def catalogue_ops() -> set[str]:
    return set(CATALOGUE_DATA["ops"])


def agent_source() -> bytes:
    return agent.agent_text().encode("utf-8")


def syntax_problems(source: bytes) -> list[str]:
    problems = []
    for node in walk(parse(source)):
        if node.is_error or node.is_missing:
            row, column = node.start_point
            what = f"MISSING {node.type}" if node.is_missing else "ERROR"
            problems.append(f"line {row + 1}, column {column + 1}: {what} near {text(node)[:60]!r}")
    return problems


def _single_child_chain_end(node: Node, wanted: str) -> Node | None:
    """Follow a chain of single named children (the grammar's expression
    precedence levels) down to a node of type `wanted`."""
    while node.type != wanted:
        if node.named_child_count != 1:
            return None
        node = node.named_children[0]
    return node


def _single_quoted(node: Node, what: str) -> str:
    """The value of a single-quoted string literal; anything else fails."""
    literal = _single_child_chain_end(node, "string_literal")
    raw = None if literal is None else text(literal)
    assert raw is not None and len(raw) >= 2 and raw[0] == raw[-1] == "'", (
        f"{what} must be a single-quoted string literal: {text(node)!r}")
    return raw[1:-1].replace("''", "'")


def _is_ops_table(node: Node) -> bool:
    return node.type == "variable" and text(node).lower() == OPS_VARIABLE


def op_registrations(source: bytes) -> dict[str, Node]:
    """The ops a file registers, `$script:EnforcerOps['name'] = { ... }`: name -> the script block.

    Every assignment that touches the table must be a registration with a
    single-quoted name and a script block, or the table's creation as an
    empty `@{}`: anything else fails here rather than being silently skipped.
    """
    registered: dict[str, Node] = {}
    for node in walk(parse(source)):
        if node.type != "assignment_expression":
            continue
        left, right = node.named_children[0], node.named_children[-1]
        if not any(_is_ops_table(n) for n in walk(left)):
            continue
        target = _single_child_chain_end(left, "variable")
        if target is not None:
            table = _single_child_chain_end(right, "hash_literal_expression")
            assert table is not None and not table.named_children, (
                f"{OPS_VARIABLE} may only be created empty, as @{{}}: {text(node)[:80]!r}")
            continue
        access = _single_child_chain_end(left, "element_access")
        assert access is not None and _is_ops_table(access.named_children[0]), (
            f"an op must be registered as $script:EnforcerOps['name'] = {{ ... }}: {text(left)!r}")
        name = _single_quoted(access.named_children[1], "an op's name")
        block = _single_child_chain_end(right, "script_block_expression")
        assert block is not None, f"op {name} must be a script block"
        assert name not in registered, f"op {name} is registered twice"
        registered[name] = block
    return registered


# --- the arguments each implementation reads --------------------------------
# Get-Arg $a 'name' [default] [-Required] -As type in the agent, and
# _arg(args, "name", type, default) / _timeout(args, default) in the simulator,
# with the same type names. Every use of an op's arguments must be such a read,
# or a hand-over to a function whose reads are followed in turn: a use the
# extractors cannot follow fails, so a pass means they saw every read.

ARG_TYPES = {"string", "number", "integer", "boolean", "object", "strings", "integers"}
REQUIRED = "<required>"
COMPUTED = "<computed>"  # a default that is an expression, worked out on the node


@dataclass(frozen=True)
class ArgRead:
    type: str
    default: Any  # REQUIRED, COMPUTED or the literal value


# Expression precedence levels and statement wrappers: a node that only wraps its one child.
_WRAPPERS = {"pipeline", "pipeline_chain", "logical_expression", "bitwise_expression", "comparison_expression",
             "additive_expression", "multiplicative_expression", "format_expression", "range_expression",
             "array_literal_expression", "unary_expression", "statement_list"}


def _unwrap(node: Node) -> Node:
    while node.type in _WRAPPERS and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _wrapping_parent(node: Node) -> Node:
    """The nearest ancestor that is more than a wrapper of `node`."""
    while node.parent is not None and node.parent.type in _WRAPPERS and node.parent.named_child_count == 1:
        node = node.parent
    return node.parent


def ps_literal(node: Node) -> Any:
    """The value of a literal default; COMPUTED for anything else."""
    node = _unwrap(node)
    if node.type == "integer_literal":
        return int(text(node))
    if node.type == "real_literal":
        return float(text(node))
    if node.type == "variable" and text(node).lower() in ("$true", "$false", "$null"):
        return {"$true": True, "$false": False, "$null": None}[text(node).lower()]
    if node.type == "string_literal" and text(node).startswith("'"):
        return text(node)[1:-1].replace("''", "'")
    if node.type == "array_expression":
        body = [c for c in node.named_children if c.type == "statement_list"]
        if not body:
            return []
        items = _unwrap(body[0])
        items = items.named_children if items.type == "array_literal_expression" else [items]
        values = [ps_literal(item) for item in items]
        return COMPUTED if COMPUTED in values else values
    return COMPUTED


def _command_arguments(command: Node) -> tuple[list[Node], dict[str, Node | None]]:
    """A command's positional arguments and its named ones (-Name -> value; a switch -> None)."""
    elements = next((c for c in command.named_children if c.type == "command_elements"), None)
    items = [] if elements is None else [c for c in elements.named_children if c.type != "command_argument_sep"]
    positional, named = [], {}
    while items:
        item = items.pop(0)
        if item.type != "command_parameter":
            positional.append(item)
            continue
        name = text(item)[1:].lower()
        assert ":" not in name, f"write -{name.split(':')[0]} value, not -{name}: {text(command)!r}"
        named[name] = None if name == "required" else items.pop(0)
    return positional, named


def _get_arg_read(command: Node) -> tuple[Node, str, ArgRead]:
    """(the object read from, the argument's name, what is read) of one Get-Arg call."""
    positional, named = _command_arguments(command)
    unrecognised = f"unrecognised Get-Arg call: {text(command)!r}"
    assert len(positional) <= 3, unrecognised
    slots = dict(zip(("from", "name", "default"), positional, strict=False))
    assert not slots.keys() & named.keys(), unrecognised
    slots.update(named)
    assert {"from", "name"} <= slots.keys() <= {"from", "name", "default", "required", "as"}, unrecognised
    assert "as" in slots, f"an op's Get-Arg must name its type with -As: {text(command)!r}"
    arg_type = _unwrap(slots["as"])
    arg_type = ps_literal(arg_type) if arg_type.type == "string_literal" else text(arg_type)
    assert arg_type in ARG_TYPES, f"-As {arg_type} is not one of {sorted(ARG_TYPES)}: {text(command)!r}"
    if "required" in slots:
        assert "default" not in slots, f"a required argument has no default: {text(command)!r}"
        default = REQUIRED
    else:
        default = ps_literal(slots["default"]) if "default" in slots else None
    return slots["from"], _single_quoted(slots["name"], "an argument's name"), ArgRead(arg_type, default)


def _script_parameters(node: Node) -> list[str]:
    """The parameter names of a function or script block, lower-cased as PowerShell compares them."""
    for child in walk(node):
        if child.type in ("param_block", "function_parameter_declaration"):
            params = next(c for c in child.named_children if c.type == "parameter_list")
            return [text(p.named_children[-1]).lower() for p in params.named_children if p.type == "script_parameter"]
    return []


def agent_functions(source: bytes) -> dict[str, Node]:
    return {text(next(c for c in node.named_children if c.type == "function_name")).lower(): node
            for node in walk(parse(source)) if node.type == "function_statement"}


def ps_arg_reads(body: Node, param: str, functions: dict[str, Node]) -> dict[str, ArgRead]:
    """The arguments read from `param` inside `body`, following it into the agent's own functions."""
    reads: dict[str, ArgRead] = {}

    def record(name: str, read: ArgRead) -> None:
        assert reads.setdefault(name, read) == read, f"argument {name!r} is read two ways: {reads[name]}, {read}"

    for node in walk(body):
        if node.type != "variable" or text(node).lower() != param or node.parent.type == "script_parameter":
            continue
        command = _wrapping_parent(node)
        command = command.parent if command is not None and command.type == "command_elements" else None
        name = None if command is None else text(next(c for c in command.named_children if c.type == "command_name"))
        if name is not None and name.lower() == "get-arg":
            source, arg, read = _get_arg_read(command)
            assert _unwrap(source) == node, f"{param} is not what Get-Arg reads from: {text(command)!r}"
            record(arg, read)
        elif name is not None and name.lower() in functions:
            positional, _ = _command_arguments(command)
            position = [_unwrap(p) for p in positional].index(node)
            function = functions[name.lower()]
            for arg, read in ps_arg_reads(function, _script_parameters(function)[position], functions).items():
                record(arg, read)
        else:
            raise AssertionError(f"cannot follow this use of the op's {param}: {text(node.parent.parent)[:80]!r}")
    return reads


def agent_arg_reads(source: bytes) -> dict[str, dict[str, ArgRead]]:
    """Each op `source` registers -> the arguments it reads."""
    functions = agent_functions(source)
    found = {}
    for op, block in op_registrations(source).items():
        params = _script_parameters(block)
        assert len(params) == 1, f"op {op} must take one parameter, its args: param($a)"
        found[op] = ps_arg_reads(block, params[0], functions)
    return found


def py_arg_reads(function: ast.FunctionDef, param: str,
                 resolve: Callable[[str], ast.FunctionDef | None]) -> dict[str, ArgRead]:
    """The arguments a simulator handler reads from `param`, following it into functions `resolve` finds."""
    reads: dict[str, ArgRead] = {}
    parents = {child: node for node in ast.walk(function) for child in ast.iter_child_nodes(node)}

    def record(name: str, read: ArgRead) -> None:
        assert reads.setdefault(name, read) == read, f"argument {name!r} is read two ways: {reads[name]}, {read}"

    def literal(node: ast.expr | None, missing: Any) -> Any:
        if node is None or isinstance(node, ast.Constant) and node.value is Ellipsis:
            return missing
        try:
            return ast.literal_eval(node)
        except ValueError:
            return COMPUTED

    for node in ast.walk(function):
        if not (isinstance(node, ast.Name) and node.id == param):
            continue
        call = parents.get(node)
        called = call.func.id if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) else None
        where = ast.unparse(call if isinstance(call, ast.expr) else node)
        if called in ("_arg", "_timeout") and call.args[0] is node:
            slots = ("args", "name", "kind", "default") if called == "_arg" else ("args", "default")
            assert len(call.args) <= len(slots), f"unrecognised call: {where}"
            given = dict(zip(slots, call.args, strict=False))
            given.update((k.arg, k.value) for k in call.keywords)
            assert given.keys() <= {"args", "name", "kind", "default"}, f"unrecognised call: {where}"
            if called == "_timeout":
                record("timeout_s", ArgRead("number", literal(given.get("default"), REQUIRED)))
                continue
            name, arg_type = given.get("name"), literal(given.get("kind"), "string")
            assert isinstance(name, ast.Constant) and isinstance(name.value, str) and arg_type in ARG_TYPES, (
                f"unrecognised call: {where}")
            record(name.value, ArgRead(arg_type, literal(given.get("default"), REQUIRED)))
        elif called is not None and node in call.args and resolve(called) is not None:
            target = resolve(called)
            for arg, read in py_arg_reads(target, target.args.args[call.args.index(node)].arg, resolve).items():
                record(arg, read)
        else:
            raise AssertionError(f"cannot follow this use of the handler's {param}: {where}")
    return reads


def _function_ast(function: Callable) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]


@functools.cache
def simulator_arg_reads() -> dict[str, dict[str, ArgRead]]:
    """Each op of the simulator -> the arguments its handler reads."""
    from enforcer.simulator.ops import OPS

    def resolver(handler: Callable) -> Callable[[str], ast.FunctionDef | None]:
        def resolve(name: str) -> ast.FunctionDef | None:
            found = handler.__globals__.get(name)
            own = inspect.isfunction(found) and found.__module__.startswith("enforcer.simulator.ops.")
            return _function_ast(found) if own and name not in ("_arg", "_timeout") else None
        return resolve

    found = {}
    for op, handler in OPS.items():
        function = _function_ast(handler)
        found[op] = py_arg_reads(function, function.args.args[1].arg, resolver(handler))
    return found


def catalogue_arg_reads(op: str) -> dict[str, ArgRead]:
    """What the catalogue says `op`'s implementations read: each property's type and default."""
    schema = CATALOGUE_DATA["ops"][op]["args"]
    reads = {}
    for name, prop in schema["properties"].items():
        if name in schema["required"]:
            default = REQUIRED
        else:
            default = prop["default"] if "default" in prop else COMPUTED
        reads[name] = ArgRead(schema_arg_type(prop), default)
    return reads


def schema_arg_type(prop: dict[str, Any]) -> str:
    """The Get-Arg -As type a property's schema stands for."""
    if "$ref" in prop:
        assert prop["$ref"].startswith("#/"), prop["$ref"]
        target = CATALOGUE_DATA
        for part in prop["$ref"][2:].split("/"):
            target = target[part]
        prop = {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    kind = prop.get("type")
    if kind == "string":
        assert prop.get("minLength") == 1, f"a string argument is non-empty, as Get-Arg -As string checks: {prop}"
        return "string"
    if kind == "array":
        return {"string": "strings", "integer": "integers"}[prop["items"]["type"]]
    assert kind in ARG_TYPES, f"no Get-Arg -As type for {prop}"
    return kind


def code_only_text(source: bytes) -> str:
    """The source with comments and string contents blanked out, positions
    kept, so token checks cannot trip over prose or data."""
    masked = bytearray(b" " * len(source))
    for line_end in re.finditer(rb"\n", source):
        masked[line_end.start()] = ord("\n")

    def visit(node: Node, in_code: bool) -> None:
        if node.type in _NOT_CODE:
            in_code = False
        elif node.type in _CODE_AGAIN:
            in_code = True
        if node.child_count == 0 and in_code:
            masked[node.start_byte:node.end_byte] = source[node.start_byte:node.end_byte]
        for child in node.children:
            visit(child, in_code)

    visit(parse(source), True)
    return masked.decode("utf-8", errors="replace")


# PowerShell 7 syntax that Windows PowerShell 5.1 cannot parse. The ternary
# pattern skips `| ? {`, the Where-Object alias.
_PS7_ONLY = {
    "null-coalescing operator ??": re.compile(r"\?\?"),
    "pipeline chain operator &&": re.compile(r"&&"),
    "pipeline chain operator ||": re.compile(r"\|\|"),
    "ConvertFrom-Json -AsHashtable": re.compile(r"-AsHashtable\b", re.IGNORECASE),
    "ternary operator ? :": re.compile(r"(?<![|\s])\s+\?\s+[^\n]*?\s:\s"),
}


def ps7_only_constructs(source: bytes) -> list[str]:
    found = []
    code = code_only_text(source)
    for name, pattern in _PS7_ONLY.items():
        for match in pattern.finditer(code):
            found.append(f"line {code.count(chr(10), 0, match.start()) + 1}: {name}")
    for node in walk(parse(source)):
        if node.type == "pipeline_chain_tail":
            found.append(f"line {node.start_point[0] + 1}: pipeline chain ({text(node)})")
    return found


# --- tests ------------------------------------------------------------------


def test_the_folder_holds_exactly_the_agent_and_the_bootstrap():
    assert sorted(p.name for p in SCRIPT_DIR.glob("*.ps1")) == sorted([*agent.SCRIPTS, agent.BOOTSTRAP])
    assert agent.SCRIPTS[0] == "core.ps1", "core.ps1 creates the op table the family files fill"


@pytest.mark.parametrize("script", sorted(SCRIPT_DIR.glob("*.ps1")), ids=lambda p: p.name)
def test_script_parses_without_errors(script: Path):
    problems = syntax_problems(script.read_bytes())
    assert not problems, f"{script.name}:\n" + "\n".join(problems)


def test_the_concatenated_agent_parses_and_defines_its_entry_point():
    problems = syntax_problems(agent_source())
    assert not problems, "the agent:\n" + "\n".join(problems)
    assert "function Invoke-EnforcerAgent" in agent.agent_text()  # what the simulator looks for


def family_ops() -> dict[str, list[str]]:
    """Each family file's name (without .ps1) -> the ops it registers."""
    return {script.stem: list(op_registrations(script.read_bytes())) for script in FAMILY_SCRIPTS}


def test_core_registers_no_op_and_each_family_some():
    assert op_registrations((SCRIPT_DIR / "core.ps1").read_bytes()) == {}
    assert all(family_ops().values()), family_ops()


def test_agent_ops_match_catalogue():
    registered = [op for ops in family_ops().values() for op in ops]
    assert len(registered) == len(set(registered)), (
        f"ops registered by two files: {sorted(k for k in registered if registered.count(k) > 1)}")
    assert list(op_registrations(agent_source())) == registered
    expected = catalogue_ops()
    assert set(registered) == expected, (
        f"missing from the agent: {sorted(expected - set(registered))}; "
        f"not in the catalogue: {sorted(set(registered) - expected)}")


def test_simulator_ops_match_catalogue():
    from enforcer.simulator.ops import OPS

    expected = catalogue_ops()
    assert set(OPS) == expected, (
        f"missing from the simulator: {sorted(expected - set(OPS))}; "
        f"not in the catalogue: {sorted(set(OPS) - expected)}")


def test_simulator_families_are_the_agent_families():
    from enforcer.simulator.ops import FAMILIES

    simulator = {family.__name__.rsplit(".", 1)[1]: sorted(family.OPS) for family in FAMILIES}
    assert simulator == {family: sorted(ops) for family, ops in family_ops().items()}


def test_bootstrap_header_and_size():
    source = BOOTSTRAP.read_text(encoding="utf-8")
    assert source.splitlines()[0] == BOOTSTRAP_FIRST_LINE
    encoded = base64.b64encode(source.encode("utf-16-le"))
    assert len(encoded) < BOOTSTRAP_MAX_ENCODED, f"-EncodedCommand payload is {len(encoded)} characters"


@pytest.mark.parametrize("script", sorted(SCRIPT_DIR.glob("*.ps1")), ids=lambda p: p.name)
def test_scripts_use_no_ps7_only_syntax(script: Path):
    found = ps7_only_constructs(script.read_bytes())
    assert not found, f"{script.name} uses PowerShell 7 syntax:\n" + "\n".join(found)


# The extraction and the syntax guard are themselves checked, so that a
# passing run means they looked, not that they could not see.


def test_op_registration_extraction_reads_only_registrations():
    source = b"""
$script:Other = @{ 'not.an.op' = { param($a) 1 } }
$script:Other['nor.this'] = { param($a) 2 }
# $script:EnforcerOps['commented.out'] = { }
$script:EnforcerOps = @{}
$script:EnforcerOps['a.b'] = { param($a) 'x.y' }
$script:enforcerops['c.d'] = {
    param($a)
    & $script:EnforcerOps['a.b'] $a
}
"""
    assert list(op_registrations(source)) == ["a.b", "c.d"]


@pytest.mark.parametrize("source, complaint", [
    (b'$script:EnforcerOps["facts"] = { param($a) 1 }\n', "single-quoted"),
    (b"$script:EnforcerOps['facts'] = 'not a block'\n", "script block"),
    (b"$script:EnforcerOps = @{ 'facts' = { param($a) 1 } }\n", "created empty"),
    (b"$script:EnforcerOps.facts = { param($a) 1 }\n", "registered as"),
    (b"$script:EnforcerOps['a'] = { 1 }\n$script:EnforcerOps['a'] = { 2 }\n", "twice"),
])
def test_op_registration_extraction_rejects_other_forms(source: bytes, complaint: str):
    with pytest.raises(AssertionError, match=complaint):
        op_registrations(source)


@pytest.mark.parametrize("snippet, construct", [
    (b"$x = $a ?? 'default'\n", "??"),
    (b"$x = $ok ? 'yes' : 'no'\n", "ternary"),
    (b"$o = $json | ConvertFrom-Json -AsHashtable\n", "-AsHashtable"),
    (b"git fetch && git status\n", "&&"),
    (b"git fetch || exit 1\n", "||"),
])
def test_ps7_guard_catches(snippet: bytes, construct: str):
    found = ps7_only_constructs(snippet)
    assert any(construct in f for f in found), found


def test_ps7_guard_ignores_strings_and_comments():
    source = b"""
# a ?? b, x ? y : z, a && b, a || b, -AsHashtable
$s = 'a ?? b && c || d -AsHashtable'
$t = "x ? y : z"
$u = @(1, 2) | Where-Object { $_ -gt 1 }
"""
    assert ps7_only_constructs(source) == []


def test_ps7_guard_sees_code_inside_expandable_strings():
    assert ps7_only_constructs(b'$s = "total: $($a ?? 0)"\n')


# --- each op's arguments: the agent, the simulator and the catalogue agree ---


@functools.cache
def the_agents_arg_reads() -> dict[str, dict[str, ArgRead]]:
    return agent_arg_reads(agent_source())


@pytest.mark.parametrize("op", sorted(CATALOGUE_DATA["ops"]))
def test_the_agent_reads_the_arguments_the_catalogue_gives(op: str):
    assert the_agents_arg_reads()[op] == catalogue_arg_reads(op)


@pytest.mark.parametrize("op", sorted(CATALOGUE_DATA["ops"]))
def test_the_simulator_reads_the_arguments_the_catalogue_gives(op: str):
    assert simulator_arg_reads()[op] == catalogue_arg_reads(op)


def test_agent_arg_extraction_sees_every_form_of_read():
    source = b"""
function Invoke-Change($a, [string]$Verb) {
    $name = Get-Arg $a 'name' -Required -As string
    $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 60 -As number)
}
$script:EnforcerOps['x.one'] = {
    param($a)
    $list = Get-Arg $a 'services' @('ClusSvc', 'MSDTC') -As strings
    $codes = Get-Arg $a 'codes' -Default @(0, 3010) -As integers
    $source = Get-Arg $a 'source' -As 'string'
    $net = Get-Arg $a 'network_name' ('MSDTC-' + (Get-Cluster).Name) -As string
    $type = Get-Arg $property.Value 'type' 'REG_SZ' -As string
    foreach ($path in (Get-Arg $a 'paths' @() -As strings)) { $path }
}
$script:EnforcerOps['x.two'] = { param($a) Invoke-Change $a 'Stop' }
$script:EnforcerOps['x.three'] = { param($a) 'reads nothing' }
"""
    assert agent_arg_reads(source) == {
        "x.one": {"services": ArgRead("strings", ["ClusSvc", "MSDTC"]), "codes": ArgRead("integers", [0, 3010]),
                  "source": ArgRead("string", None), "network_name": ArgRead("string", COMPUTED),
                  "paths": ArgRead("strings", [])},
        "x.two": {"name": ArgRead("string", REQUIRED), "timeout_s": ArgRead("number", 60)},
        "x.three": {},
    }


@pytest.mark.parametrize("body, complaint", [
    (b"$b = $a", "cannot follow"),
    (b"Show-Args $a", "cannot follow"),
    (b"Get-Arg $a 'n' -Required", "-As"),
    (b"Get-Arg $a $name -As string", "single-quoted"),
    (b"Get-Arg $a 'n' -As text", "not one of"),
    (b"Get-Arg $a 'n' 'x' -Required -As string", "no default"),
    (b"Get-Arg $a 'n' 1 -As number; Get-Arg $a 'n' 2 -As number", "two ways"),
    (b"Get-Arg -From $a 'n' -As string", "unrecognised"),
])
def test_agent_arg_extraction_fails_on_what_it_cannot_follow(body: bytes, complaint: str):
    with pytest.raises(AssertionError, match=complaint):
        agent_arg_reads(b"$script:EnforcerOps['x'] = { param($a) " + body + b" }\n")


def _snippet_reads(source: str, handler: str = "handler") -> dict[str, ArgRead]:
    functions = {f.name: f for f in ast.parse(textwrap.dedent(source)).body if isinstance(f, ast.FunctionDef)}
    return py_arg_reads(functions[handler], functions[handler].args.args[1].arg, functions.get)


def test_simulator_arg_extraction_sees_every_form_of_read():
    source = """
        def change(ctx, given, verb):
            return _arg(given, "name"), _timeout(given, 60)

        def handler(ctx, args):
            _arg(args, "services", "strings", ["ClusSvc", "MSDTC"])
            _arg(args, "source", "string", None)
            _arg(args, "network_name", "string", f"MSDTC-{ctx.cluster.name}")
            _arg(args, "max", kind="integer", default=100)
            _arg(args, "path", "string", ...)
            _arg({"data": 1}, "data", "number")
            return change(ctx, args, "stop")
    """
    assert _snippet_reads(source) == {
        "services": ArgRead("strings", ["ClusSvc", "MSDTC"]), "source": ArgRead("string", None),
        "network_name": ArgRead("string", COMPUTED), "max": ArgRead("integer", 100),
        "path": ArgRead("string", REQUIRED), "name": ArgRead("string", REQUIRED), "timeout_s": ArgRead("number", 60)}


@pytest.mark.parametrize("body, complaint", [
    ("given = args", "cannot follow"),
    ("args.get('x')", "cannot follow"),
    ("print(args)", "cannot follow"),
    ("_arg(args, name)", "unrecognised"),
    ("_arg(args, 'n', 'text')", "unrecognised"),
    ("_arg(args, 'n', 'number', 1); _arg(args, 'n', 'number', 2)", "two ways"),
])
def test_simulator_arg_extraction_fails_on_what_it_cannot_follow(body: str, complaint: str):
    with pytest.raises(AssertionError, match=complaint):
        _snippet_reads(f"def handler(ctx, args):\n    {body}\n")
