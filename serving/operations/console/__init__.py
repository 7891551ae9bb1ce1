"""The review console: login, the jurisdiction-scoped queue, the case page, decisions, reports.

>>> # from serving.operations.console import create_app, ConsoleSettings
>>> # app = create_app(ConsoleSettings.from_env())          # uvicorn --factory serving.operations.console:create_app
>>> # lazy_app(): for an ASGI host that wants the app at import time (the scoring service mounts none)
>>> # from serving.operations.console import seed_demo_accounts, demo_review

See docs/console.md.
"""

from serving.operations.console.app import SESSION_COOKIE, create_app
from serving.operations.console.asgi import lazy_app
from serving.operations.console.case import Case, load_case
from serving.operations.console.decide import decide
from serving.operations.console.demo import (
                                  DEMO_REVIEWER,
                                  DemoAccount,
                                  RunningConsole,
                                  demo_review,
                                  seed_demo_accounts,
                                  start_console,
)
from serving.operations.console.errors import BadFilter, ConsoleConfigError, ConsoleError, ReportNotFound
from serving.operations.console.queue import QueueFilters, list_queue
from serving.operations.console.settings import ConsoleSettings
from serving.operations.console.world import World

__all__ = ["create_app", "lazy_app", "ConsoleSettings", "World", "QueueFilters", "list_queue", "load_case", "Case",
           "decide", "seed_demo_accounts", "demo_review", "start_console", "RunningConsole", "DemoAccount",
           "DEMO_REVIEWER", "SESSION_COOKIE", "ConsoleError", "ConsoleConfigError", "BadFilter", "ReportNotFound"]
