"""Shared fixtures for the rules tests: the default rule set and a shared event engine."""

from __future__ import annotations

import pytest

import rules


@pytest.fixture(scope="session")
def default_ruleset():
    return rules.load_ruleset()


@pytest.fixture(scope="session")
def default_engine(default_ruleset):
    return rules.EventRuleEngine(default_ruleset)
