"""Bad model files, save paths and forward shapes give a TheoryKitError (issue 23, items 7
and 9): rows in the style of test_bad_input.py, with its Case and Context."""

from __future__ import annotations

import io
import os
import shutil
import zipfile

import numpy as np
import pytest

from tests.fuzz.test_bad_input import Case, Context, check_case
from theory_kit import errors
from theory_kit.errors import TheoryKitError

I, M = errors.InvalidInput, errors.InvalidModelFile


def _load(path):
    import theory_kit

    return theory_kit.load(path)


def _forged_npy_header(c: Context) -> str:
    """token_embed.npy whose header claims a 40 TiB array (used to raise MemoryError)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (2 ** 40, 5)})
    src, dst = c.saved("src.npz"), os.path.join(c.tmp, "forged_npy.npz")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, buf.getvalue() if item.filename == "token_embed.npy" else data)
    return dst


def _forged_zip_size(c: Context) -> str:
    """A central directory claiming token_embed.npy holds 8 TiB."""
    dst = os.path.join(c.tmp, "forged_zip.npz")
    shutil.copy(c.saved("src.npz"), dst)
    with zipfile.ZipFile(dst, "a") as zf:
        zf.getinfo("token_embed.npy").file_size = 8 * 2 ** 40
        zf._didModify = True  # rewrite the central directory on close
    return dst


def _with_extra_layer(c: Context) -> str:
    src, dst = c.saved("src.npz"), os.path.join(c.tmp, "extra_layer.npz")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)  # before writestr(item) moves item's offset
            zout.writestr(item, data)
            if item.filename.startswith("layer0."):
                zout.writestr(item.filename.replace("layer0.", "layer1."), data)
    return dst


def _below_a_file(c: Context) -> str:
    path = os.path.join(c.tmp, "plain.txt")
    with open(path, "w") as fh:
        fh.write("x")
    return os.path.join(path, "model.npz")


CASES = [
    # -- load: forged sizes -------------------------------------------------------------------
    Case("load_npy_header_claiming_40_tib", lambda c: _load(_forged_npy_header(c)), M,
         "forged or corrupt header"),
    Case("load_zip_member_claiming_8_tib", lambda c: _load(_forged_zip_size(c)), M,
         "declares 8796093022208 bytes"),
    # -- load: meta.json fields ---------------------------------------------------------------
    Case("load_n_layers_bool", lambda c: _load(c.edited(lambda m: m.update(n_layers=True))), M,
         "field 'n_layers' must be an int"),
    Case("load_n_layers_zero", lambda c: _load(c.edited(lambda m: m.update(n_layers=0))), M,
         "field 'n_layers' is 0"),
    Case("load_extra_layer_arrays", lambda c: _load(_with_extra_layer(c)), M,
         "field 'n_layers' is 1"),
    Case("load_output_values_fewer", lambda c: _load(c.edited(
        lambda m: m["output_values"].pop())), M, "field 'output_values' lists 2 values"),
    Case("load_output_encoding_numerical", lambda c: _load(c.edited(
        lambda m: m.update(output_encoding="numerical"))), M, "field 'output_encoding'"),
    Case("load_output_value_set_on_categorical", lambda c: _load(c.edited(
        lambda m: m.update(output_value_set=[{"float": 0.5}]))), M,
        "field 'output_value_set' must be null"),
    Case("load_vocab_extra_token", lambda c: _load(c.edited(
        lambda m: m["vocab"].append({"int": 4}))), M, "fields 'tokens' and 'vocab' disagree"),
    Case("load_vocab_int_cast_from_bool", lambda c: _load(c.edited(
        lambda m: m["vocab"].__setitem__(0, {"int": True}))), M, "malformed value"),
    Case("load_tokens_without_bos", lambda c: _load(c.edited(
        lambda m: m["tokens"].__setitem__(0, {"str": "X"}))), M, "not the BOS token"),
    Case("load_bos_changed", lambda c: _load(c.edited(
        lambda m: m.update(bos={"str": "X"}))), M, "of field 'bos'"),
    Case("load_dtype_unknown", lambda c: _load(c.edited(lambda m: m.update(dtype="float16"))),
         M, "field 'dtype' must be one of"),
    Case("load_max_seq_len_float", lambda c: _load(c.edited(
        lambda m: m.update(max_seq_len=3.0))), M, "field 'max_seq_len' must be an int"),
    Case("load_residual_labels_not_strings", lambda c: _load(c.edited(
        lambda m: m.update(residual_labels=[0] * len(m["residual_labels"])))), M,
        "field 'residual_labels' must be a list of strings"),
    Case("load_causal_string", lambda c: _load(c.edited(lambda m: m.update(causal="false"))),
         M, "field 'causal' must be true or false"),
    Case("load_constants_list", lambda c: _load(c.edited(lambda m: m.update(constants=[]))),
         M, "field 'constants' must be a json object"),
    Case("load_unknown_field", lambda c: _load(c.edited(lambda m: m.update(comment="hi"))), M,
         "unknown field"),
    Case("load_format_version_bool", lambda c: _load(c.edited(
        lambda m: m.update(format_version=True))), M, "format version true"),
    # -- load: arrays -------------------------------------------------------------------------
    Case("load_array_of_another_dtype", lambda c: _load(c.with_array(
        "layer0.W_in", c.model.weights.layers[0].W_in.astype(np.float32))), M,
        "are float32, metadata says float64"),
    Case("load_array_with_extra_axis", lambda c: _load(c.with_array(
        "layer0.b_out", c.model.weights.layers[0].b_out[None])), M,
        "array 'layer0.b_out' has 2 axes"),
    # -- save: paths ----------------------------------------------------------------------------
    Case("save_to_existing_folder", lambda c: c.model.save(c.tmp), I, "existing folder"),
    Case("save_into_missing_folder", lambda c: c.model.save(
        os.path.join(c.tmp, "missing", "model.npz")), I, "does not exist"),
    Case("save_below_a_file", lambda c: c.model.save(_below_a_file(c)), I, "is not a folder"),
    Case("save_path_not_a_string", lambda c: c.model.save(3.5), I, "expected a file path"),
    # -- forward: shapes ------------------------------------------------------------------------
    Case("forward_no_positions", lambda c: c.model.forward(np.zeros((2, 0), dtype=int)), I,
         "shape (2, 0) has no positions"),
    Case("forward_empty_1d", lambda c: c.model.forward(np.zeros(0, dtype=int)), I,
         "shape (0,) has no positions"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_bad_io_input_raises_a_useful_theory_kit_error(case, tmp_path):
    check_case(case, Context(str(tmp_path)))


def test_empty_batch_is_valid_for_forward(tmp_path):
    ctx = Context(str(tmp_path))
    trace = ctx.model.forward(np.zeros((0, 2), dtype=int))
    assert trace.output.shape == (0, 2, ctx.model.weights.residual_width)
