"""--format junit for plan and apply, read back with junitparser: one test case per change, step or check."""

from __future__ import annotations

import json
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

from enforcer.cli import main

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")


def _cases(xml_text: str, tmp_path: Path) -> list:
    path = tmp_path / "junit.xml"
    path.write_text(xml_text)
    return [case for suite in JUnitXml.fromfile(str(path)) for case in suite]


def test_a_plan_is_a_failure_per_pending_change_and_a_run_a_pass_per_step(cli_sim, tmp_path, capsys):
    _, inventory = cli_sim("kb252641-broken", auth="basic-http")
    assert main(["plan", REPAIR, "-i", inventory, "--format", "json"]) == 0
    pending = len([c for cl in json.loads(capsys.readouterr().out)["clusters"] for c in cl["changes"]])

    assert main(["plan", REPAIR, "-i", inventory, "--format", "junit", "--out", str(tmp_path / "plan.xml")]) == 0
    cases = _cases((tmp_path / "plan.xml").read_text(), tmp_path)
    failures = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
    assert len(failures) == pending == 12
    assert all(r.type == "drift" for c in failures for r in c.result)
    assert any("cluster_resource MSDTC-ClusterDTC" in c.name for c in failures)
    assert any(isinstance(r, Skipped) for c in cases for r in c.result), "skipped checks are skipped cases"

    capsys.readouterr()
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "junit"]) == 0
    cases = _cases(capsys.readouterr().out, tmp_path)
    steps = [c for c in cases if not c.result]
    assert len(steps) >= pending and not any(isinstance(r, (Failure, Error)) for c in cases for r in c.result)
