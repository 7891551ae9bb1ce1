"""Typer sub-commands, one module per area; each is a thin wrapper over its package."""
