"""Static checks on the PowerShell agent, runnable without Windows.

They parse agent.ps1 and bootstrap.ps1 with tree-sitter and hold both op
implementations (agent.ps1 and the simulator) to the op catalogue.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

ROOT = Path(__file__).resolve().parents[1]
AGENT_DIR = ROOT / "enforcer" / "transport" / "agent"
AGENT = AGENT_DIR / "agent.ps1"
BOOTSTRAP = AGENT_DIR / "bootstrap.ps1"
CATALOGUE = AGENT_DIR / "catalogue.json"

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


def catalogue_ops() -> set[str]:
    return set(json.loads(CATALOGUE.read_text(encoding="utf-8"))["ops"])


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


def enforcer_ops_keys(source: bytes) -> list[str]:
    """The keys of the `$script:EnforcerOps = @{ ... }` hashtable literal.

    Every key must be a single-quoted string literal and every value a script
    block: anything else fails here rather than being silently skipped.
    """
    tables = []
    for node in walk(parse(source)):
        if node.type != "assignment_expression":
            continue
        left, right = node.named_children[0], node.named_children[-1]
        if left.type == "left_assignment_expression" and text(left).strip().lower() == OPS_VARIABLE:
            table = _single_child_chain_end(right, "hash_literal_expression")
            assert table is not None, f"{OPS_VARIABLE} is not assigned a hashtable literal: {text(right)[:80]!r}"
            tables.append(table)
    assert len(tables) == 1, f"expected one assignment of a hashtable to $script:EnforcerOps, found {len(tables)}"

    keys = []
    body = next((c for c in tables[0].named_children if c.type == "hash_literal_body"), None)
    entries = [] if body is None else [c for c in body.named_children if c.type == "hash_entry"]
    for entry in entries:
        key_expression = next(c for c in entry.named_children if c.type == "key_expression")
        literal = _single_child_chain_end(key_expression, "string_literal")
        raw = None if literal is None else text(literal)
        assert raw is not None and len(raw) >= 2 and raw[0] == raw[-1] == "'", (
            f"op key must be a single-quoted string literal: {text(key_expression)!r}")
        value = entry.named_children[-1]
        assert _single_child_chain_end(value, "script_block_expression") is not None, (
            f"op {raw} must map to a script block")
        keys.append(raw[1:-1].replace("''", "'"))
    return keys


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


def test_agent_files_exist():
    assert AGENT.is_file()
    assert BOOTSTRAP.is_file()


@pytest.mark.parametrize("script", sorted(AGENT_DIR.glob("*.ps1")), ids=lambda p: p.name)
def test_script_parses_without_errors(script: Path):
    problems = syntax_problems(script.read_bytes())
    assert not problems, f"{script.name}:\n" + "\n".join(problems)


def test_agent_ops_match_catalogue():
    keys = enforcer_ops_keys(AGENT.read_bytes())
    assert len(keys) == len(set(keys)), f"duplicate op keys: {sorted(k for k in keys if keys.count(k) > 1)}"
    expected = catalogue_ops()
    assert set(keys) == expected, (
        f"missing from agent.ps1: {sorted(expected - set(keys))}; "
        f"not in the catalogue: {sorted(set(keys) - expected)}")


def test_simulator_ops_match_catalogue():
    from enforcer.simulator.ops import OPS

    expected = catalogue_ops()
    assert set(OPS) == expected, (
        f"missing from the simulator: {sorted(expected - set(OPS))}; "
        f"not in the catalogue: {sorted(set(OPS) - expected)}")


def test_bootstrap_header_and_size():
    source = BOOTSTRAP.read_text(encoding="utf-8")
    assert source.splitlines()[0] == BOOTSTRAP_FIRST_LINE
    encoded = base64.b64encode(source.encode("utf-16-le"))
    assert len(encoded) < BOOTSTRAP_MAX_ENCODED, f"-EncodedCommand payload is {len(encoded)} characters"


@pytest.mark.parametrize("script", [AGENT, BOOTSTRAP], ids=lambda p: p.name)
def test_scripts_use_no_ps7_only_syntax(script: Path):
    found = ps7_only_constructs(script.read_bytes())
    assert not found, f"{script.name} uses PowerShell 7 syntax:\n" + "\n".join(found)


# The extraction and the syntax guard are themselves checked, so that a
# passing run means they looked, not that they could not see.


def test_op_key_extraction_reads_only_the_ops_table():
    source = b"""
$script:Other = @{ 'not.an.op' = { param($a) 1 } }
# 'commented.out' = { }
$script:EnforcerOps = @{
    'a.b' = { param($a) 'x.y' }
    'c.d' = {
        param($a)
        & $script:EnforcerOps['a.b'] $a
    }
}
"""
    assert enforcer_ops_keys(source) == ["a.b", "c.d"]


def test_op_key_extraction_rejects_unquoted_keys():
    with pytest.raises(AssertionError, match="single-quoted"):
        enforcer_ops_keys(b"$script:EnforcerOps = @{ facts = { param($a) 1 } }\n")


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
