"""The p-median station model: open ``p`` new sites so the weighted total walk is least.

For: the registered model ``p_median`` (:class:`~.model.PMedian`) and the exact methods behind it.
May import: settings, errors and the siting package's shared pieces (inputs, reduce, heuristics, highs, result).

Modules
-------
``model``                the model (:class:`PMedian`, :func:`p_median`): reduction, start, which method solves
``radius_formulation``   the exact radius (covering) MILP, levels added on demand (Elloumi 2010)
``lagrangian``           the Lagrangian relaxation: a lower bound, a primal, site fixing (Beasley 1993)
``branch_and_bound``     the Lagrangian branch and bound over sites (not a party branch)
``swap_search``          the fast swap local search (Resende & Werneck 2007)
``sorted_pairs``         the candidate pairs sorted by (group, cost) and by site, as those methods read them
``capacitated``          the capacitated p-median (members assigned whole within each site's capacity)
"""

from .model import PMedian, greedy_p_median, p_median

__all__ = ["PMedian", "greedy_p_median", "p_median"]
