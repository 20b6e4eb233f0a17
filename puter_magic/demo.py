"""`make demo` / `puter-magic demo`: a streamed conversation with the embedded local Puter backend."""

from __future__ import annotations

import sys

from .config import Settings
from .providers.puter import PuterProvider
from .types import ChatRequest, Message

QUESTIONS = (
    "Hello! What can you do?",
    "Tell me more about that.",
)


def run_demo(model: str = "deterministic") -> int:
    """Start the local Puter server, then stream a two-turn conversation to the terminal."""
    from .cli import stream_to_terminal
    from .testing import LocalPuter

    with LocalPuter() as server:
        print(f"Local Puter backend at {server.api_origin} (model: {model})\n")
        settings = Settings(api_origin=server.api_origin, gui_origin=server.gui_origin, token=server.token)
        provider = PuterProvider(settings)
        history: list[Message] = []
        for question in QUESTIONS:
            print(f"you> {question}")
            history.append(Message("user", question))
            sys.stdout.write("ai>  ")
            answer: list[str] = []
            finished = stream_to_terminal(provider, ChatRequest(tuple(history), model), collect=answer)
            history.append(Message("assistant", "".join(answer)))
            if finished is not None and finished.usage.total_tokens is not None:
                print(f"     ({finished.usage.total_tokens} tokens)")
            print()
        from .loop import default_loop

        default_loop().run(provider.aclose())
    return 0
