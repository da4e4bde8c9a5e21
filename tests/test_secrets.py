"""The password never shows: not at -vvv, not in failures, reports, journals or logs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV, simulate

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")
PASSWORD = "Corr3ct-Horse-Battery"
FORMS = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode().rstrip("="),
         base64.b64encode(PASSWORD.encode("utf-16-le")).decode().rstrip("="),
         base64.b64encode(f"enforcer:{PASSWORD}".encode()).decode().rstrip("=")]


@pytest.mark.parametrize("auth", ["basic-https", "ntlm"])
def test_no_form_of_the_password_appears_anywhere(auth, tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    journal = tmp_path / "journal.jsonl"
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(state))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    faults = ["node=CLU1-A,on=service.start,kind=fail", "node=CLU1-B,on=registry.get,kind=http500,count=1",
              "node=CLU1-B,on=facts,kind=wsman,count=1"]
    with simulate("kb252641-broken", auth=auth, password=PASSWORD, faults=faults, journal_path=str(journal),
                  time_scale=0.005) as sim:
        inventory = tmp_path / "inventory.yml"
        sim.write_inventory(str(inventory))
        codes = [main(["plan", REPAIR, "-i", str(inventory), "-vvv"]),
                 main(["apply", REPAIR, "-i", str(inventory), "--yes", "-vvv"]),
                 main(["facts", "-i", str(inventory), "-vvv"])]
        sim.add_fault("node=*,on=any,kind=refuse")
        codes.append(main(["plan", REPAIR, "-i", str(inventory), "-vvv"]))
    assert codes == [0, 1, 0, 3], "the runs really met their faults"
    captured = capsys.readouterr()
    assert "enforcer.wire:" in captured.err, "-vvv really logged the wire"
    texts = {"stdout": captured.out, "stderr": captured.err, "journal": journal.read_text()}
    texts.update({str(p): p.read_text(errors="replace") for p in state.rglob("*") if p.is_file()})
    assert any("run.json" in name for name in texts)
    for name, text in texts.items():
        for form in FORMS:
            assert form not in text, f"a form of the password is in {name}"
