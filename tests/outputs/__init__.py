"""What a run writes: exports, maps, the report and its fonts, the base map, web layers."""
