"""Branch reorganisation: joint branches (exact and at city size), cohesion, cut-offs."""
