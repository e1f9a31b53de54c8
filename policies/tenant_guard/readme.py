"""The rule table (docs/rules.md), generated from the rules (`make docs`) so it cannot drift from them."""

import re
from collections.abc import Sequence

from pulumi_policy import EnforcementLevel

from .rule import Rule

BEGIN, END = "<!-- rule-table:begin (make docs) -->", "<!-- rule-table:end -->"


def rule_table(rules: Sequence[Rule]) -> str:
    lines = ["| id | rule | checks |", "|---|---|---|"]
    for rule in rules:
        marks = [
            m
            for m, on in (("stack", rule.is_stack_rule), ("advisory", rule.enforcement == EnforcementLevel.ADVISORY))
            if on
        ]
        name = f"{rule.name} ({', '.join(marks)})" if marks else rule.name
        lines.append(f"| {rule.id} | {name} | {rule.summary} |")
    return "\n".join(lines)


def with_rule_table(readme: str, rules: Sequence[Rule]) -> str:
    """`readme` with the text between the markers replaced by the current table."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    assert pattern.search(readme), f"README.md lacks the markers {BEGIN} ... {END}"
    return pattern.sub(lambda _: f"{BEGIN}\n{rule_table(rules)}\n{END}", readme)
