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


def test_a_template_cannot_read_the_password_in_any_form_and_the_state_directory_is_private(tmp_path, monkeypatch,
                                                                                             capsys):
    """`lookup('env', ...)` of the variable a password comes from, through a filter, would defeat any redaction:
    templates may not read it at all; and what enforcer keeps is its user's alone (0700, files 0600)."""
    import stat

    state = tmp_path / "state"
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(state))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    leak = tmp_path / "leak.yml"
    leak.write_text("""- name: leak
  hosts: all
  tasks:
    - name: print it backwards
      assert:
        that: "true"
        success_msg: "{{ lookup('env', 'ENFORCER_PASSWORD') | reverse | join('') }}"
""")
    with simulate("healthy", auth="ntlm", password=PASSWORD, time_scale=0.005) as sim:
        inventory = tmp_path / "inventory.yml"
        sim.write_inventory(str(inventory))
        code = main(["plan", str(leak), "-i", str(inventory), "--format", "json", "--out", str(tmp_path / "p.json")])
        assert code in (1, 4)
        assert main(["plan", REPAIR, "-i", str(inventory)]) == 0, "the inventory's own password still works"
    out = capsys.readouterr()
    texts = [out.out, out.err] + [p.read_bytes().decode("utf-8", "replace") for p in state.rglob("*") if p.is_file()]
    texts += [(tmp_path / "p.json").read_text()] if (tmp_path / "p.json").exists() else []
    assert "reads the variable a connection password comes from" in (tmp_path / "p.json").read_text()
    for form in FORMS + [PASSWORD[::-1]]:
        assert not any(form in text for text in texts), f"{form!r} leaked"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [p for p in state.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in files), \
        [(str(p), oct(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077]
