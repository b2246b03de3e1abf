"""Load params.yaml, fill defaults and validate it before any stage does work.

The schema lives in workflow/schemas/params.schema.yaml (shared with Snakemake). Every problem
becomes a ParamError naming the key, the value and what is allowed.
"""
from __future__ import annotations

import argparse
import copy
import difflib
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from . import dotted
from .errors import ParamError

SCHEMA_RELPATH = Path("workflow") / "schemas" / "params.schema.yaml"


class UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader reports an unhashable key itself
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """`line L, column C: problem` of a YAML error (its str() spreads over several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def find_schema(params_path: str | os.PathLike | None = None) -> Path:
    """The schema beside params.yaml (a project or a copy of one), else this checkout's."""
    candidates = []
    if params_path is not None:
        candidates.append(Path(params_path).resolve().parent / SCHEMA_RELPATH)
    candidates.append(Path(__file__).resolve().parents[2] / SCHEMA_RELPATH)
    for path in candidates:
        if path.is_file():
            return path
    raise ParamError("schema", str(candidates[0]), f"a schema file at {SCHEMA_RELPATH}")


def load_schema(path: str | os.PathLike | None = None) -> dict:
    with open(path or find_schema(), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _fill_defaults(value: Any, schema: dict) -> Any:
    if isinstance(value, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _fill_defaults(value[key], sub)
    return value


def _allowed(error, schema_root: dict) -> str:
    """Describe, for a human, what the failing schema node accepts."""
    validator, rule = error.validator, error.validator_value
    if validator == "enum":
        return "one of " + ", ".join(repr(v) for v in rule)
    if validator == "type":
        if rule == "integer" and isinstance(error.instance, float) and error.instance.is_integer():
            return f"an integer, written without a decimal point ({int(error.instance)}, not {error.instance})"
        if rule in ("integer", "number") and isinstance(error.instance, bool):
            return f"{'an integer' if rule == 'integer' else 'a number'}, not true/false"
        return f"a value of type {rule}"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sch = error.schema
        lo = ("> " + str(sch["exclusiveMinimum"])) if "exclusiveMinimum" in sch else (
            (">= " + str(sch["minimum"])) if "minimum" in sch else "")
        hi = ("< " + str(sch["exclusiveMaximum"])) if "exclusiveMaximum" in sch else (
            ("<= " + str(sch["maximum"])) if "maximum" in sch else "")
        return "a number " + " and ".join(p for p in (lo, hi) if p)
    if validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        where = ".".join(map(str, error.absolute_path)) or "the top level"
        extra = sorted(set(error.instance) - set(known))
        close = difflib.get_close_matches(str(extra[0]), known, n=1) if extra else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"a known key of {where}: " + ", ".join(known) + hint
    if validator == "required":
        return "this key to be present"
    if validator == "pattern":
        return f"a string matching {rule}"
    if validator == "minLength":
        return f"a string of at least {rule} characters"
    if validator == "oneOf":
        parts = []
        for sub in rule:
            if "enum" in sub:
                parts += [repr(v) for v in sub["enum"]]
            elif "const" in sub:
                parts.append(repr(sub["const"]))
            elif "minimum" in sub:
                parts.append(f"{sub.get('type', 'number')} >= {sub['minimum']}")
            else:
                parts.append(sub.get("type", "value"))
        return " or ".join(parts)
    return f"a value satisfying {validator}: {rule!r}"


def _strict_validator_class():
    """Draft 2020-12 with YAML's types taken literally: an integer is an int written without a
    decimal point (JSON Schema would take 2.0), never a bool (true is not 1)."""
    import jsonschema

    def is_integer(checker, instance) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", is_integer)
    return jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)


def _check_finite(value: Any, path: str) -> None:
    """NaN passes every minimum/maximum (all comparisons are false); refuse it and inf outright."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(path or "(top level)", value, "a finite number (not .nan, .inf or -.inf)")
    if isinstance(value, dict):
        for key, sub in value.items():
            _check_finite(sub, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _check_finite(sub, f"{path}[{i}]")


def _dotted(parts, extra=()) -> str:
    """kd.alpha, sweep.alphas[2]."""
    out = ""
    for p in [*parts, *extra]:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validate(params: dict, schema: dict) -> dict:
    """Fill defaults, check against the schema; return the completed params or raise ParamError."""
    if not isinstance(params, dict):
        raise ParamError("(top level)", params, "a mapping of sections")
    _check_finite(params, "")
    params = _fill_defaults(copy.deepcopy(params), schema)
    validator = _strict_validator_class()(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    if errors:
        err = errors[0]
        path = [str(p) for p in err.absolute_path]
        value = err.instance
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})), key=str)
            path, value = path + [str(extra[0])], err.instance[extra[0]]
        elif err.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            path, value = path + missing[:1], None
        raise ParamError(_dotted(err.absolute_path, path[len(err.absolute_path):]) or "(top level)", value,
                         _allowed(err, schema))
    return params


def check_semantics(params: dict, sections: Iterable[str], base: Path) -> None:
    """Checks the schema cannot express: referenced local files must exist."""
    from .data.sources import is_remote, to_local

    sections = set(sections)
    if "dataset" in sections:
        src = params["dataset"]["source"]
        if src and not is_remote(src) and not to_local(src, base).exists():
            raise ParamError("dataset.source", src, "an existing file or folder, a URL, or \"\" for the official download")
        if params["dataset"]["name"] == "image_folder" and not src:
            raise ParamError("dataset.source", src, "a folder or .tar.gz path when dataset.name is image_folder")
    if "teacher" in sections:
        _check_model_source("teacher.source", params["teacher"]["source"], base, (".keras", ".h5"))
    if "student" in sections:
        _check_model_source("student.source", params["student"]["source"], base, (".keras", ".h5", ".tflite"))


def _check_model_source(key: str, src: str, base: Path, suffixes: tuple[str, ...]) -> None:
    """A supplied model (teacher.source, student.source): "train", or a path/URL with a model
    suffix; a local file must exist and a .keras file must be a whole zip archive."""
    from urllib.parse import urlparse

    from .data.sources import is_remote, to_local

    if src == "train":
        return
    kinds = "/".join(suffixes)
    name = urlparse(src).path if is_remote(src) or src.startswith("file://") else src
    if not name.endswith(suffixes):
        endings = ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
        raise ParamError(key, src, f'"train" or a path/URL ending in {endings}')
    if not is_remote(src) and not to_local(src, base).is_file():
        raise ParamError(key, src, f'"train" or an existing {kinds} file or a URL to one')
    if not is_remote(src) and name.endswith(".keras"):
        damage = _zip_damage(to_local(src, base))
        if damage:
            # Keras itself reports a cut .keras file as "File not found".
            raise ParamError(key, src, f"a complete .keras file (a zip archive; this one is "
                                       f"truncated or damaged: {damage})")


def _zip_damage(path: Path) -> str | None:
    """Why `path` is not a whole zip archive (None if it is): a .keras file is one."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return f"entry {bad} fails its CRC check" if bad else None


def read_yaml(path: str | os.PathLike, what: str = "params file") -> Any:
    """The YAML document in `path` (a key given twice is refused); a missing file or a syntax error
    is one ParamError line naming `what`, the file, and the error's line and column."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=UniqueKeyLoader)
    except FileNotFoundError:
        raise ParamError(what, str(path), "an existing YAML file") from None
    except yaml.YAMLError as exc:
        raise ParamError(what, str(path), f"valid YAML ({yaml_problem(exc)})") from None


def load(path: str | os.PathLike = "params.yaml", sections: Iterable[str] = ()) -> dict:
    """Read, default-fill and validate params.yaml; `sections` get the semantic checks too."""
    path = Path(path)
    raw = read_yaml(path)
    params = validate(raw if raw is not None else {}, load_schema(find_schema(path)))
    check_semantics(params, sections, path.resolve().parent)
    return params


def get(params: dict, key: str, default: Any = dotted.MISSING) -> Any:
    """Dotted lookup: get(p, "kd.alpha") (tinykd.dotted)."""
    try:
        return dotted.get(params, key, default)
    except KeyError:
        raise ParamError(key, None, "this key to be present in params.yaml") from None


# -- `tinykd params check` ----------------------------------------------------------------------

ALL_SECTIONS = ("dataset", "teacher", "student")   # the sections check_semantics knows about


def check_file(path: str | os.PathLike = "params.yaml") -> dict:
    """Everything a stage would check, for the whole file: schema (unknown keys, types, ranges)
    and the semantic checks of every section. Raises ParamError; returns the completed params."""
    return load(path, sections=ALL_SECTIONS)


def _cmd_check(args: argparse.Namespace) -> int:
    check_file(args.params)
    if not args.quiet:
        print(f"{args.params}: valid")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("params", help="params.yaml tools: `check` validates it against the schema")
    ps = p.add_subparsers(dest="params_command", required=True)
    c = ps.add_parser("check", help="validate params.yaml (unknown keys, types, ranges, referenced files); "
                                    "`make repro` runs this before `dvc repro`")
    c.add_argument("params", nargs="?", default="params.yaml", help="the file to check [params.yaml]")
    c.add_argument("-q", "--quiet", action="store_true", help="print nothing when it is valid")
    c.set_defaults(func=_cmd_check)
