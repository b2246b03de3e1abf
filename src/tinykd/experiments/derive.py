"""The params.yaml of one Snakemake sweep point: the project's params.yaml with the point's
`key=value` overrides, validated against the schema (`tinykd sweep derive-params`)."""
from __future__ import annotations

from pathlib import Path

from ..dotted import assign, get
from ..errors import ParamError


def derive_params(params_path: Path, sets: list[str], out: Path) -> dict:
    """params.yaml with `key=value` overrides applied, validated, written to `out` (Snakemake sweeps)."""
    import yaml

    from .. import params as P
    from ..atomic import write_text

    raw = P.read_yaml(params_path) or {}
    for item in sets:
        if "=" not in item:
            raise ParamError("--set", item, "key=value, e.g. kd.alpha=0.5")
        key, value = item.split("=", 1)
        if "." in key and not isinstance(get(raw, key.rsplit(".", 1)[0], None), dict):
            raise ParamError(key, value, "a key of an existing params.yaml section")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ParamError("--set", item, f"key=value with a YAML value ({P.yaml_problem(exc)})") from None
        assign(raw, key, parsed, create=False)
    P.validate(raw, P.load_schema(P.find_schema(params_path)))
    write_text(out, yaml.safe_dump(raw, sort_keys=False))
    return raw
