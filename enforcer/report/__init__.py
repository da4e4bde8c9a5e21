"""Renderers of Plan and RunResult: pure functions from the model to text, JSON-ready dicts and Markdown.

They do no I/O, so the CLI decides where a report goes and tests compare strings.
"""

from .jsonout import plan_json, recap, run_json
from .junit import plan_junit, run_junit
from .markdown import plan_markdown, run_markdown
from .text import plan_text, recap_text, step_line

__all__ = ["plan_json", "run_json", "recap", "plan_text", "recap_text", "step_line", "plan_markdown",
           "run_markdown", "plan_junit", "run_junit"]
