"""A run request (inputs by dataset id, OSM extracts by name) translated into a validated scenario."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, Problem, ScenarioError
from ..settings import MAX_NAME_BYTES, Scenario, scenario_from_dict
from .files import is_file
from .records import LAYER_KINDS, DatasetRecord


def scenario_from_request(
    request: Mapping[str, Any],
    get_dataset: Callable[[str], DatasetRecord],
    *,
    osm_dir: Path | str,
    cache_dir: Path | str | None = None,
    source: str = "scenario",
) -> Scenario:
    """Translate a scenario that refers to datasets and OSM extracts by name.

    Parameters
    ----------
    request
        The scenario's keys (as in the TOML file) where each input is ``{"dataset": "ds_…"}``
        (optionally with ``sheet``, ``crs``, ``encoding`` overriding the dataset's options) and
        ``network.osm`` lists extract file names inside ``osm_dir``.
    get_dataset
        Looks a dataset up by id (raises :class:`NotFoundError`).
    osm_dir
        The folder of the available OSM extracts.
    cache_dir
        The network cache folder of this installation (``None``: library default).
    source
        Name used in error messages.

    Returns
    -------
    Scenario
        With real paths.

    Raises
    ------
    NotFoundError
        Naming every unknown dataset id.
    ScenarioError
        One problem per wrong layer kind, unknown extract or invalid key.
    """
    data = json.loads(json.dumps(dict(request), ensure_ascii=False, default=str))
    problems: list[Problem] = []
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        raise ScenarioError(Problem(source, None, "inputs", "missing: give members, branches, stations "
                                    "(and optionally hospitals) as {\"dataset\": id}"))
    found = _resolve_inputs(inputs, get_dataset, source, problems)
    net = data.get("network")
    if not isinstance(net, dict):
        net = {}
        data["network"] = net
    if net.get("cache_dir") is not None:
        problems.append(Problem(source, None, "network.cache_dir", "set by the installation, not per run"))
    osm_root = Path(osm_dir).resolve()
    net["osm"] = _resolve_osm(net.get("osm"), osm_root, source, problems)
    if cache_dir is not None:
        net["cache_dir"] = str(Path(cache_dir).resolve())
    if problems:
        raise ScenarioError(problems)
    scenario = scenario_from_dict(data, base_dir=osm_root, source=source)
    # rules that need the inputs are checked now, not at the siting stage of a queued run
    members = found.get("members")
    if members is not None and scenario.siting.new_stations > members.n_accepted:
        raise ScenarioError(Problem(
            source, None, "siting.new_stations",
            f"asks for {scenario.siting.new_stations} new stations but dataset {members.id} has only "
            f"{members.n_accepted} accepted members"))
    return scenario


def _resolve_inputs(
    inputs: dict[str, Any], get_dataset: Callable[[str], DatasetRecord], source: str, problems: list[Problem],
) -> dict[str, DatasetRecord]:
    """Replace each ``{"dataset": id}`` of ``inputs`` (in place) by the dataset's file and options.

    Raises
    ------
    NotFoundError
        Naming every dataset id that does not exist (a well-formed request for a missing
        resource: 404, not a malformed one).
    """
    found: dict[str, DatasetRecord] = {}
    unknown: list[str] = []
    for key, ref in list(inputs.items()):
        if ref is None:
            inputs.pop(key)
            continue
        if isinstance(ref, str):
            ref = {"dataset": ref}
        if not isinstance(ref, dict) or "dataset" not in ref or "path" in ref:
            problems.append(Problem(source, None, f"inputs.{key}", "refer to an uploaded dataset: "
                                    "{\"dataset\": \"ds_…\"} (file paths are not accepted)"))
            continue
        try:
            ds = get_dataset(str(ref["dataset"]))
        except NotFoundError:
            unknown.append(f"inputs.{key}.dataset {ref['dataset']!r}")
            continue
        if key in LAYER_KINDS and ds.kind != key:
            problems.append(Problem(source, None, f"inputs.{key}.dataset",
                                    f"dataset {ds.id} holds {ds.kind}, not {key}"))
            continue
        found[key] = ds
        layer = {"path": str(ds.path), "sheet": ds.sheet, "crs": ds.crs, "encoding": ds.encoding,
                 "columns": ds.columns}
        layer.update({k: v for k, v in ref.items() if k != "dataset"})
        inputs[key] = layer
    if unknown:
        raise NotFoundError(f"{source}: unknown dataset(s): {'; '.join(unknown)}; upload the table first")
    return found


def _resolve_osm(osm: Any, osm_root: Path, source: str, problems: list[Problem]) -> list[str]:
    """The paths of the named OSM extracts of ``osm_root``; a problem per unknown or invalid name."""
    if isinstance(osm, str):
        osm = [osm]
    if not isinstance(osm, list) or not osm:
        available = ", ".join(sorted(p.name for p in osm_root.glob("*") if p.suffix in (".osm", ".pbf", ".xml")))
        problems.append(Problem(source, None, "network.osm", f"name one or more OSM extracts: {available}"))
        return []
    paths = []
    for i, name in enumerate(osm):
        text = str(name)
        if "\x00" in text or not text.strip() or len(text.encode("utf-8")) > MAX_NAME_BYTES:
            problems.append(Problem(source, None, f"network.osm[{i}]",
                                    f"not a file name (empty, a NUL, or longer than {MAX_NAME_BYTES} "
                                    "bytes); name an extract of the service's OSM folder"))
            continue
        p = osm_root / text
        if Path(text).name != text or not is_file(p):
            available = ", ".join(sorted(q.name for q in osm_root.glob("*") if q.is_file()))
            problems.append(Problem(source, None, f"network.osm[{i}]",
                                    f"unknown OSM extract {name!r}; available: {available}"))
        else:
            paths.append(str(p))
    return paths
