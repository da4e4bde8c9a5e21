"""Plans and runs as JUnit XML, for CI systems that show test results: one test case per change or check.

A plan's pending change is a failure (drift: the cluster is not as the playbook says), a task already in
its state passes, a skipped one is skipped; a cluster that could not be planned is an error. A run's step
passes when it changed, fails when it failed, and is skipped when it was not reached.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..model import Change, ClusterPlan, Plan, RunResult, StepResult
from .format import compact, where


def plan_junit(plan: Plan) -> str:
    suites = ET.Element("testsuites", name=f"enforcer plan {plan.playbook}")
    for cp in plan.clusters:
        suite = _suite(suites, cp)
        for change in cp.changes:
            failure = ET.SubElement(_case(suite, cp, change.task, _name(change)), "failure", type="drift",
                                    message=change.reason)
            failure.text = f"{compact(change.before)} -> {compact(change.after)}"
        _outcomes(suite, cp)
    return _xml(suites)


def run_junit(run: RunResult) -> str:
    suites = ET.Element("testsuites", name=f"enforcer apply {run.plan.playbook}")
    ran = {cr.cluster: cr for cr in run.clusters}
    for cp in run.plan.clusters:
        suite = _suite(suites, cp)
        for step in ran[cp.cluster].steps:
            _step(_case(suite, cp, step.change.task, _name(step.change), step.duration_s), step)
        _outcomes(suite, cp)
    return _xml(suites)


def _suite(suites: ET.Element, cp: ClusterPlan) -> ET.Element:
    suite = ET.SubElement(suites, "testsuite", name=cp.cluster)
    if cp.error:
        ET.SubElement(_case(suite, cp, "plan", cp.cluster), "error", message=cp.error.splitlines()[0]).text = cp.error
    return suite


def _case(suite: ET.Element, cp: ClusterPlan, task: str, name: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=f"{cp.cluster}.{task}", name=name, time=f"{seconds:.3f}")


def _name(change: Change) -> str:
    return f"[{where(change)}] {change.type} {change.target}"


def _step(case: ET.Element, step: StepResult) -> None:
    if step.status == "failed":
        ET.SubElement(case, "failure", type="step", message=step.message).text = step.message
    elif step.status == "skipped":
        ET.SubElement(case, "skipped", message=step.message)
    elif step.message:
        ET.SubElement(case, "system-out").text = step.message


def _outcomes(suite: ET.Element, cp: ClusterPlan) -> None:
    for outcome in cp.outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"{cp.cluster}.{outcome.task}",
                             name=f"[{outcome.node or 'cluster'}] {outcome.task}", time="0.000")
        if outcome.status == "skipped":
            ET.SubElement(case, "skipped", message=outcome.reason)


def _xml(suites: ET.Element) -> str:
    for suite in suites:
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        for kind, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            suite.set(attribute, str(sum(1 for c in cases if c.find(kind) is not None)))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

