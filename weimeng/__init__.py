"""The thin layer that ties Weimeng's five packages together: the `weimeng` CLI and settings.

Nothing in features/, rules/, training/, serving/ or monitoring/ imports this package.
"""

__version__ = "0.1.0"
