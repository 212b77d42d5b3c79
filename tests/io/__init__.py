"""Reading tables: rosters as they are kept, every importer, coordinate systems, Chinese number formats."""
