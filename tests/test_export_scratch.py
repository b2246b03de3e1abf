"""export/scratch.py: the planner's scratch bytes are what the kernels' C *_scratch_size()
companions return, asked through the host-compiled library; here against a separate C program
calling the same functions on the same shapes (strides, padding and odd widths included)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinykd.errors import ExportError
from tinykd.export import scratch

REPO = Path(__file__).resolve().parents[1]
NN = REPO / "firmware" / "nn"

pytestmark = pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="needs a host C compiler")

CONV_FUNCTIONS = ("tk_conv2d_s8_scratch_size", "tk_conv2d_s8_cm4_scratch_size", "tk_conv2d_1x1_s8_cm4_scratch_size",
                  "tk_conv2d_3x3_s8_cm4_scratch_size")


def _conv(kh, kw, cin, cout, h=8, w=8, stride=1, pad=0):
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    return {"input": (1, h, w, cin), "filter": (cout, kh, kw, cin), "output": (1, oh, ow, cout),
            "params": {"stride_h": stride, "stride_w": stride, "pad_h": pad, "pad_w": pad,
                       "dilation_h": 1, "dilation_w": 1}}


def _layer(kind, function, dims, params=None, residual=None):
    return SimpleNamespace(kind=kind, dims=dims, params=params or {}, residual=residual, op_index=0, op="OP",
                           kernel=SimpleNamespace(scratch_function=function))


def _c_values(tmp_path, lines: list[str]) -> list[str]:
    src = tmp_path / "sizes.c"
    src.write_text('#include <stdio.h>\n#include "tinykd_nn.h"\n#include "tinykd_nn_cm4.h"\n'
                   '#include "conv2d_add_s8.h"\nint main(void) {\n' + "\n".join(lines) + "\nreturn 0; }\n")
    exe = tmp_path / "sizes"
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{NN / 'include'}", str(src),
                    *map(str, sorted((NN / "src").rglob("*.c"))), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()


def _dims(d) -> str:
    return "{" + ",".join(map(str, d)) + "}"


def test_planned_scratch_is_what_the_c_functions_return(tmp_path):
    convs = [_conv(3, 3, 16, 16, pad=1), _conv(3, 3, 32, 64, pad=1, stride=2), _conv(3, 3, 3, 16, pad=1),
             _conv(1, 1, 16, 32, stride=2), _conv(5, 5, 7, 13, pad=2), _conv(3, 3, 8, 5, stride=3, w=11),
             _conv(3, 3, 4, 3, pad=1, w=7), _conv(3, 3, 128, 250, pad=1)]
    lines, got = [], []
    for c in convs:
        p = c["params"]
        lines.append(f"{{ tk_dims in = {_dims(c['input'])}, f = {_dims(c['filter'])}, out = {_dims(c['output'])};\n"
                     f"  tk_conv_params p = {{0}}; p.stride_h = {p['stride_h']}; p.stride_w = {p['stride_w']};"
                     f" p.pad_h = {p['pad_h']}; p.pad_w = {p['pad_w']}; p.dilation_h = 1; p.dilation_w = 1;\n"
                     + "".join(f'  printf("%ld\\n", (long){fn}(&p, &in, &f, &out));\n' for fn in CONV_FUNCTIONS)
                     + "}")
        dims = {k: c[k] for k in ("input", "filter", "output")}
        got += [scratch.kernel_bytes(_layer("conv2d", fn, dims, p), REPO) for fn in CONV_FUNCTIONS]
    for ch in (3, 12, 64):
        dims = {"input": (1, 6, 6, ch), "filter": (1, 3, 3, ch), "output": (1, 6, 6, ch)}
        lines.append(f"{{ tk_dims in = {_dims(dims['input'])}, f = {_dims(dims['filter'])}, "
                     f"out = {_dims(dims['output'])};\n"
                     f'  printf("%ld\\n", (long)tk_depthwise_conv2d_s8_cm4_scratch_size(&in, &f, &out)); }}')
        got.append(scratch.kernel_bytes(_layer("depthwise_conv2d", "tk_depthwise_conv2d_s8_cm4_scratch_size",
                                               dims), REPO))
    for depth, units in ((640, 10), (37, 11), (1024, 1000)):
        lines.append(f'printf("%ld\\n", (long)tk_fully_connected_s8_cm4_scratch_size(1, {depth}, {units}));')
        got.append(scratch.kernel_bytes(_layer("fully_connected", "tk_fully_connected_s8_cm4_scratch_size",
                                               {"fc": (1, depth, units, 0)}), REPO))
    # a fused residual call: its band of rows, then the convolution's own scratch
    c = _conv(3, 3, 16, 16, h=9, w=9, pad=1)
    lines.append(f"{{ tk_residual r = {{0}}; r.rows = 5; tk_dims out = {_dims(c['output'])};\n"
                 f'  printf("%ld\\n", (long)tk_conv2d_add_s8_chunk_size(&r, &out)); }}')
    fused = _layer("conv2d", "tk_conv2d_3x3_s8_cm4_scratch_size", {k: c[k] for k in ("input", "filter", "output")},
                   c["params"], residual={"rows": 5})
    got.append(scratch.layer_bytes(fused, REPO) - scratch.kernel_bytes(fused, REPO))
    want = [int(v) for v in _c_values(tmp_path, lines)]
    assert got == want
    assert got[-1] == (5 * 9 * 16 + 3) & ~3 and sum(got) > 0


def test_no_scratch_function_no_scratch_and_bad_names_are_one_line():
    assert scratch.kernel_bytes(_layer("max_pool2d", None, {}), REPO) == 0
    with pytest.raises(ExportError, match=r"^kernel scratch function tk_nothing_scratch_size\(\) is not defined"):
        scratch.kernel_bytes(_layer("conv2d", "tk_nothing_scratch_size", {}), REPO)


def test_without_a_host_compiler_export_says_what_to_install(tmp_path, monkeypatch):
    nn = tmp_path / "firmware" / "nn"
    shutil.copytree(NN, nn)   # another tree: not in the process's cache
    monkeypatch.setattr(scratch.shutil, "which", lambda name: None)
    with pytest.raises(ExportError, match="install a host C compiler, cc or gcc"):
        scratch.library(tmp_path)


def test_an_edited_kernel_is_compiled_again(tmp_path):
    shutil.copytree(NN, tmp_path / "firmware" / "nn")
    before = scratch.library(tmp_path)
    assert scratch.library(tmp_path) is before
    src = tmp_path / "firmware" / "nn" / "src" / "fully_connected_s8.c"
    src.write_text(src.read_text().replace("    return 0;\n}", "    return 8;\n}", 1))
    layer = _layer("fully_connected", "tk_fully_connected_s8_scratch_size", {"fc": (1, 4, 4, 0)})
    assert scratch.kernel_bytes(layer, tmp_path) == 8 and scratch.library(tmp_path) is not before
