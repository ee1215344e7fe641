"""Malformed input at every public entry point gives a TheoryKitError with a useful message.

Never an internal AttributeError/KeyError/IndexError/TypeError, never a silently wrong answer.
Each row pins a substring of the message. Rows for modules another engineer is still writing
are guarded by `pytest.importorskip` on that module (the `needs` column).
"""

from __future__ import annotations

import importlib
import math
import os
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import pytest

from theory_kit import errors, rasp
from theory_kit.errors import TheoryKitError

from tests.model.test_readouts import edited_model_file

NAN, INF = math.nan, math.inf
EQ = rasp.Comparison.EQ


@dataclass(frozen=True)
class Case:
    """call(ctx) must raise `error` whose message contains `match` (case-insensitive)."""

    name: str
    call: Callable[["Context"], Any]
    error: type
    match: str
    needs: Optional[str] = None
    xfail: Optional[str] = None   # a known bug, reported; strict so a fix is noticed


class Context:
    """Lazily built shared objects (a compiled model, saved files) for the table rows."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self._model = None

    @property
    def program(self):
        return rasp.Map(lambda x: x + 1, rasp.tokens).named("inc")

    @property
    def model(self):
        if self._model is None:
            import theory_kit

            self._model = theory_kit.compile(self.program, vocab={1, 2, 3}, max_seq_len=3)
        return self._model

    def saved(self, name="model.npz") -> str:
        path = os.path.join(self.tmp, name)
        self.model.save(path)
        return path

    def edited(self, edit: Callable[[dict], None], name="edited.npz") -> str:
        """A saved model whose meta.json was changed by `edit`."""
        src = self.saved("source.npz")
        return str(edited_model_file(src, os.path.join(self.tmp, name), edit))

    def with_array(self, name: str, value) -> str:
        """A saved model with one array replaced."""
        src = self.saved("source2.npz")
        dst = os.path.join(self.tmp, "array.npz")
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == name + ".npy":
                    import io

                    buf = io.BytesIO()
                    np.save(buf, value)
                    data = buf.getvalue()
                zout.writestr(item, data)
        return dst

    def truncated(self) -> str:
        path = self.saved("full.npz")
        with open(path, "rb") as fh:
            data = fh.read()
        out = os.path.join(self.tmp, "truncated.npz")
        with open(out, "wb") as fh:
            fh.write(data[: len(data) // 2])
        return out

    def garbage(self) -> str:
        out = os.path.join(self.tmp, "garbage.npz")
        with open(out, "wb") as fh:
            fh.write(b"this is not a zip file at all")
        return out


def _compile(program=None, **kwargs):
    import theory_kit

    settings = dict(vocab={1, 2, 3}, max_seq_len=3)
    settings.update(kwargs)
    return theory_kit.compile(program if program is not None else rasp.tokens, **settings)


def _sel():
    return rasp.Select(rasp.tokens, rasp.tokens, EQ)


def _claim(**overrides):
    import sympy

    from theory_kit.claims import Claim

    n = sympy.Symbol("n")
    spec = dict(name="ok", quantity=lambda n: n, bound=n, domain={"n": (1, 10, "int")})
    spec.update(overrides)
    return Claim(**spec)


def _two_layer_relu(*args, **kwargs):
    landscape = importlib.import_module("theory_kit.landscape")
    fn = getattr(landscape, "two_layer_relu", None)
    if fn is None:
        fn = importlib.import_module("theory_kit.landscape.relu").two_layer_relu
    return fn(*args, **kwargs)


I, P, M, E, U = (errors.InvalidInput, errors.InvalidProgram, errors.InvalidModelFile,
                 errors.EvaluationError, errors.UnsupportedProgram)

CASES = [
    # -- RASP constructors ---------------------------------------------------------------
    Case("map_f_not_callable", lambda c: rasp.Map(3, rasp.tokens), P, "f must be a function"),
    Case("map_inner_not_sop", lambda c: rasp.Map(lambda x: x, "tokens"), P,
         "inner must be a SOp"),
    Case("sequence_map_snd_not_sop", lambda c: rasp.SequenceMap(lambda x, y: x, rasp.tokens, 3),
         P, "snd must be a SOp"),
    Case("linear_sequence_map_nan_factor",
         lambda c: rasp.LinearSequenceMap(rasp.tokens, rasp.tokens, NAN, 1), P,
         "fst_fac must be a finite number"),
    Case("linear_sequence_map_bool_factor",
         lambda c: rasp.LinearSequenceMap(rasp.tokens, rasp.tokens, 1, True), P,
         "snd_fac must be a finite number"),
    Case("full_unhashable", lambda c: rasp.Full([1]), P, "fill must be hashable"),
    Case("full_infinite", lambda c: rasp.Full(INF), P, "fill must be finite"),
    Case("select_predicate_string", lambda c: rasp.Select(rasp.tokens, rasp.tokens, "=="), P,
         "predicate must be a function"),
    Case("select_keys_selector", lambda c: rasp.Select(_sel(), rasp.tokens, EQ), P,
         "keys must be a SOp"),
    Case("aggregate_sop_as_selector", lambda c: rasp.Aggregate(rasp.tokens, rasp.tokens), P,
         "selector must be a Selector"),
    Case("aggregate_default_list", lambda c: rasp.Aggregate(_sel(), rasp.tokens, default=[0]),
         P, "default must be None, str, int, float or bool"),
    Case("aggregate_default_nan", lambda c: rasp.Aggregate(_sel(), rasp.tokens, default=NAN),
         P, "default must be finite"),
    Case("selector_width_of_sop", lambda c: rasp.SelectorWidth(rasp.tokens), P,
         "selector must be a Selector"),
    Case("selector_and_with_sop", lambda c: rasp.SelectorAnd(_sel(), rasp.tokens), P,
         "snd must be a Selector"),
    Case("rename_primitive", lambda c: rasp.tokens.named("x"), P, "cannot be renamed"),
    Case("empty_name", lambda c: rasp.Map(lambda x: x, rasp.tokens).named(""), P,
         "name must be a non-empty string"),
    Case("numerical_selector", lambda c: rasp.numerical(_sel()), P, "only SOps have an encoding"),
    Case("mutate_frozen_node", lambda c: setattr(rasp.Full(1), "fill", 2), P, "frozen"),
    Case("truth_value_of_sop", lambda c: bool(rasp.tokens == 1), P, "truth value"),
    Case("constant_sop_string", lambda c: rasp.ConstantSOp("abc"), P, "value must be a list"),
    Case("pickle_program", lambda c: __import__("pickle").dumps(rasp.Full(1)), P,
         "not pickled"),
    # -- evaluate ------------------------------------------------------------------------
    Case("evaluate_not_a_sequence", lambda c: rasp.evaluate(rasp.tokens, 5), I,
         "must be a sequence"),
    Case("evaluate_bytes", lambda c: rasp.evaluate(rasp.tokens, b"ab"), I, "must be a sequence"),
    Case("evaluate_unhashable_token", lambda c: rasp.evaluate(rasp.tokens, [[1]]), I,
         "unhashable"),
    Case("evaluate_none_token", lambda c: rasp.evaluate(rasp.tokens, [1, None]), I,
         "position 1 is None"),
    Case("evaluate_nan_token", lambda c: rasp.evaluate(rasp.tokens, [NAN]), I, "not finite"),
    Case("evaluate_inf_token", lambda c: rasp.evaluate(rasp.tokens, [1, INF]), I, "not finite"),
    Case("evaluate_function_raises",
         lambda c: rasp.evaluate(rasp.Map(lambda x: 1 // x, rasp.tokens).named("inv"), [0]), E,
         "'inv': its function raised ZeroDivisionError"),
    Case("evaluate_function_returns_nan",
         lambda c: rasp.evaluate(rasp.Map(lambda x: NAN, rasp.tokens).named("bad"), [1]), E,
         "values must be finite"),
    Case("evaluate_categorical_aggregate_of_different_values",
         lambda c: rasp.evaluate(rasp.Aggregate(
             rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE), rasp.tokens), [1, 2]),
         E, "several different values"),
    Case("evaluate_not_a_program", lambda c: rasp.evaluate("tokens", [1]), P,
         "expected a RASP expression"),
    Case("evaluate_batch_bad_row", lambda c: rasp.evaluate_batch(rasp.tokens, [[1], [None]]), I,
         "input 1"),
    # -- compile ---------------------------------------------------------------------------
    Case("compile_bos_in_vocab", lambda c: _compile(vocab={1, "BOS"}), I, "BOS"),
    Case("compile_empty_vocab", lambda c: _compile(vocab=set()), I, "empty"),
    Case("compile_vocab_string", lambda c: _compile(vocab="abc"), I, "set of tokens"),
    Case("compile_unhashable_vocab", lambda c: _compile(vocab=[[1], 2]), I, "unhashable"),
    Case("compile_nan_in_vocab", lambda c: _compile(vocab={1, NAN}), I, "non-finite"),
    Case("compile_none_in_vocab", lambda c: _compile(vocab={1, None}), I, "None"),
    Case("compile_max_seq_len_zero", lambda c: _compile(max_seq_len=0), I, "max_seq_len"),
    Case("compile_max_seq_len_float", lambda c: _compile(max_seq_len=3.0), I, "max_seq_len"),
    Case("compile_not_a_program", lambda c: _compile("tokens"), P, "expected a RASP"),
    Case("compile_selector_output", lambda c: _compile(_sel()), U, "Selector"),
    Case("compile_numerical_aggregate_without_default",
         lambda c: _compile(rasp.numerical(rasp.Aggregate(_sel(), rasp.numerical(
             rasp.Map(lambda x: x, rasp.tokens)))).named("avg")), U, "default"),
    Case("compile_map_raises_on_reachable_value",
         lambda c: _compile(rasp.Map(lambda x: 1 // (x - 2), rasp.tokens).named("boom")), U,
         "boom"),
    Case("compile_partial_categorical_aggregate",
         lambda c: _compile(rasp.Aggregate(rasp.Select(rasp.tokens, rasp.tokens,
                                                       rasp.Comparison.TRUE), rasp.tokens)),
         U, "several different values"),
    Case("compile_bad_dtype", lambda c: _compile(dtype=np.float16), I, "dtype"),
    Case("compile_bad_verify", lambda c: _compile(verify="yes"), I, "verify"),
    Case("compile_bad_causal", lambda c: _compile(causal="no"), I, "causal"),
    # -- run / run_batch / forward -----------------------------------------------------------
    Case("run_token_outside_vocab", lambda c: c.model.run([1, 9]), I, "9 at position 1"),
    Case("run_too_long", lambda c: c.model.run([1, 1, 1, 1]), I, "longer than max_seq_len"),
    Case("run_bos_token", lambda c: c.model.run(["BOS"]), I, "not in the vocabulary"),
    Case("run_unhashable", lambda c: c.model.run([[1]]), I, "unhashable"),
    Case("run_nan", lambda c: c.model.run([NAN]), I, "not finite"),
    Case("run_none", lambda c: c.model.run([None]), I, "None"),
    Case("run_not_a_sequence", lambda c: c.model.run(5), I, "sequence"),
    Case("run_string_of_ints", lambda c: c.model.run("12"), I, "not in the vocabulary"),
    Case("run_float_equal_to_token", lambda c: c.model.run([1.5]), I, "not in the vocabulary"),
    Case("run_batch_bad_row", lambda c: c.model.run_batch([[1], [9]]), I, "input 1"),
    Case("run_batch_not_iterable", lambda c: c.model.run_batch(5), I, "sequence"),
    Case("forward_float_ids", lambda c: c.model.forward(np.zeros((1, 2))), I, "int array"),
    Case("forward_id_out_of_range", lambda c: c.model.forward(np.array([[0, 99]])), I,
         "out of range"),
    Case("forward_too_many_positions", lambda c: c.model.forward(np.zeros((1, 9), dtype=int)),
         I, "exceed max_seq_len"),
    # -- load ------------------------------------------------------------------------------
    Case("load_missing_file", lambda c: __import__("theory_kit").load(
        os.path.join(c.tmp, "nope.npz")), M, "no model file"),
    Case("load_directory", lambda c: __import__("theory_kit").load(c.tmp), M, "no model file"),
    Case("load_truncated_npz", lambda c: __import__("theory_kit").load(c.truncated()), M,
         "not a readable theory_kit model file"),
    Case("load_garbage", lambda c: __import__("theory_kit").load(c.garbage()), M,
         "not a readable theory_kit model file"),
    Case("load_wrong_format_version", lambda c: __import__("theory_kit").load(
        c.edited(lambda m: m.update(format_version=99))), M, "format version 99"),
    Case("load_wrong_format_name", lambda c: __import__("theory_kit").load(
        c.edited(lambda m: m.update(format="something.else"))), M, "not a theory_kit model"),
    Case("load_missing_field", lambda c: __import__("theory_kit").load(
        c.edited(lambda m: m.pop("residual_labels"))), M, "inconsistent model file"),
    Case("load_malformed_value", lambda c: __import__("theory_kit").load(
        c.edited(lambda m: m.update(vocab=[{"set": [1]}]))), M, "malformed value"),
    Case("load_wrong_dtype", lambda c: __import__("theory_kit").load(
        c.edited(lambda m: m.update(dtype="float32"))), M, "metadata says float32"),
    Case("load_wrong_max_seq_len", lambda c: __import__("theory_kit").load(
        c.edited(lambda m: m.update(max_seq_len=7))), M, "max_seq_len"),
    Case("load_fewer_residual_labels", lambda c: __import__("theory_kit").load(
        c.edited(lambda m: m.update(residual_labels=m["residual_labels"][:-1]))), M,
        "residual labels"),
    Case("load_nan_weights", lambda c: __import__("theory_kit").load(
        c.with_array("unembed", np.full((c.model.weights.residual_width, 1), np.nan))), M,
        "non-finite"),
    Case("load_path_not_a_string", lambda c: __import__("theory_kit").load(123), M, "123"),
    # -- claims ----------------------------------------------------------------------------
    Case("claim_bad_name", lambda c: _claim(name="1bad"), errors.InvalidClaim, "name must be",
         needs="theory_kit.claims"),
    Case("claim_unknown_symbol", lambda c: _claim(bound=__import__("sympy").Symbol("m")),
         errors.InvalidClaim, "m", needs="theory_kit.claims"),
    Case("claim_inverted_range", lambda c: _claim(domain={"n": (10, 1, "int")}),
         errors.InvalidClaim, "n", needs="theory_kit.claims"),
    Case("claim_bad_relation", lambda c: _claim(relation="=<"), errors.InvalidClaim,
         "relation must be one of", needs="theory_kit.claims"),
    Case("claim_nan_tolerance", lambda c: _claim(rtol=NAN), errors.InvalidClaim,
         "rtol must be a finite real", needs="theory_kit.claims"),
    Case("verify_not_a_claim", lambda c: importlib.import_module("theory_kit.claims").verify("x"),
         I, "expects a Claim", needs="theory_kit.claims"),
    Case("verify_zero_budget", lambda c: importlib.import_module("theory_kit.claims").verify(
        _claim(), budget=0), I, "budget must be an int >= 1", needs="theory_kit.claims"),
    # -- landscape ---------------------------------------------------------------------------
    Case("relu_nan_data", lambda c: _two_layer_relu(np.array([[NAN, 1.0]]), np.array([1.0]),
                                                    beta=1.0), I, "X must be finite",
         needs="theory_kit.landscape"),
    Case("relu_shape_mismatch", lambda c: _two_layer_relu(np.ones((3, 2)), np.ones(4),
                                                          beta=1.0), I, "y must have length 3",
         needs="theory_kit.landscape"),
    Case("relu_negative_beta", lambda c: _two_layer_relu(np.ones((3, 2)), np.ones(3),
                                                         beta=-1.0), I, "beta must be",
         needs="theory_kit.landscape"),
    Case("relu_string_data", lambda c: _two_layer_relu("x", np.ones(3), beta=1.0), I,
         "X must be a real numeric array", needs="theory_kit.landscape"),
]


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


def check_case(case: Case, ctx: Optional[Context]) -> None:
    """case.call(ctx) raises case.error whose message contains case.match (the table's rule;
    the other tables in tests/fuzz call it too)."""
    assert issubclass(case.error, TheoryKitError)
    with pytest.raises(TheoryKitError) as info:
        case.call(ctx)
    assert isinstance(info.value, case.error), (
        f"{case.name}: expected {case.error.__name__}, got {type(info.value).__name__}: "
        f"{info.value}")
    assert case.match.lower() in str(info.value).lower(), (
        f"{case.name}: message {str(info.value)!r} lacks {case.match!r}")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_raises_a_useful_theory_kit_error(case, tmp_path):
    if case.needs:
        pytest.importorskip(case.needs)
    check_case(case, Context(str(tmp_path)))




# -- valid edge cases: empty input is valid everywhere ---------------------------------------


def test_empty_input_is_valid_for_the_interpreter_and_the_model(tmp_path):
    ctx = Context(str(tmp_path))
    assert rasp.evaluate(ctx.program, []) == []
    assert ctx.model.run([]) == []
    assert ctx.model.run_batch([[], [1], []]) == [[], [2], []]
    assert ctx.model.run_batch([]) == []


def test_validate_reports_bad_settings_as_problems_not_exceptions():
    problems = [str(p) for p in rasp.validate(rasp.tokens, {"BOS", 1}, 0)]
    assert any("BOS" in p for p in problems) and any("max_seq_len" in p for p in problems)
    problems = [str(p) for p in rasp.validate("tokens", [[1]], 3)]
    assert any("unhashable" in p for p in problems)
    assert any("not a RASP expression" in p for p in problems)
    problems = [str(p) for p in rasp.validate(_sel())]
    assert any("Selector" in p for p in problems)


@pytest.mark.parametrize("argv, match", [
    (["eval", "no_such_program", "1"], "unknown program"),
    (["eval", "reverse"], "required"),
    (["no-such-command"], "invalid choice"),
    (["eval"], "required"),
])
def test_cli_reports_errors_without_a_traceback(argv, match, capsys):
    cli = pytest.importorskip("theory_kit.cli")
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert match in err and "Traceback" not in err
