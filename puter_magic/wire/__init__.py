"""HTTP and bytes: the httpx transport, rate limits and backoff, stream decoders, JSON text."""
