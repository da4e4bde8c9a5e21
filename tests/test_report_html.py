"""The HTML report: rendered from the saved JSON documents, checked in the DOM a real browser builds from it.

The end-to-end test repairs the simulated KB Q252641 cluster through the CLI, renders the report from
STATE_DIR/runs/RUN_ID/{plan,run}.json, loads it in headless Chromium and reads the DOM back: what a
reviewer opening the ticket attachment would see, not what the template meant to write.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from enforcer.cli import main
from enforcer.history import History
from enforcer.report.html import render_html
from enforcer.simulator import PASSWORD_ENV, simulate

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")
CHROMIUM = Path("/usr/bin/chromium")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
EXTERNAL = re.compile(r"""(?:\b(?:src|href|xlink:href)\s*=\s*["']?\s*|url\(\s*["']?\s*)(?:https?:)?//""", re.I)


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent, self.text = tag, attrs, parent, ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def inside(self, tag: str, cls: str | None = None) -> Element | None:
        node = self.parent
        while node is not None and not (node.tag == tag and (cls is None or cls in node.classes)):
            node = node.parent
        return node


class Dom(HTMLParser):
    """Every element with its attributes, parent and own text: enough to query like a small DOM."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._stack: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self._stack[-1] if self._stack else None)
        self.elements.append(element)
        if tag not in VOID:
            self._stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, self._stack[-1] if self._stack else None))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i].tag == tag:
                del self._stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self._stack:
            self._stack[-1].text += data

    def find(self, tag: str, cls: str | None = None, within: Element | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)
                and (within is None or _descends(e, within))]


def _descends(element: Element, ancestor: Element) -> bool:
    node = element.parent
    while node is not None and node is not ancestor:
        node = node.parent
    return node is ancestor


def bars(dom: Dom, svg: Element) -> list[Element]:
    return sorted(dom.find("rect", "bar", svg), key=lambda b: int(b.attrs["data-order"]))


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def history_rows(state: Path, applied: Path, planned: Path) -> list[dict[str, Any]]:
    """History.runs() if the CLI records history; else the same rows built from the two saved runs."""
    db = state / "history.db"
    if db.exists():
        history = History(db)
        try:
            rows = history.runs("CLU1")
        finally:
            history.close()
        if rows:
            return rows

    def row(folder: Path, mode: str) -> dict[str, Any]:
        plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
        run = json.loads((folder / "run.json").read_text(encoding="utf-8")) if mode == "apply" else None
        pending = len(plan["clusters"][0]["changes"])
        applied_n = sum(s["status"] == "changed" for s in run["clusters"][0]["steps"]) if run else 0
        started = dt.datetime.fromtimestamp((folder / "plan.json").stat().st_mtime, dt.timezone.utc)
        return {"id": folder.name, "cluster": "CLU1", "playbook": plan["playbook"], "inventory": plan["inventory"],
                "mode": mode, "started": started.isoformat(timespec="seconds"),
                "ended": started.isoformat(timespec="seconds"),
                "outcome": ("changed" if applied_n else "ok") if run else ("changes" if pending else "ok"),
                "changes_pending": pending, "changes_applied": applied_n, "reason": None}

    return [row(applied, "apply"), row(planned, "plan")]


def test_report_of_the_kb252641_repair_renders_in_chromium(tmp_path, monkeypatch, capsys):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    state = tmp_path / "state"
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(state))
    inventory = str(tmp_path / "inventory.yml")
    with simulate("kb252641-broken", auth="basic-http", time_scale=0.005) as sim:
        sim.write_inventory(inventory)
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 0
        assert main(["plan", REPAIR, "-i", inventory]) == 0
    capsys.readouterr()

    folders = sorted((state / "runs").iterdir())
    applied = next(f for f in folders if (f / "run.json").exists())
    planned = next(f for f in folders if f != applied)
    plan_doc = json.loads((applied / "plan.json").read_text(encoding="utf-8"))
    run_doc = json.loads((applied / "run.json").read_text(encoding="utf-8"))
    rows = history_rows(state, applied, planned)
    html = render_html(plan_doc, run_doc, {"CLU1": rows})
    assert "<script" not in html.lower() and not EXTERNAL.search(html)
    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")

    dumped = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = Dom(dumped.stdout)

    (swimlane,) = dom.find("svg", "swimlane")
    assert "planned" not in swimlane.classes, "a run draws the restart as it happened"
    lanes = dom.find("g", "lane", swimlane)
    assert [g.attrs["data-node"] for g in lanes] == ["CLU1-A", "CLU1-B"]
    assert [dom.find("text", "lane-name", g)[0].text for g in lanes] == ["CLU1-A", "CLU1-B"]
    restart = [b for b in bars(dom, swimlane) if int(b.attrs["data-order"]) in range(4)]
    assert [(b.attrs["data-action"], b.attrs["data-node"]) for b in restart] == [
        ("stop", "CLU1-B"), ("stop", "CLU1-A"), ("start", "CLU1-A"), ("start", "CLU1-B")]
    assert all(b.attrs["data-action"] in b.classes for b in restart)
    assert all(b.inside("g", "lane").attrs["data-node"] == b.attrs["data-node"] for b in restart)
    xs = [float(b.attrs["x"]) for b in restart]
    assert xs == sorted(xs) and len(set(xs)) == 4, xs
    ticks = [t.text.strip() for t in dom.find("text", "tick-label", swimlane)]
    assert ticks[0] == "0 s" and all(t.endswith(" s") for t in ticks) and len(ticks) >= 3

    steps = run_doc["clusters"][0]["steps"]
    (changes,) = dom.find("table", "changes")
    assert len(dom.find("tr", "change", changes)) == len(steps) == 12
    groups = [g.attrs["data-node"] for g in dom.find("tbody", "group", changes)]
    assert groups == ["cluster (via CLU1-A)", "CLU1-A", "CLU1-B"]
    (backups,) = dom.find("table", "backups")
    assert len([tr for tr in dom.find("tr", within=backups) if tr.inside("tbody")]) == 5

    (drift,) = dom.find("svg", "drift")
    assert drift.attrs["data-cluster"] == "CLU1"
    assert len(dom.find("g", "run", drift)) == len(rows) >= 2
    assert all(dom.find("title", within=g) for g in dom.find("g", "run", drift))
    assert not EXTERNAL.search(dumped.stdout)
    links = [e.attrs.get(a, "") for e in dom.elements for a in ("src", "href", "xlink:href")]
    assert not [link for link in links if re.match(r"\s*(https?:)?//", link)], links

    png = tmp_path / "report.png"
    shot = chromium(f"--screenshot={png}", "--window-size=1280,2000", report.as_uri(), profile=tmp_path / "profile-png")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def plan_doc(task: str = "Restart <script>alert(1)</script>") -> dict[str, Any]:
    restart = {"task": task, "type": "cluster_restart", "node": None, "via": "N1", "actions": ["restart"],
               "before": {"N1": "Up", "N2": "Up"}, "after": {"N1": "Up", "N2": "Up"}, "destructive": True,
               "backups": [], "reason": "ordered", "order": ["stop N2", "stop N1", "start N1", "start N2"]}
    tour = {"task": "Failover", "type": "failover_test", "node": None, "via": "N1", "actions": ["test"],
            "before": {"owner": "N1"}, "after": {"owner": "N1"}, "destructive": True, "backups": [],
            "reason": "tour", "order": ["move to N2", "move to N1"]}
    key = {"task": "Delete key", "type": "registry_key", "node": "N2", "via": "N2", "actions": ["delete"],
           "before": {"values": {"a": "<b>"}}, "after": {"exists": False}, "destructive": True,
           "backups": ["C:\\backups\\r\\N2-registry-HKLM_X.reg"], "reason": "exists"}
    return {"format_version": "1.0", "playbook": "p.yml", "inventory": "i.yml", "unreachable": {},
            "clusters": [{"name": "C1", "nodes": ["N1", "N2"], "changes": [restart, key, tour], "error": None,
                          "outcomes": []}],
            "summary": {"changes": 3, "destructive": 3, "backups": 1, "clusters": 1, "clusters_with_changes": 1,
                        "failed_clusters": 0, "locked_clusters": 0, "ok": 0, "skipped": 0}}


def test_plan_only_report_draws_the_planned_order_and_escapes_the_documents():
    html = render_html(plan_doc(), None, {})
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>" not in html and "a=&lt;b&gt;" in html
    dom = Dom(html)
    (swimlane,) = dom.find("svg", "swimlane")
    assert "planned" in swimlane.classes and "Planned order" in html
    assert [g.attrs["data-node"] for g in dom.find("g", "lane", swimlane)] == ["N1", "N2"]
    drawn = bars(dom, swimlane)
    assert [(b.attrs["data-order"], b.attrs["data-action"], b.attrs["data-node"]) for b in drawn] == [
        ("0", "stop", "N2"), ("1", "stop", "N1"), ("2", "start", "N1"), ("3", "start", "N2")]
    xs = [float(b.attrs["x"]) for b in drawn]
    assert len({round(b - a, 1) for a, b in itertools.pairwise(xs)}) == 1, "equal slots on an ordinal axis"
    assert [t.text for t in dom.find("text", "tick-label", swimlane)] == [f"step {i}" for i in range(1, 5)]
    assert len(dom.find("tr", "change")) == 3 and not dom.find("svg", "drift")
    assert "move to N2" in html, "the failover tour is listed, not drawn as a restart"
    assert "N2-registry-HKLM_X.reg" in html


def test_a_failed_restart_shows_the_recovery_and_a_single_run_still_gets_a_drift_chart():
    plan = plan_doc("Restart")
    t0 = 1_700_000_000.0
    timeline = [{"node": "N2", "action": "stop", "start": t0, "end": t0 + 1, "ok": True},
                {"node": "N1", "action": "stop", "start": t0 + 1, "end": t0 + 4, "ok": False},
                {"node": "N2", "action": "recovery start", "start": t0 + 4, "end": t0 + 6, "ok": True}]
    step = {**plan["clusters"][0]["changes"][0], "status": "failed", "message": "N1 is Up after stop",
            "duration_s": 6.0, "started_at": t0, "data": {"timeline": timeline}}
    run = {"format_version": "1.0", "run_id": "r1", "playbook": "p.yml", "inventory": "i.yml", "interrupted": False,
           "clusters": [{"name": "C1", "nodes": ["N1", "N2"], "error": "ordered restart failed", "backups": [],
                         "final_nodes": {"N1": "Up", "N2": "Up"}, "warnings": [], "steps": [step]}],
           "recap": {"N1": {"ok": 0, "changed": 0, "failed": 1, "skipped": 0}}}
    row = {"id": "r1", "cluster": "C1", "playbook": "p.yml", "inventory": "i.yml", "mode": "apply",
           "started": "2024-05-01T10:00:00+00:00", "ended": "2024-05-01T10:01:00+00:00", "outcome": "failed",
           "changes_pending": 3, "changes_applied": 0, "reason": "ordered restart failed"}
    dom = Dom(render_html(plan, run, {"C1": [row]}))
    drawn = bars(dom, dom.find("svg", "swimlane")[0])
    assert [sorted(b.classes) for b in drawn] == [["bar", "stop"], ["bar", "failed", "stop"], ["bar", "recovery"]]
    assert [float(b.attrs["width"]) for b in drawn] == pytest.approx([x / 6 * 630 for x in (1, 3, 2)])
    (drift,) = dom.find("svg", "drift")
    (point,) = dom.find("g", "run", drift)
    assert "apply" in dom.find("title", within=point)[0].text and "failed" in dom.find("title", within=point)[0].text
    assert "ordered restart failed" in " ".join(e.text for e in dom.find("p"))
