"""Static checks on the PowerShell agent, runnable without Windows.

They parse every file of enforcer/protocol/powershell/ and the agent they
make together with tree-sitter, and hold both op implementations (the
PowerShell family files and the simulator) to the op catalogue.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from enforcer.protocol import agent

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_DIR = ROOT / "enforcer" / "protocol" / "powershell"
BOOTSTRAP = SCRIPT_DIR / agent.BOOTSTRAP
FAMILY_SCRIPTS = [SCRIPT_DIR / name for name in agent.SCRIPTS if name != "core.ps1"]
CATALOGUE = ROOT / "enforcer" / "protocol" / "catalogue.json"

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


def agent_source() -> bytes:
    return agent.agent_text().encode("utf-8")


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
