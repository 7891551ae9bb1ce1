"""Serving: the scoring service, fusion, explanations, alert store, push, inbox and console.

Sub-packages each own one job; ``serving.contracts`` holds the records that pass between them.
"""
