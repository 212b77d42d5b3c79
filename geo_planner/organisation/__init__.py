"""Branch reorganisation: joint branches, transfers, party groups and remote branches (异地支部).

For: turning the members the dispersion stage flags as dispersed into branch recommendations.
May import: earlier stages (network, travel, settings) and ``geo_planner.siting``'s solver, schema and budget.

:func:`recommend_branches` turns the members flagged *dispersed* (居住分散) by the dispersion
stage into recommendations that follow the branch work rules (a branch has at least 3 and
usually at most 50 full party members; a joint branch usually covers at most 5 units):

1. **joint_branch** (联合党支部) — dispersed members who are not remote and are on the walking
   network are grouped around a meeting place (a station or a candidate public place) that
   *every* member of the group reaches on foot within ``thresholds.branch_walk_min``. The
   grouping is a MILP solved with HiGHS (:func:`solve_joint_branches`, derived in :mod:`.joint`).
2. **transfer** (就近参加活动, 一方隶属、多方管理) — a dispersed, non-remote member left out of
   every joint branch but within ``branch_walk_min`` of **another** branch's meeting place is
   sent to the nearest such branch. There is **one row per target branch**, listing every
   member sent there (a secretary receives one list); membership stays with the original
   branch, which is why the target's size is not checked.
3. **party_group** (党小组) — a branch with at least ``2 × min_branch_members`` members left
   after (1), (2) and (4) whose members live in at least two residence areas of at least
   ``party_group_min_members`` members each gets one party group per area. The area is the
   township; when fewer than two townships reach that size (the branch lives in one
   township) it is the community. Members of smaller areas (and members without an area)
   join the group whose centre is nearest (the largest group when they have no location).
   A group meets at its *network medoid*: the member minimising the total walk of the group.
4. **remote_branch** (异地支部) / **mobile_member** (流动党员) — ``remote`` members grouped by
   ``member_city``: a city with at least ``min_branch_members`` of them gets a remote branch
   (split only when larger than ``max_branch_members``, and then by where they live: by
   county-level division, then 街道/乡镇, then along the longer axis, parts merged back with
   their nearest neighbour while they fit — see :func:`split_by_residence`)
   meeting at the network medoid of its members (the centroid when none is on the network);
   a smaller city gets one ``mobile_member`` row: manage them as mobile party members and
   keep contact through their branch.

Modules
-------
``recommend``   :func:`recommend_branches`: reads the tables, runs the rules in order, numbers the rows
``joint``       the joint-branch MILP over spatial components (:func:`solve_joint_branches`)
``component``   one component: member classes, the class-aggregated MILP, the walking model
``greedy``      the greedy grouping (the models' start and fallback)
``solve``       the HiGHS call the joint-branch models make
``cohesion``    neighbourhood blocks that join one joint branch or none (:func:`cohesion_blocks`)
``transfer``    transfers to a nearer branch
``remote``      remote branches and mobile members
``residence``   :func:`split_by_residence` and party groups
``medoid``      meeting points (network medoid) and planar metres
``inputs``      input columns, checks and the member arrays the rules read
``records``     recommendation rows, their text, numbering and ``run.json`` records
"""

from .cohesion import cohesion_blocks
from .component import ComponentResult
from .inputs import BRANCH_COLUMNS, LOCAL_REASONS, MEMBER_COLUMNS, SITE_COLUMNS
from .joint import JointBranchSolution, solve_joint_branches
from .recommend import JOINT_SHARE, recommend_branches
from .residence import split_by_residence

__all__ = [
    "BRANCH_COLUMNS",
    "JOINT_SHARE",
    "LOCAL_REASONS",
    "MEMBER_COLUMNS",
    "SITE_COLUMNS",
    "ComponentResult",
    "JointBranchSolution",
    "cohesion_blocks",
    "recommend_branches",
    "solve_joint_branches",
    "split_by_residence",
]
