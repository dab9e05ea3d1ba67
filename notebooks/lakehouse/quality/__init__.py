"""Data quality: DQX-format checks declared in YAML, applied with DQX's own rule code."""
