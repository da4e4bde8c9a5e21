"""assert: stop the play with a message when a condition does not hold (e.g. KB step 8, SQL Server)."""

from __future__ import annotations

from typing import Any

from ..model import Change
from .base import Arg, PlanContext, PlanError, Resource


class Assert(Resource):
    type = "assert"
    scope = "cluster"
    summary = "Fail the play with a message unless every condition holds; changes nothing."
    args = {
        "that": Arg((str, list, bool), required=True, raw=True, doc="an expression, or a list of them"),
        "fail_msg": Arg(str, default="assertion failed"),
        "success_msg": Arg(str, default="all assertions passed"),
    }

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        conditions = args["that"] if isinstance(args["that"], list) else [args["that"]]
        for condition in conditions:
            if not ctx.evaluate(condition):
                raise PlanError(args["fail_msg"])
        return args["success_msg"]
