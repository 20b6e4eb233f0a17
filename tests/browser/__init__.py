"""Browser tests: the panel in a real JupyterLab, driven in Debian's Chromium by Playwright."""
