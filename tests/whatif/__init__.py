"""What-if on a finished run and comparing runs."""
