"""Silver: typed, cleaned, one row per entity, relations made explicit."""
