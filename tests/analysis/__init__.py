"""Coverage, dispersion and the 四就近 functions."""
