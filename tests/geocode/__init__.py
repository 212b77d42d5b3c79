"""Offline geocoding, its precision levels, 异地 from the address, the remote rule, manual placements."""
