"""Decision support: trade-offs, sensitivity, phased plans."""
