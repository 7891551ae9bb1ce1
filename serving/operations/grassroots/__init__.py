"""The grassroots side of the loop: cadres' field reports, anonymous tips by address code, graded escalation.

See docs/grassroots.md. Tables: :mod:`serving.operations.grassroots.models`.
"""
