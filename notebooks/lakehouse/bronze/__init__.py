"""Bronze: every row of every dump file, typed, with lineage; bad rows kept apart."""
