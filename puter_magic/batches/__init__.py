"""Many prompts at once: the runner, the rows in and results out, the progress model."""
