"""Dispersed members (居住分散) and the branches they make hard to run.

Reason codes, in order of precedence (a member can carry several, joined by ``;``):

``remote`` (异地)
    lives in another place than the branch's meeting place (``[dispersion] remote``):

    * ``"city"`` (default) — another **prefecture-level city**; for a meeting place in a
      **county** (县, 县级市, 旗) also another county-level division (a county's retirees living
      in the city's urban districts are 异地); the urban districts (市辖区) of one city are one
      place, so a 玄武区 branch's member living in 秦淮区 is not 异地;
    * ``"county"`` — any other county-level division, 区 included;

    or lives outside the extent of every loaded extract where no boundary polygon places it
    (not for an address known only to its township, county or city, whose point is that
    unit's centre). Cities and counties are decided by boundary polygons
    (:mod:`geo_planner.admin`). ``dispersion_note`` says where (e.g. ``南京市玄武区``). An
    address naming another county or city is placed at its centre
    (:mod:`geo_planner.geocode.elsewhere`) and is 异地 by the same rule; one known only to its
    city has no ``member_county``.

Outside the extract is not 异地: a member whose point lies outside every loaded extract but,
by the polygons, in the place of their branch is not remote; off the loaded roads, they are
``outside_network`` (:func:`mark_outside_network`: no times, a note to load a larger extract).
``cross_township`` (跨乡镇)
    lives in a different 街道/乡镇 from the meeting place.
``far`` (远距离)
    walks longer than ``branch_walk_min`` to the meeting place, or longer than the own-branch
    search cut-off (``branch_status = "beyond_limit"``: no exact time, ``dispersion_note``
    says e.g. ``> 120 min walk``).

A remote member is not also tagged ``cross_township``/``far``: those compare places inside
one city. At branch level: the share of members dispersed and the share living in the
meeting place's township (the source material's example: 70 members, only 15 living in
the township), flagged above ``dispersed_share_flag``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .geocode import Gazetteer, assign_admin_units, assign_county
from .travel import STATUS_BEYOND_LIMIT, STATUS_OFF_NETWORK

#: Travel status of a member off the loaded roads, outside every extract, in the branch's own place.
STATUS_OUTSIDE_NETWORK = "outside_network"
#: ``dispersion_note`` of such a member.
OUTSIDE_NOTE = ("outside the loaded map extracts, in the branch's own city: not 异地; load a larger extract "
                "for travel times")
from .vocab import IMPRECISE_LOCATION, REASONS

log = logging.getLogger(__name__)



def classify_members(
    members: pd.DataFrame,
    branches: pd.DataFrame,
    gazetteer: Gazetteer,
    *,
    branch_walk_min: float,
    remote_rule: str = "city",
    branch_limit_min: float | None = None,
) -> pd.DataFrame:
    """Flag dispersed members with their reasons.

    Parameters
    ----------
    members
        With ``branch_id``, ``lon``, ``lat``, ``township``, ``walk_min_branch``,
        ``branch_status`` and ``network_status``.
    branches
        With ``id``, ``lon``, ``lat`` (meeting place) and, if known, ``township``.
    gazetteer
        For the city/county of members and meeting places and the meeting place's township.
    branch_walk_min
        The ``far`` threshold, minutes.
    remote_rule
        ``"city"`` or ``"county"`` (see the module docstring).
    branch_limit_min
        The own-branch search cut-off the times were measured with (for the note of a member
        beyond it); members with ``branch_status == "beyond_limit"`` are far whatever it is.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``members``: ``member_city``, ``member_county``, ``admin_source`` (what
        decided them: ``polygon``, ``nearest_seat`` or ""), ``meeting_township``,
        ``dispersed`` (bool), ``dispersion_reason`` (``;``-joined codes or ""),
        ``dispersion_note`` (where a remote member lives), ``outside_extract`` (bool:
        outside every loaded extract, in the branch's place — see :func:`mark_outside_network`;
        the pipeline does not keep this column).

    Raises
    ------
    ValueError
        For an unknown ``remote_rule``.
    """
    if remote_rule not in ("city", "county"):
        raise ValueError(f"[dispersion] remote must be 'city' or 'county', not {remote_rule!r}")
    lon, lat = members["lon"].to_numpy(float), members["lat"].to_numpy(float)
    loc = assign_county(lon, lat, gazetteer)
    loc.index = members.index
    b = branch_places(branches, gazetteer).set_index("id")
    bid = members["branch_id"].astype(str)
    b_city = bid.map(b["city"]).fillna("")
    b_county = bid.map(b["county"]).fillna("")
    b_type = bid.map(b["county_type"]).fillna("")
    b_town = bid.map(b["meeting_township"]).fillna("")
    located = members["lon"].notna() & members["lat"].notna()
    status = members.get("network_status", pd.Series("ok", index=members.index)).astype(str)
    # a point standing for a whole township/county (imprecise address) says nothing about the extent
    outside = located & ~pd.Series(gazetteer.in_extents(lon, lat), index=members.index) & (
        status != IMPRECISE_LOCATION)
    precision = members.get("geocode_precision", pd.Series("", index=members.index)).fillna("").astype(str)
    loc.loc[(precision == "city").to_numpy(), "county"] = ""  # a city's centre says nothing of its county

    known = (loc["county"] != "") & (b_county != "")
    other_county = known & (loc["county"] != b_county)
    if remote_rule == "county":
        elsewhere = other_county
    else:
        other_city = (loc["city"] != "") & (b_city != "") & (loc["city"] != b_city)
        elsewhere = other_city | (other_county & (b_type == "county"))
    by_polygon = loc["admin_source"] == "polygon"
    remote = located & (elsewhere | (outside & ~by_polygon))  # outside, in the branch's place: not 异地
    outside_here = outside & ~remote
    town = members.get("township", pd.Series("", index=members.index)).fillna("").astype(str)
    cross = ~remote & located & (town != "") & (b_town != "") & (town != b_town)
    walk = pd.to_numeric(members.get("walk_min_branch"), errors="coerce")
    branch_status = members.get("branch_status", pd.Series("", index=members.index)).astype(str)
    beyond = branch_status == STATUS_BEYOND_LIMIT  # known only to walk longer than the cut-off
    far = ~remote & ((walk > branch_walk_min).fillna(False) | beyond)

    r, c, f = remote.to_numpy(), cross.to_numpy(), far.to_numpy()
    # remote excludes the other two, so these are all the combinations
    reason = np.select([r, c & f, c, f], ["remote", "cross_township;far", "cross_township", "far"], default="")
    place = loc["city"] + np.where(loc["county"] != loc["city"], loc["county"], "")
    note = np.where(remote, place, np.where(far & beyond, beyond_limit_note(branch_limit_min), ""))
    note = np.where(remote & outside, np.where(place != "", place + "（", "") + "outside the loaded map extracts"
                    + np.where(place != "", "）", ""), note)
    off_roads = status.isin([STATUS_OFF_NETWORK, STATUS_OUTSIDE_NETWORK]).to_numpy()
    note = np.where(outside_here & off_roads, OUTSIDE_NOTE, note)  # on the roads they have their times
    return pd.DataFrame(
        {
            "member_city": loc["city"].to_numpy(),
            "member_county": loc["county"].to_numpy(),
            "admin_source": loc["admin_source"].to_numpy(),
            "meeting_township": b_town.to_numpy(),
            "dispersed": r | c | f,
            "dispersion_reason": reason,
            "dispersion_note": note,
            "outside_extract": outside_here.to_numpy(),
        },
        index=members.index,
    )


def mark_outside_network(members: pd.DataFrame, outside_extract: pd.Series) -> pd.DataFrame:
    """Call members off the loaded roads outside every extract ``outside_network`` (not 异地).

    Parameters
    ----------
    members
        With the travel status columns (``network_status``, ``station_status`` …).
    outside_extract
        From :func:`classify_members`: outside every loaded extract but in the branch's place.

    Returns
    -------
    pandas.DataFrame
        A copy where those members' ``off_network`` statuses read ``outside_network`` (they
        have no times either way; the note says to load a larger extract).
    """
    out = members.copy()
    rows = outside_extract.reindex(out.index, fill_value=False).to_numpy(dtype=bool)
    for col in [c for c in out.columns if c.endswith("_status")]:
        off = rows & (out[col].astype(str) == STATUS_OFF_NETWORK).to_numpy()
        out.loc[off, col] = STATUS_OUTSIDE_NETWORK
    return out


def beyond_limit_note(limit_min: float | None) -> str:
    """Note of a member beyond the own-branch search cut-off, e.g. ``> 120 min walk``."""
    return f"> {limit_min:g} min walk" if limit_min else "beyond the walking search limit"


def branch_places(branches: pd.DataFrame, gazetteer: Gazetteer) -> pd.DataFrame:
    """Meeting places' township (table value, else OSM boundary or nearest township), city and county.

    Returns ``id``, ``meeting_township``, ``city``, ``county`` and ``county_type``
    (``district`` / ``county`` / "").
    """
    lon = branches["lon"].to_numpy(float)
    lat = branches["lat"].to_numpy(float)
    loc = assign_county(lon, lat, gazetteer)
    units = assign_admin_units(lon, lat, gazetteer)
    own = branches.get("township", pd.Series("", index=branches.index)).fillna("").astype(str).to_numpy()
    return pd.DataFrame(
        {
            "id": branches["id"].astype(str).to_numpy(),
            "meeting_township": np.where(own != "", own, units["township"].to_numpy()),
            "city": loc["city"].to_numpy(),
            "county": loc["county"].to_numpy(),
            "county_type": loc["county_type"].to_numpy(),
        }
    )


def branch_dispersion(members: pd.DataFrame, *, flag_share: float) -> pd.DataFrame:
    """Branch-level dispersion (joins ``coverage_by_branch.csv``).

    Parameters
    ----------
    members
        With ``branch_id``, ``dispersed``, ``dispersion_reason``, ``township``, ``meeting_township``.
    flag_share
        Branches whose dispersed share exceeds this are flagged.

    Returns
    -------
    pandas.DataFrame
        ``branch_id``, ``meeting_township``, ``n_dispersed``, ``share_dispersed``,
        ``n_remote``, ``n_cross_township``, ``n_far``, ``n_in_township``,
        ``share_in_township``, ``flagged``, ``flag_note``.
    """
    df = members.assign(
        branch_id=members["branch_id"].astype(str),
        in_town=(members["township"].fillna("").astype(str) == members["meeting_township"].astype(str))
        & (members["meeting_township"].astype(str) != ""),
    )
    for r in REASONS:
        df[f"n_{r}"] = df["dispersion_reason"].str.contains(r, regex=False)
    g = df.groupby("branch_id", sort=True)
    out = pd.DataFrame(
        {
            "meeting_township": g["meeting_township"].first(),
            "n_members_total": g.size(),
            "n_dispersed": g["dispersed"].sum().astype(int),
            **{f"n_{r}": g[f"n_{r}"].sum().astype(int) for r in REASONS},
            "n_in_township": g["in_town"].sum().astype(int),
        }
    )
    out["share_dispersed"] = (out["n_dispersed"] / out["n_members_total"]).round(4)
    out["share_in_township"] = (out["n_in_township"] / out["n_members_total"]).round(4)
    out["flagged"] = out["share_dispersed"] > flag_share
    out["flag_note"] = np.where(
        out["flagged"],
        out["n_members_total"].astype(str) + " 名党员中仅 " + out["n_in_township"].astype(str) + " 名居住在"
        + out["meeting_township"].astype(str) + "；" + (out["share_dispersed"] * 100).round(0).astype(int).astype(str)
        + "% 居住分散",
        "",
    )
    return out.drop(columns="n_members_total").reset_index()
