"""The floor for bench_serving.py: a bare BentoML service that does no work.

Same framework version, same ``@bentoml.service`` settings (one worker, four threads, the same traffic
limits), same route and request shape as ``POST /v1/score`` (``person_ids``, ``as_of``, ``explain``), and
an answer of the same size: the bytes of a real answer of the scoring service, read once at start-up
(``--arg body_file=PATH``). Everything our service spends beyond this is ours.

    bentoml serve benchmarks.bare_service:BareScoring -p 3001 --arg body_file=/tmp/answer.json
"""

from __future__ import annotations

from pathlib import Path

import bentoml
from starlette.responses import Response


@bentoml.service(name="bare_scoring", workers=1, threads=4, traffic={"timeout": 300, "concurrency": 256})
class BareScoring:
    def __init__(self) -> None:
        args = vars(bentoml.use_arguments())
        self.body = Path(args["body_file"]).read_bytes()

    @bentoml.api(route="/v1/score")
    async def score(self, person_ids: list[str], as_of: str | None = None, explain: str = "flagged") -> dict:
        return Response(self.body, media_type="application/json")  # type: ignore[return-value]
