"""puter_magic: chat with LLMs from Jupyter through Puter's AI API and OpenAI-compatible servers."""

__version__ = "0.1.0"
