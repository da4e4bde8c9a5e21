"""`make demo` tells the whole story: plan (2), apply (0), plan (0), and an HTML report."""

from __future__ import annotations

from enforcer.cli import main


def test_the_demo_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path))
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "(exit code 2)" in out and out.count("(exit code 0)") == 2
    assert "stop CLU1-B, stop CLU1-A, start CLU1-A, start CLU1-B" in out
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10000
