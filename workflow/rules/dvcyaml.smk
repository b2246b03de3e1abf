# Reading dvc.yaml for rules/dvc.smk: its stages with foreach/matrix expanded and ${...} resolved
# as DVC does (tests/test_workflow_consistency.py compares the result with DVC's own reading).
# Supported templating: foreach (list or mapping), matrix, ${item}, ${item.field}, ${key}, and
# ${...} from params.yaml and top-level `vars`; anything else stops with a one-line error.
import itertools
import os
import re

import yaml
from snakemake.exceptions import WorkflowError

DVC_YAML = "dvc.yaml"
PARAMS_YAML = "params.yaml"

_INTERPOLATION = re.compile(r"\$\{\s*([^{}\s]+)\s*\}")
_STAGE_KEYS = {"cmd", "deps", "outs", "params", "metrics", "plots", "desc", "meta", "frozen", "always_changed",
               "wdir"}


def _lookup(context, name, where):
    """${a.b[0]} in dvc.yaml: a dotted key (tinykd.dotted) with list indexes."""
    from tinykd import dotted

    try:
        return dotted.get(context, name.replace("[", ".").replace("]", ""))
    except KeyError:
        raise WorkflowError(f"{DVC_YAML}: {where}: ${{{name}}} is not defined") from None


def _text(value, name, where):
    """A value as DVC writes it into a string (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise WorkflowError(f"{DVC_YAML}: {where}: ${{{name}}} is a {type(value).__name__}, not a value for a string")
    return str(value)


def _resolve(value, context, where):
    """`value` with every ${...} replaced; a string that is only ${x} becomes x itself (a list for foreach)."""
    if isinstance(value, str):
        whole = _INTERPOLATION.fullmatch(value.strip())
        if whole:
            return _lookup(context, whole.group(1), where)
        return _INTERPOLATION.sub(lambda m: _text(_lookup(context, m.group(1), where), m.group(1), where), value)
    if isinstance(value, list):
        return [_resolve(v, context, where) for v in value]
    if isinstance(value, dict):
        return {_text(_resolve(k, context, where), k, where): _resolve(v, context, where) for k, v in value.items()}
    return value


def _load_yaml(path, where):
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh) or {}
    except OSError as exc:
        raise WorkflowError(f"{where}: cannot read {path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{where}: {path} is not valid YAML: {str(exc).splitlines()[0]}")


def _context(doc):
    """What ${...} can name, as in DVC: params.yaml (if present), then the top-level `vars`."""
    context = dict(_load_yaml(PARAMS_YAML, DVC_YAML)) if os.path.exists(PARAMS_YAML) else {}
    for entry in doc.get("vars") or []:
        if isinstance(entry, dict):
            context.update(entry)
        elif isinstance(entry, str):
            path, _, keys = entry.partition(":")
            data = _load_yaml(path, f"{DVC_YAML} vars")
            context.update({k: data[k] for k in keys.split(",") if k in data} if keys else data)
        else:
            raise WorkflowError(f"{DVC_YAML}: vars entry {entry!r} is neither a mapping nor a file name")
    return context


def _paths(entries, field, where):
    """Paths of a deps/outs/metrics/plots list (an entry is a path or {path: options})."""
    paths = []
    for entry in entries or []:
        if isinstance(entry, dict) and len(entry) == 1:
            entry = next(iter(entry))
        if not isinstance(entry, str):
            raise WorkflowError(f"{DVC_YAML}: {where}: {field} entry {entry!r} is not a path")
        paths.append(os.path.normpath(entry))
    return paths


def _params(entries, where):
    """[(file, dotted key)] of a stage's `params` (a key of params.yaml, or {file: [keys]})."""
    out = []
    for entry in entries or []:
        if isinstance(entry, str):
            out.append((PARAMS_YAML, entry))
        elif isinstance(entry, dict):
            for path, keys in entry.items():
                if not keys:
                    raise WorkflowError(f"{DVC_YAML}: {where}: params of all of {path} are not supported; list its keys")
                out += [(path, key) for key in keys]
        else:
            raise WorkflowError(f"{DVC_YAML}: {where}: params entry {entry!r} is neither a key nor {{file: keys}}")
    return out


def _stage(template, context, where):
    if not isinstance(template, dict):
        raise WorkflowError(f"{DVC_YAML}: {where}: a stage must be a mapping")
    unknown = sorted(set(template) - _STAGE_KEYS)
    if unknown:
        raise WorkflowError(f"{DVC_YAML}: {where}: stage keys {unknown} are not supported by the Snakefile")
    if os.path.normpath(str(template.get("wdir", "."))) != ".":
        raise WorkflowError(f"{DVC_YAML}: {where}: wdir is not supported by the Snakefile (paths are from the root)")
    stage = _resolve(template, context, where)
    cmd = stage.get("cmd")
    if isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd):
        cmd = " && ".join(c.strip() for c in cmd)
    if not isinstance(cmd, str) or not cmd.strip():
        raise WorkflowError(f"{DVC_YAML}: {where}: cmd must be a command or a list of commands")
    return {
        "cmd": cmd.strip(),
        "deps": _paths(stage.get("deps"), "deps", where),
        "outs": [o for field in ("outs", "metrics", "plots") for o in _paths(stage.get(field), field, where)],
        "params": _params(stage.get("params"), where),
    }


def _members(name, definition, context):
    """{member key: (item, key or None)} of a foreach or matrix group, keyed as DVC names them."""
    if "foreach" in definition:
        items = _resolve(definition["foreach"], context, name)
        if isinstance(items, dict):
            return {_text(k, k, name): (v, _text(k, k, name)) for k, v in items.items()}
        if isinstance(items, list):
            if any(isinstance(v, (dict, list)) for v in items):
                return {str(i): (v, None) for i, v in enumerate(items)}
            return {_text(v, v, name): (v, None) for v in items}
        raise WorkflowError(f"{DVC_YAML}: {name}: foreach must be a list or a mapping")
    matrix = _resolve(definition["matrix"], context, name)
    if not isinstance(matrix, dict) or not all(isinstance(v, list) for v in matrix.values()):
        raise WorkflowError(f"{DVC_YAML}: {name}: matrix must map names to lists")
    members = {}
    for combination in itertools.product(*(list(enumerate(v)) for v in matrix.values())):
        item = {k: v for k, (_, v) in zip(matrix, combination)}
        key = "-".join(f"{k}{i}" if isinstance(v, (dict, list)) else _text(v, k, name)
                       for k, (i, v) in zip(matrix, combination))
        members[key] = (item, key)
    return members


def dvc_stages(path=DVC_YAML):
    """({stage name: {cmd, deps, outs, params}}, {group name: [member stage names]}) of dvc.yaml."""
    doc = _load_yaml(path, "Snakefile")
    context = _context(doc)
    stages, groups = {}, {}
    for name, definition in (doc.get("stages") or {}).items():
        if isinstance(definition, dict) and ("foreach" in definition or "matrix" in definition):
            if "foreach" in definition:
                template = definition.get("do")
            else:
                template = {k: v for k, v in definition.items() if k != "matrix"}
            groups[name] = []
            for member, (item, key) in _members(name, definition, context).items():
                local = {**context, "item": item}
                if key is not None:
                    local["key"] = key
                full = f"{name}@{member}"
                stages[full] = _stage(template, local, full)
                groups[name].append(full)
        else:
            stages[name] = _stage(definition, context, name)
    return stages, groups


def _inside(path, folder):
    return os.path.commonpath([path, folder]) == folder


def stage_inputs(deps, produced):
    """Snakemake inputs of DVC deps: a produced path as declared; a folder of repository files as
    its files (and any produced paths inside it, which may not exist yet)."""
    files = []
    for dep in deps:
        inner = sorted(o for o in produced if o != dep and _inside(o, dep))
        if dep in produced or not (os.path.isdir(dep) or inner):
            files.append(dep)
            continue
        files += inner
        if os.path.isdir(dep):
            files += [f for f in code(dep) if not any(_inside(f, o) for o in inner)]
    return files


def stage_outputs(outs):
    def is_dir(path):
        return os.path.isdir(path) if os.path.exists(path) else not os.path.splitext(path)[1]

    return [directory(o) if is_dir(o) else o for o in outs]


def stage_params(name, params):
    values, files = {}, {}
    for path, key in params:
        if path == PARAMS_YAML:
            value = param_values(key)
        else:
            value = {key.replace(".", "__"): _lookup(_load_yaml(path, f"{DVC_YAML}: {name}"), key, f"{name} params")}
        for k in value:
            if k in values and files[k] != path:
                raise WorkflowError(f"{DVC_YAML}: {name}: params key {key} is read from both {files[k]} and {path}")
            files[k] = path
        values.update(value)
    return values


def stage_shell(cmd):
    # Braces are Snakemake's placeholders; a DVC command means them literally.
    cmd = cmd.replace("{", "{{").replace("}", "}}")
    if "\n" in cmd or " && " in cmd:
        cmd = f"( {cmd} )"
    return f"{cmd} > {{log}} 2>&1"


def _cores():
    try:
        return workflow.cores
    except WorkflowError:  # a dry run without --cores: any number will do
        return 1


def dvc_code(name):
    """The repository files (code, schema, firmware sources) among a DVC stage's deps, for rules
    that run the same script on other inputs (the sweep rules)."""
    return stage_inputs([d for d in DVC_STAGES[name]["deps"] if not any(_inside(d, o) for o in PRODUCED)], PRODUCED)
