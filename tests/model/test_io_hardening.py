"""Model files fail closed (issue 23, items 7 and 9): `load` checks every meta.json field
against the arrays and the other fields, refuses forged sizes before allocating, `save` writes
byte-identical files with the user's umask and refuses bad paths, `forward` handles empty
shapes. One regression test (or parameter row) per defect; each failed before the fix."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.errors import InvalidInput, InvalidModelFile, UnsupportedProgram
from theory_kit.library import PROGRAMS, make_frac_prevs


@pytest.fixture(scope="module")
def models():
    """Small models: int tokens and categorical output; string tokens and numerical output;
    string tokens and categorical output."""
    return {
        "inc": tk.compile(rasp.Map(lambda x: x + 1, rasp.tokens), vocab={1, 2, 3},
                          max_seq_len=3),
        "frac": tk.compile(make_frac_prevs(rasp.tokens == "a"), vocab={"a", "b"},
                           max_seq_len=3),
        "upper": tk.compile(rasp.Map(lambda x: x.upper(), rasp.tokens), vocab={"a", "b"},
                            max_seq_len=2),
    }


@pytest.fixture(scope="module")
def saved(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    paths = {}
    for name, model in models.items():
        paths[name] = str(folder / f"{name}.npz")
        model.save(paths[name])
    return paths


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _rewrite(src, dst, *, meta=None, raw_meta=None, replace=None, add=(), drop=()) -> str:
    """Copy a model file, editing meta.json (`meta(dict)` in place, or `raw_meta(text)`),
    replacing members (`replace[name] = bytes`), adding (name, bytes) and dropping members."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names (one test wants one)
        for item in zin.infolist():
            if item.filename in drop:
                continue
            data = zin.read(item.filename)
            if item.filename == "meta.json":
                if meta is not None:
                    doc = json.loads(data)
                    meta(doc)
                    data = json.dumps(doc).encode()
                if raw_meta is not None:
                    data = raw_meta(data.decode()).encode()
            data = replace.get(item.filename, data)
            zout.writestr(item, data)
        for name, data in add:
            zout.writestr(name, data)
    return str(dst)


def _meta(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("meta.json"))


def _refused(path, *needles):
    with pytest.raises(InvalidModelFile) as info:
        tk.load(path)
    for needle in needles:
        assert needle in str(info.value), f"{needle!r} not in {str(info.value)!r}"
    return str(info.value)


def _set(key, value):
    return lambda m: m.__setitem__(key, value)


def _item(key, index, value):
    return lambda m: m[key].__setitem__(index, value)


# -- item 7: every meta.json field is checked ------------------------------------------------
# (model, edit of meta.json, the field the message must name)
FIELD_EDITS = {
    # layer count: more, fewer, or not an int
    "n_layers_more": ("inc", _set("n_layers", 2), "n_layers"),
    "n_layers_zero": ("inc", _set("n_layers", 0), "n_layers"),
    "n_layers_bool": ("inc", _set("n_layers", True), "n_layers"),
    "n_layers_float": ("inc", _set("n_layers", 1.0), "n_layers"),
    # output values and encoding
    "output_values_fewer": ("inc", lambda m: m["output_values"].pop(), "output_values"),
    "output_values_repeated": ("inc", _item("output_values", 1, {"int": 2}), "output_values"),
    "output_values_cast": ("inc", _item("output_values", 0, {"int": 2.5}), "output_values"),
    "output_values_on_numerical": ("frac", _set("output_values", [{"float": 0.5}]),
                                   "output_values"),
    "output_encoding_numerical": ("inc", _set("output_encoding", "numerical"),
                                  "output_encoding"),
    "output_encoding_categorical": ("frac", _set("output_encoding", "categorical"),
                                    "output_encoding"),
    "output_encoding_unknown": ("inc", _set("output_encoding", "softmax"), "output_encoding"),
    "output_value_set_on_categorical": ("inc", _set("output_value_set", [{"float": 0.5}]),
                                        "output_value_set"),
    "output_value_set_strings": ("frac", _item("output_value_set", 0, {"str": "x"}),
                                 "output_value_set"),
    "output_value_set_repeated": ("frac", _item("output_value_set", 1, {"float": 0.0}),
                                  "output_value_set"),
    "output_value_set_nan": ("frac", _item("output_value_set", 0, {"float": float("nan")}),
                             "output_value_set"),
    "output_value_set_not_a_list": ("frac", _set("output_value_set", "0.5"),
                                    "output_value_set"),
    # vocabulary, tokens, BOS
    "vocab_extra_token": ("inc", lambda m: m["vocab"].append({"int": 4}), "vocab"),
    "vocab_missing_token": ("inc", lambda m: m["vocab"].pop(), "vocab"),
    "vocab_empty": ("inc", _set("vocab", []), "vocab"),
    "vocab_bool_as_int": ("inc", _item("vocab", 0, {"int": True}), "vocab"),
    "vocab_repeated": ("inc", _item("vocab", 2, {"int": 1}), "vocab"),
    "vocab_not_a_list": ("inc", _set("vocab", "123"), "vocab"),
    "vocab_holds_bos": ("inc", lambda m: m["vocab"].append({"str": "BOS"}), "vocab"),
    "vocab_string_as_int": ("frac", _item("vocab", 0, {"int": 1}), "vocab"),
    "tokens_bos_changed": ("inc", _item("tokens", 0, {"str": "X"}), "tokens"),
    "tokens_value_changed": ("inc", _item("tokens", 3, {"int": 4}), "tokens"),
    "tokens_type_changed": ("inc", _item("tokens", 1, {"float": 1.0}), "tokens"),
    "tokens_fewer": ("inc", lambda m: m["tokens"].pop(), "tokens"),
    "tokens_string_changed": ("upper", _item("tokens", 1, {"str": "c"}), "tokens"),
    "bos_changed": ("inc", _set("bos", {"str": "X"}), "bos"),
    "bos_is_a_token": ("inc", _set("bos", {"int": 1}), "bos"),
    # dtype
    "dtype_other": ("inc", _set("dtype", "float32"), "dtype"),
    "dtype_unknown": ("inc", _set("dtype", "float16"), "dtype"),
    "dtype_not_a_string": ("inc", _set("dtype", 64), "dtype"),
    # max_seq_len
    "max_seq_len_float": ("inc", _set("max_seq_len", 3.0), "max_seq_len"),
    "max_seq_len_wrong": ("inc", _set("max_seq_len", 7), "max_seq_len"),
    "max_seq_len_zero": ("inc", _set("max_seq_len", 0), "max_seq_len"),
    # residual labels
    "residual_labels_fewer": ("inc", lambda m: m["residual_labels"].pop(), "residual_labels"),
    "residual_labels_not_strings": ("inc", lambda m: m.update(
        residual_labels=list(range(len(m["residual_labels"])))), "residual_labels"),
    "residual_labels_null": ("inc", _set("residual_labels", None), "residual_labels"),
    # causal, constants, unknown and missing fields
    "causal_string": ("inc", _set("causal", "false"), "causal"),
    "causal_int": ("inc", _set("causal", 1), "causal"),
    "constants_list": ("inc", _set("constants", []), "constants"),
    "constants_string": ("inc", _set("constants", "beta"), "constants"),
    "constants_missing": ("inc", lambda m: m.pop("constants"), "constants"),
    "unknown_field": ("inc", _set("comment", "hello"), "comment"),
}


@pytest.mark.parametrize("case", sorted(FIELD_EDITS))
def test_edited_meta_field_is_refused_naming_the_field(case, saved, tmp_path):
    model, edit, field = FIELD_EDITS[case]
    path = _rewrite(saved[model], tmp_path / "edited.npz", meta=edit)
    _refused(path, f"'{field}'")


@pytest.mark.parametrize("version", [True, 1.0])
def test_format_version_must_be_a_readable_int(version, saved, tmp_path):
    path = _rewrite(saved["inc"], tmp_path / "v.npz", meta=_set("format_version", version))
    _refused(path, f"format version {version!r}")


def test_repeated_key_in_meta_json_is_refused(saved, tmp_path):
    path = _rewrite(saved["inc"], tmp_path / "dup.npz",
                    raw_meta=lambda text: text.replace('{', '{"n_layers": 1, ', 1))
    _refused(path, "repeats the key", "'n_layers'")


# -- item 7: arrays are checked against the metadata -----------------------------------------
def test_arrays_of_an_extra_layer_are_refused(saved, tmp_path):
    with zipfile.ZipFile(saved["inc"]) as zf:
        extra = [(n.replace("layer0.", "layer1."), zf.read(n)) for n in zf.namelist()
                 if n.startswith("layer0.")]
    _refused(_rewrite(saved["inc"], tmp_path / "x.npz", add=extra), "'n_layers'")


def test_unexpected_member_is_refused(saved, tmp_path):
    path = _rewrite(saved["inc"], tmp_path / "x.npz", add=[("notes.npy", _npy(np.zeros(3)))])
    _refused(path, "unexpected member", "'notes.npy'")


def test_missing_member_is_refused(saved, tmp_path):
    path = _rewrite(saved["inc"], tmp_path / "x.npz", drop=("layer0.b_out.npy",))
    _refused(path, "missing member", "'layer0.b_out.npy'")


def test_repeated_member_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved["inc"]) as zf:
        twice = [("token_embed.npy", zf.read("token_embed.npy"))]
    _refused(_rewrite(saved["inc"], tmp_path / "x.npz", add=twice), "'token_embed.npy'",
             "more than once")


@pytest.mark.parametrize("dtype", [np.float32, ">f8"])
def test_array_of_another_dtype_is_refused(dtype, models, saved, tmp_path):
    w_in = models["inc"].weights.layers[0].W_in.astype(dtype)
    path = _rewrite(saved["inc"], tmp_path / "x.npz", replace={"layer0.W_in.npy": _npy(w_in)})
    _refused(path, "'dtype'", "layer0.W_in")


def test_array_with_extra_axis_is_refused(models, saved, tmp_path):
    b_out = models["inc"].weights.layers[0].b_out[None]
    path = _rewrite(saved["inc"], tmp_path / "x.npz", replace={"layer0.b_out.npy": _npy(b_out)})
    _refused(path, "'layer0.b_out'", "axes")


def test_corrupted_array_bytes_fail_the_crc_check(saved, tmp_path):
    """Guard (np.load checked the CRC before too): load now reads members itself and must
    still check it."""
    data = bytearray(Path(saved["inc"]).read_bytes())
    with zipfile.ZipFile(saved["inc"]) as zf:
        start = zf.getinfo("token_embed.npy").header_offset
        # the member's data ends where the next member's local header starts
        end = min(i.header_offset for i in zf.infolist() if i.header_offset > start)
    data[end - 1] ^= 0x40
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    _refused(path, "not a readable", "CRC", "token_embed.npy")


# -- item 7: forged sizes are refused before anything is allocated -----------------------------
def test_npy_header_claiming_40_tib_is_refused_not_memory_error(saved, tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (2 ** 40, 5)})
    path = _rewrite(saved["inc"], tmp_path / "forged.npz",
                    replace={"token_embed.npy": buf.getvalue() + bytes(64)})
    _refused(path, "'token_embed.npy'", "forged")


def _forge_zip_size(src, dst, member, *, compressed: bool) -> str:
    """A copy whose central directory says `member` is 8 TiB (uncompressed, and stored too
    when `compressed`), written back by zipfile itself."""
    shutil.copy(src, dst)
    with zipfile.ZipFile(dst, "a") as zf:
        info = zf.getinfo(member)
        info.file_size = 8 * 2 ** 40
        if compressed:
            info.compress_size = 8 * 2 ** 40
        zf._didModify = True   # rewrite the central directory on close
    with zipfile.ZipFile(dst) as zf:
        assert zf.getinfo(member).file_size == 8 * 2 ** 40
    return str(dst)


@pytest.mark.parametrize("compressed", [False, True], ids=["file_size", "both_sizes"])
@pytest.mark.parametrize("member", ["token_embed.npy", "layer0.W_in.npy", "meta.json"])
def test_zip_member_declaring_8_tib_is_refused(member, compressed, saved, tmp_path):
    path = _forge_zip_size(saved["inc"], tmp_path / "forged.npz", member, compressed=compressed)
    _refused(path, repr(member), "8796093022208")


# -- item 7: save is byte-deterministic and load reads what it writes -------------------------
def test_saving_twice_gives_identical_bytes(models, tmp_path, monkeypatch):
    for name, model in models.items():
        first, second = tmp_path / f"{name}1.npz", tmp_path / f"{name}2.npz"
        with monkeypatch.context() as m:
            m.setattr(time, "time", lambda: 1_700_000_000.0)
            model.save(first)
        with monkeypatch.context() as m:
            m.setattr(time, "time", lambda: 1_800_000_000.0)  # three years later
            model.save(second)
        assert first.read_bytes() == second.read_bytes(), name
        with zipfile.ZipFile(first) as zf:
            for info in zf.infolist():
                assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
                assert info.external_attr >> 16 == 0o100644, info.filename


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_library_models_round_trip_byte_identically(name, tmp_path):
    """Guard (passed before too): every library program, also causal and float32, loads back
    (so the checks refuse no file save writes) and saves back to the same bytes."""
    spec = PROGRAMS[name]
    inputs = [list(x) for x in spec.inputs(3)][:30]
    variants = [dict(), dict(dtype=np.float32)] + ([dict(causal=True)] if spec.causal_safe
                                                    else [])
    for settings in variants:
        try:
            model = tk.compile(spec(), vocab=set(spec.vocab), max_seq_len=3, verify=None,
                               **settings)
        except UnsupportedProgram as exc:  # compilability is tests/compiler's business
            pytest.skip(f"{name} {settings} does not compile: {str(exc)[:80]}")
        first, again = tmp_path / "first.npz", tmp_path / "again.npz"
        model.save(first)
        loaded = tk.load(first)
        assert loaded.run_batch(inputs) == model.run_batch(inputs), settings
        assert loaded.causal == model.causal and loaded.dtype == model.dtype
        loaded.save(again)
        assert first.read_bytes() == again.read_bytes(), settings


def test_files_of_the_previous_writer_still_load(models, tmp_path):
    """Guard (passed before too): a file written the old way (np.savez, then meta.json
    appended) loads. FORMAT_VERSION is 2 since readouts and the layout's directions are saved
    (issue 12 item 3); format-1 files still load (tests/model/test_readouts.py)."""
    new = tmp_path / "new.npz"
    models["frac"].save(new)
    old = tmp_path / "old.npz"
    with open(old, "wb") as fh:
        np.savez(fh, **models["frac"].weights.arrays())
    with zipfile.ZipFile(old, "a") as zf:
        zf.writestr("meta.json", json.dumps(_meta(new), indent=1, sort_keys=True))
    loaded = tk.load(old)
    assert loaded.run_batch([["a", "b", "a"], ["b"]]) == models["frac"].run_batch(
        [["a", "b", "a"], ["b"]])
    assert _meta(new)["format_version"] == 2


# -- item 9: save refuses bad paths with InvalidInput naming the path -------------------------
def test_save_to_an_existing_folder_is_invalid_input(models, tmp_path):
    with pytest.raises(InvalidInput, match="existing folder") as info:
        models["inc"].save(tmp_path)
    assert repr(str(tmp_path)) in str(info.value)
    assert os.listdir(tmp_path) == []   # no temporary file left behind


def test_save_into_a_missing_folder_is_invalid_input_and_creates_nothing(models, tmp_path):
    target = tmp_path / "no" / "such" / "model.npz"
    with pytest.raises(InvalidInput, match="does not exist") as info:
        models["inc"].save(target)
    assert repr(str(target)) in str(info.value)
    assert not (tmp_path / "no").exists()


def test_save_below_a_file_is_invalid_input(models, tmp_path):
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(InvalidInput, match="is not a folder"):
        models["inc"].save(tmp_path / "plain.txt" / "model.npz")


def test_save_to_a_non_path_is_invalid_input(models):
    with pytest.raises(InvalidInput, match="expected a file path"):
        models["inc"].save(123)


def test_failed_write_is_invalid_input_and_leaves_no_temporary_file(models, tmp_path,
                                                                   monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    target = tmp_path / "model.npz"
    with pytest.raises(InvalidInput, match="cannot write") as info:
        models["inc"].save(target)
    assert repr(str(target)) in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_saved_file_has_the_umask_permissions(umask, models, tmp_path):
    """Files used to be 0o600 whatever the umask (tempfile.mkstemp); 0o077 is the guard row."""
    if os.name != "posix":
        pytest.skip("permissions are POSIX")
    previous = os.umask(umask)
    try:
        models["inc"].save(tmp_path / "model.npz")
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "model.npz").st_mode & 0o777 == 0o666 & ~umask


# -- item 9: forward on empty shapes -----------------------------------------------------------
def test_forward_on_an_empty_batch_is_an_empty_trace(models):
    model = models["inc"]
    full = model.forward(np.zeros((2, 3), dtype=np.int64))
    empty = model.forward(np.zeros((0, 3), dtype=np.int64))
    assert [r.shape for r in empty.residuals] == [(0,) + r.shape[1:] for r in full.residuals]
    assert [a.shape for a in empty.attention] == [(0,) + a.shape[1:] for a in full.attention]
    assert [r.dtype for r in empty.residuals] == [r.dtype for r in full.residuals]
    assert empty.key_mask.shape == (0, 3) and empty.key_mask.dtype == bool
    assert empty.output.shape == (0, 3, model.weights.residual_width)
    mask = np.zeros((0, 3), dtype=bool)
    assert model.forward(np.zeros((0, 3), dtype=np.int64), mask).key_mask is mask


@pytest.mark.parametrize("shape", [(2, 0), (0, 0), (0,)])
def test_forward_without_positions_is_invalid_input_naming_the_shape(shape, models):
    with pytest.raises(InvalidInput, match="no positions") as info:
        models["inc"].forward(np.zeros(shape, dtype=np.int64))
    assert str(shape) in str(info.value)
