"""The stopping rules, one module each, registered in RULES (ganlab.registry).

A new rule is one module here with an `@register_rule("name", keys=...)` function
`(history, config) -> Timeline`; `early_stop.rule` accepts it at once. The pieces rules
share (timelines, detectors, the run's quality) live one level up, in ganlab.rules.
"""
