"""HTTP and bytes: the httpx transport, rate limits and backoff, stream decoders, JSON text, and an answer that
ends when its client leaves."""
