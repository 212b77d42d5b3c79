"""Road networks from the OSM extracts, travel times, the point index, the synthetic city."""
