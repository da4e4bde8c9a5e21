"""Bad input: exit 4, one message naming file:line and what was expected, and no node contacted.

One data file per case under tests/data/bad_input/, its first line saying
`# expect: <text> @ <line>`. Every case runs `enforcer plan` against a live
simulated cluster, which must see zero requests.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV, simulate

DATA = Path(__file__).parent / "data" / "bad_input"
ROOT = Path(__file__).resolve().parents[1]
GOOD_PLAYBOOK = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")
SPECIAL = {"pb_empty.yml": ("is empty", 1), "pb_binary.yml": ("is a binary file", 1),
           "pb_utf16.yml": ("playbook is UTF-16 text; expected UTF-8", 1),
           "inv_utf16.yml": ("inventory is UTF-16 text; expected UTF-8", 1)}
HANG_S = 20  # a case still running after this long is a hang: the loaders must bound every file


def expectation(path: Path) -> tuple[str, int]:
    if path.name in SPECIAL:
        return SPECIAL[path.name]
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")  # the rest may be Latin-1, binary...
    match = re.match(r"# expect: (.*) @ (\d+)$", first)
    return match.group(1), int(match.group(2))


def test_the_corpus_holds_at_least_100_cases():
    assert len(list(DATA.glob("*.yml"))) >= 100


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with simulate("healthy", auth="basic-http") as sim:
        inventory = tmp_path_factory.mktemp("inv") / "inventory.yml"
        sim.write_inventory(str(inventory))
        yield sim, str(inventory)
        assert sum(sim.server.requests.values()) == 0, "bad input must not reach any node"


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path, live):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path))
    monkeypatch.setenv(PASSWORD_ENV, live[0].password)


@pytest.fixture(autouse=True)
def _no_hang():
    """A case that runs past HANG_S fails (SIGALRM) instead of holding CI until its limit."""
    def hung(signum, frame):
        raise TimeoutError(f"still running after {HANG_S} s: a hang")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _check(argv: list[str], capsys, expected: str, location: str | None) -> None:
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert expected in lines[0]
    if location:
        assert f"{location}:" in lines[0] or lines[0].startswith(f"error: {location}"), lines[0]


@pytest.mark.parametrize("case", sorted(DATA.glob("pb_*.yml")), ids=lambda p: p.stem)
def test_bad_playbooks(case, live, capsys):
    expected, line = expectation(case)
    _check(["plan", str(case), "-i", live[1]], capsys, expected, f"{case}:{line}")


@pytest.mark.parametrize("case", sorted(DATA.glob("inv_*.yml")), ids=lambda p: p.stem)
def test_bad_inventories(case, capsys):
    expected, line = expectation(case)
    _check(["plan", GOOD_PLAYBOOK, "-i", str(case)], capsys, expected, f"{case}:{line}")


@pytest.mark.parametrize("case", sorted(DATA.glob("vars_*.yml")), ids=lambda p: p.stem)
def test_bad_vars_files(case, live, capsys):
    expected, line = expectation(case)
    _check(["plan", GOOD_PLAYBOOK, "-i", live[1], "-e", f"@{case}"], capsys, expected, f"{case}:{line}")


@pytest.mark.parametrize("case", sorted(DATA.glob("cli_*.yml")), ids=lambda p: p.stem)
def test_bad_command_lines_from_the_corpus(case, live, capsys):
    """Flags and their values: `{playbook}`, `{inventory}` and `{self}` (the case file) stand for paths."""
    expected = re.match(r"# expect: (.*)$", case.read_text().splitlines()[0]).group(1)
    paths = {"{playbook}": GOOD_PLAYBOOK, "{inventory}": live[1], "{self}": str(case)}
    argv = [paths.get(arg, arg) for arg in yaml.safe_load(case.read_text())["argv"]]
    _check(argv, capsys, expected, None)


@pytest.mark.parametrize("argv,expected", [
    (["-e", "allow_sql_server"], "expected NAME=VALUE"),
    (["-e", "{allow_sql_server: [}"], "YAML syntax error"),
    (["-e", "@/nonexistent/vars.yml"], "does not exist"),
    (["--limit", "NOPE*"], "matches no group, cluster or host"),
    (["--forks", "0"], "--forks must be at least 1"),
    (["--forks", "many"], "invalid int value"),
    (["--format", "xml"], "invalid choice"),
    (["--frobnicate"], "unrecognized arguments"),
])
def test_bad_command_lines(argv, expected, live, capsys):
    assert main(["plan", GOOD_PLAYBOOK, "-i", live[1], *argv]) == 4
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path, live, capsys):
    huge = tmp_path / "huge.yml"
    with open(huge, "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    _check(["plan", str(huge), "-i", live[1]], capsys, "expected a YAML file under", f"{huge}:1")


def test_a_missing_inventory_is_named(live, capsys):
    _check(["plan", GOOD_PLAYBOOK, "-i", "/nonexistent/inventory.yml"], capsys, "does not exist", None)
