"""Scoring configuration and its effects: rules and rulesets, levels, decay, scoring settings, rescore."""
