"""Getting a dump into the lake: sources, verification, safe extraction, upload."""
