"""The stage entry points (stages/*.py) and their one helper, `stage()` in stages/_common.py:
params are validated before anything heavy is imported, and every ending (done, a bad command
line, a TinykdError, Ctrl-C, SIGTERM, a bug) is the one the helper's docstring promises."""
from __future__ import annotations

import importlib.util
import json
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.imports import REPO, STAGES_DIR, imported_names, reached_modules
from support.pipeline import dvc_stages

# TensorFlow and what comes with it: seconds to import, so never before params are validated.
HEAVY = {"tensorflow", "keras", "tf_keras", "tensorflow_model_optimization", "ai_edge_litert", "tflite_micro"}
SCRIPTS = sorted(p for p in STAGES_DIR.glob("*.py") if not p.name.startswith("_"))
BAD_SEED = "error: params: seed = 'x' is not allowed; expected a value of type integer"


def _common():
    """stages/_common.py as a module of its own (the scripts import it as `_common`)."""
    spec = importlib.util.spec_from_file_location("stages_common_under_test", STAGES_DIR / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def heavy_module_level_imports(script: Path, src: Path | None = None, stages: Path | None = None) -> dict:
    """{project file: heavy modules it imports at module level}, over everything `script`
    loads at module level (transitively through tinykd and stages/)."""
    kw = {k: v for k, v in (("src", src), ("stages", stages)) if v is not None}
    found = {}
    for path in reached_modules(script, module_level=True, **kw):
        src_kw = {"src": src} if src is not None else {}
        heavy = sorted(n for n in imported_names(path, module_level=True, **src_kw) if n.split(".")[0] in HEAVY)
        if heavy:
            found[path] = heavy
    return found


# ------------------------------------------------------------------ the scripts

def test_every_stage_script_starts_through_stage():
    assert SCRIPTS
    for script in SCRIPTS:
        names = imported_names(script, module_level=True)
        assert "_common.stage" in names, f"{script.name} does not start through _common.stage()"
        assert "argparse" not in names, f"{script.name} builds its own parser; stage() does it"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_no_stage_imports_tensorflow_at_module_level(script):
    assert heavy_module_level_imports(script) == {}


def test_the_module_level_check_finds_a_heavy_import_behind_a_tinykd_module(tmp_path):
    """The check above can fail: TensorFlow imported at the top of a module the stage imports
    at its top is found; the same import inside a function (or under TYPE_CHECKING) is not."""
    pkg = tmp_path / "src" / "tinykd"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "eager.py").write_text("import numpy\nfrom tensorflow import keras\n")
    (pkg / "lazy.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import keras\n\n"
                                 "def f():\n    import tensorflow\n")
    stages = tmp_path / "stages"
    stages.mkdir()
    (stages / "_common.py").write_text("")
    (stages / "bad.py").write_text("from _common import stage\nfrom tinykd import eager\n")
    (stages / "good.py").write_text("from _common import stage\nfrom tinykd import lazy\n\n"
                                    "def body():\n    from tinykd import eager\n")
    src = tmp_path / "src"
    assert heavy_module_level_imports(stages / "bad.py", src, stages) == {
        pkg / "eager.py": ["tensorflow", "tensorflow.keras"]}
    assert heavy_module_level_imports(stages / "good.py", src, stages) == {}


# One process runs every dvc.yaml command with a bad params file, the way `python stages/x.py`
# would run it, and reports what each printed and which heavy modules were in memory afterwards.
_RUNNER = textwrap.dedent("""
    import contextlib, io, json, runpy, sys
    heavy_roots = set(json.loads(sys.argv[2]))
    sys.path.insert(0, sys.argv[3])
    out = {}
    for name, argv in json.loads(sys.argv[1]).items():
        err = io.StringIO()
        sys.argv = argv
        code = 0
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                runpy.run_path(argv[0], run_name="__main__")
            except SystemExit as exc:
                code = exc.code
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in heavy_roots)
        out[name] = {"code": code, "stderr": err.getvalue(), "heavy": heavy}
    print(json.dumps(out))
""")


def test_a_bad_params_file_stops_every_stage_in_one_line_before_tensorflow_is_imported(tmp_path, tool_env):
    (tmp_path / "bad.yaml").write_text('seed: "x"\n')
    commands, scripts = {}, set()
    for name, st in dvc_stages().items():
        argv = shlex.split(st["cmd"])
        assert argv[0] == "python" and argv[1].startswith("stages/"), st["cmd"]
        scripts.add(argv[1])
        if "--params" not in argv:
            continue  # report reads no params.yaml
        argv = [str(REPO / argv[1]), *argv[2:]]
        argv[argv.index("--params") + 1] = "bad.yaml"
        commands[name] = argv
    assert scripts == {f"stages/{p.name}" for p in SCRIPTS}, "a stage script that dvc.yaml does not run"
    assert {Path(a[0]).name for a in commands.values()} == {p.name for p in SCRIPTS} - {"report.py"}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(commands), json.dumps(sorted(HEAVY)),
                           str(STAGES_DIR)], cwd=tmp_path, env=tool_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name, got in json.loads(proc.stdout).items():
        assert (got["code"], got["stderr"], got["heavy"][:3]) == (1, BAD_SEED + "\n", []), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # nothing written


# ------------------------------------------------------------------ the helper

def _arguments(ap):
    ap.add_argument("--out", required=True)


@pytest.fixture()
def common():
    return _common()


def _params(tmp_path, text: str) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return str(path)


def test_body_gets_the_parsed_arguments_and_the_validated_params(common, tmp_path):
    seen = []
    common.stage("doc", _arguments, lambda args, p: seen.append((args.out, args.params, p)), sections=["kd"],
                 argv=["--params", _params(tmp_path, "kd:\n  alpha: 0.3\n"), "--out", "o"], name="s")
    (out, params_path, p), = seen
    assert out == "o" and params_path.endswith("params.yaml")
    assert p["kd"]["alpha"] == 0.3 and isinstance(p["seed"], int)  # the schema's defaults filled in


def test_a_bad_param_is_one_line_exit_1_and_the_body_never_runs(common, tmp_path, capsys):
    ran = []
    with pytest.raises(SystemExit) as exc:
        common.stage("doc", _arguments, lambda args, p: ran.append(1), sections=["kd"],
                     argv=["--params", _params(tmp_path, "kd:\n  alpha: 1.5\n"), "--out", "o"], name="s")
    assert exc.value.code == 1 and ran == []
    assert capsys.readouterr().err == ("error: params: kd.alpha = 1.5 is not allowed; expected a number >= 0 "
                                       "and <= 1\n")


def test_a_missing_params_file_is_one_line(common, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        common.stage("doc", _arguments, lambda args, p: None, argv=["--params", str(tmp_path / "none.yaml"),
                                                                     "--out", "o"], name="s")
    assert exc.value.code == 1
    assert capsys.readouterr().err == (f"error: params: params file = '{tmp_path / 'none.yaml'}' is not allowed; "
                                       "expected an existing YAML file\n")


@pytest.mark.parametrize("error", ["DataError", "ExportError", "DeviceError", "OutputError"])
def test_a_tinykd_error_in_the_body_is_one_line_and_exit_1(common, tmp_path, capsys, error):
    from tinykd import atomic, errors

    cls = getattr(errors, error, None) or getattr(atomic, error)

    def body(args, p):
        raise cls(f"{args.out} is broken")

    with pytest.raises(SystemExit) as exc:
        common.stage("doc", _arguments, body, argv=["--params", _params(tmp_path, ""), "--out", "o"], name="s")
    assert exc.value.code == 1
    assert capsys.readouterr().err == "error: o is broken\n"


def test_ctrl_c_in_the_body_is_exit_130_and_one_line(common, tmp_path, capsys, monkeypatch):
    # The list of outputs written in full is per process; earlier tests in this one wrote some.
    monkeypatch.setattr("tinykd.atomic._COMPLETED", [])

    def body(args, p):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exc:
        common.stage("doc", _arguments, body, argv=["--params", _params(tmp_path, ""), "--out", "o"], name="s")
    assert exc.value.code == 130
    assert capsys.readouterr().err == "interrupted; outputs of s left as before\n"


def test_a_bug_keeps_its_traceback(common, tmp_path):
    def body(args, p):
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError, match="a bug"):
        common.stage("doc", _arguments, body, argv=["--params", _params(tmp_path, ""), "--out", "o"], name="s")


def test_a_bad_command_line_is_argparse_exit_2(common, capsys):
    with pytest.raises(SystemExit) as exc:
        common.stage("doc", _arguments, lambda args, p: None, argv=["--params", "params.yaml"], name="s")
    assert exc.value.code == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_a_stage_without_params_has_no_params_option_and_gets_none(common, capsys):
    seen = []
    common.stage("doc", _arguments, lambda args, p: seen.append((vars(args), p)), sections=None,
                 argv=["--out", "o"], name="s")
    assert seen == [({"out": "o"}, None)]
    with pytest.raises(SystemExit) as exc:
        common.stage("doc", _arguments, lambda args, p: None, sections=None,
                     argv=["--params", "params.yaml", "--out", "o"], name="s")
    assert exc.value.code == 2


def test_signal_handlers_are_put_back(common, tmp_path):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    inside = []
    common.stage("doc", _arguments, lambda args, p: inside.append(signal.getsignal(signal.SIGTERM)),
                 argv=["--params", _params(tmp_path, ""), "--out", "o"], name="s")
    assert inside == [common._on_sigterm]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_read_record_names_the_stage_to_run_first(common, tmp_path):
    from tinykd.errors import DeviceError

    (tmp_path / "flash.json").write_text('{"board": "b"}')
    assert common.read_record(tmp_path / "flash.json", "flash") == {"board": "b"}
    (tmp_path / "cut.json").write_text('{"board": ')
    for path in (tmp_path / "none.json", tmp_path / "cut.json"):
        with pytest.raises(DeviceError, match=rf"^cannot read {path} \(.+\): run the flash stage first$"):
            common.read_record(path, "flash")


def test_flash_stage_without_a_build_is_one_line(tmp_path, tool_env):
    proc = subprocess.run([sys.executable, str(STAGES_DIR / "flash.py"), "--params", str(REPO / "params.yaml"),
                           "--firmware", str(tmp_path / "firmware"), "--out", str(tmp_path / "flash")],
                          cwd=tmp_path, env=tool_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    info = tmp_path / "firmware" / "build_info.json"
    assert proc.stderr.splitlines() == [
        f"error: cannot read {info} ([Errno 2] No such file or directory: '{info}'): run the build stage first"]
    assert not (tmp_path / "flash").exists()
