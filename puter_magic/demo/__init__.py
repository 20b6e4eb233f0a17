"""`make demo` / `puter-magic demo`: notebooks run headlessly, their answers streamed to the terminal."""
