"""instructor through the proxy: a Pydantic model extracted in TOOLS mode (a forced tool call) and in
JSON_SCHEMA mode (a json_schema response_format). Run by tests/test_real_clients.py in the clients' venv."""

from __future__ import annotations

from typing import Any

import instructor
import openai
from driver_loop import serve
from pydantic import BaseModel


class Person(BaseModel):
    name: str
    age: int


def extract(request: dict[str, Any], mode: instructor.Mode) -> dict[str, Any]:
    sdk = openai.OpenAI(base_url=request["base_url"], api_key=request["api_key"], max_retries=0, timeout=60)
    client = instructor.from_openai(sdk, mode=mode)
    person = client.chat.completions.create(
        model=request["model"],
        response_model=Person,
        messages=[{"role": "user", "content": "Ada Lovelace was 36. Who is she, how old?"}],
        max_tokens=request["max_tokens"],
        max_retries=0,  # no re-asking: what the proxy answered first is what is checked
    )
    return person.model_dump()


if __name__ == "__main__":
    serve(
        {
            "tools": lambda request: extract(request, instructor.Mode.TOOLS),
            "json_schema": lambda request: extract(request, instructor.Mode.JSON_SCHEMA),
        }
    )
