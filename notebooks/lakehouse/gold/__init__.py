"""Gold: per-site aggregates for people to read."""
