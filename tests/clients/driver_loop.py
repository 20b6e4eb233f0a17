"""The loop every client driver runs (in the clients' venv, not the project's): one JSON request a line on stdin,
one JSON answer a line on the original stdout, so each client's imports are paid once per test module.

    in:   {"scenario": "tools", "base_url": "http://127.0.0.1:PORT/v1", "api_key": "...", "model": "...",
           "max_tokens": 150}
    out:  {"ok": true, "result": ...}   or   {"ok": false, "error": "BadRequestError: ..."}

Whatever a client prints goes to stderr, so stdout carries answers only.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

Scenario = Callable[[dict[str, Any]], Any]

WEATHER_ARGUMENTS_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_DESCRIPTION = "Get the current weather for a city"
WEATHER_RESULT = '{"temp_c": 18, "sky": "cloudy"}'


def get_weather(city: str) -> str:
    """Get the current weather for a city"""
    return WEATHER_RESULT


def serve(scenarios: dict[str, Scenario]) -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr
    os.dup2(sys.stderr.fileno(), 1)  # a library writing to fd 1 directly lands on stderr too
    answers.write(json.dumps({"ok": True, "result": "ready"}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": True, "result": scenarios[request["scenario"]](request)}
        except Exception as error:  # every failure goes back to the test, which says what it expected
            traceback.print_exc()
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"[:2000]}
        answers.write(json.dumps(answer, default=str) + "\n")
