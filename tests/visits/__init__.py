"""Home-visit routes (走访慰问)."""
