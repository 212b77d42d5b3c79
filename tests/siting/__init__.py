"""Station siting models: MCLP, set covering, p-median (exact, Lagrangian, prepared for re-solves), p-center, equity; the time budget."""
