"""Real OpenAI-compatible servers for the test suite: set-up scripts, tiny model writers, pytest fixtures."""
