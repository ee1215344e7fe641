"""A safe parser from bound text ("(n-1)*exp(-beta)") to a sympy expression.

sympy's `sympify`/`parse_expr` run `eval` on their input, so `__import__('os').system(...)`
given as a bound would run. This parser never evaluates the text: it parses it with Python's
`ast` module (mode "eval") and builds the sympy expression node by node from a whitelist.

Accepted:
    numbers     int literals (exact sympy Integers) and decimal literals such as 0.1, 1e-3
                (exact sympy Rationals of the decimal written: 0.1 is 1/10, not the binary
                double nearest to it; the verifier then evaluates in floats or at 50 digits);
    names       the domain's parameters, as plain sympy Symbols (they shadow everything: a
                parameter called beta, gamma, E, S, N, I, O or Q is a symbol, never sympy's
                function or constant); otherwise a constant of CONSTANTS;
    operators   + - * / ** (power), // (floor of the quotient), % (sympy Mod), unary - and +;
    calls       f(a, b, ...) with f a plain name in FUNCTIONS, positional arguments only.

Everything else is refused with InvalidClaim quoting the text and the offending construct:
attribute access, subscripts, lambdas, comprehensions, strings and f-strings, keyword and
starred arguments, tuples and lists, `and`/`or`/`not`, conditional expressions, `^` (not a
power in Python), complex literals, and comparisons (the relation is given separately).

Resource limits, so that hostile or mistaken text fails fast instead of hanging: at most
MAX_LENGTH characters and MAX_DEPTH levels of nesting (sums and products of any length are
flat); every exact number built must fit in MAX_NUMBER_BITS bits (numerator and denominator, i.e.
|x| < ~10^331 and no finer than ~10^-331) -- a power such as 10**10**10 is refused *before* sympy
would compute it; a constant (symbol-free) subexpression must evaluate to a finite real of at most
that magnitude (so floor(exp(exp(exp(100)))) is refused rather than computed); the combinatorial
functions (factorial, binomial, gamma, loggamma) take numeric arguments of magnitude at most
MAX_COMBINATORIAL_ARG.
"""

from __future__ import annotations

import ast
import decimal
import math
from types import MappingProxyType
from typing import Iterable, Mapping

import mpmath
import sympy as sp

from theory_kit.errors import InvalidClaim

__all__ = [
    "parse_expression",
    "FUNCTIONS",
    "CONSTANTS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_NUMBER_BITS",
    "MAX_COMBINATORIAL_ARG",
]

#: Longest accepted text, in characters.
MAX_LENGTH = 10_000
#: Deepest accepted nesting of operators and calls (a chain a+b+c+... or a*b*c*... counts once).
MAX_DEPTH = 100
#: Largest exact number, in bits of its numerator and of its denominator.
MAX_NUMBER_BITS = 1100
#: Largest numeric argument of factorial, binomial, gamma and loggamma (sympy computes them exactly).
MAX_COMBINATORIAL_ARG = 1000

_INF = float("inf")
_MAX_MAGNITUDE = sp.Integer(2) ** MAX_NUMBER_BITS
# name -> (sympy callable, min number of arguments, max number of arguments)
_FUNCTION_TABLE = {
    "exp": (sp.exp, 1, 1),
    "log": (sp.log, 1, 2),  # log(x) natural, log(x, b) base b
    "ln": (sp.log, 1, 1),
    "sqrt": (sp.sqrt, 1, 1),
    "cbrt": (sp.cbrt, 1, 1),
    "sin": (sp.sin, 1, 1),
    "cos": (sp.cos, 1, 1),
    "tan": (sp.tan, 1, 1),
    "asin": (sp.asin, 1, 1),
    "acos": (sp.acos, 1, 1),
    "atan": (sp.atan, 1, 1),
    "atan2": (sp.atan2, 2, 2),
    "sinh": (sp.sinh, 1, 1),
    "cosh": (sp.cosh, 1, 1),
    "tanh": (sp.tanh, 1, 1),
    "asinh": (sp.asinh, 1, 1),
    "acosh": (sp.acosh, 1, 1),
    "atanh": (sp.atanh, 1, 1),
    "floor": (sp.floor, 1, 1),
    "ceiling": (sp.ceiling, 1, 1),
    "ceil": (sp.ceiling, 1, 1),
    "Abs": (sp.Abs, 1, 1),
    "abs": (sp.Abs, 1, 1),
    "sign": (sp.sign, 1, 1),
    "Min": (sp.Min, 1, _INF),
    "min": (sp.Min, 1, _INF),
    "Max": (sp.Max, 1, _INF),
    "max": (sp.Max, 1, _INF),
    "factorial": (sp.factorial, 1, 1),
    "binomial": (sp.binomial, 2, 2),
    "gamma": (sp.gamma, 1, 1),
    "loggamma": (sp.loggamma, 1, 1),
    "erf": (sp.erf, 1, 1),
    "erfc": (sp.erfc, 1, 1),
}
_COMBINATORIAL = frozenset({"factorial", "binomial", "gamma", "loggamma"})

#: Functions a bound may call: name -> sympy function (a domain parameter of the same name wins).
FUNCTIONS: Mapping[str, object] = MappingProxyType({k: v[0] for k, v in _FUNCTION_TABLE.items()})
#: Constants a bound may name: name -> sympy value (a domain parameter of the same name wins).
CONSTANTS: Mapping[str, sp.Expr] = MappingProxyType({"pi": sp.pi, "E": sp.E, "oo": sp.oo})

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//", ast.Mod: "%"}
_REFUSED_BINOPS = {
    ast.BitXor: "'^' is bitwise xor in Python, not a power: write a**b",
    ast.BitOr: "'|' (bitwise or) is not supported",
    ast.BitAnd: "'&' (bitwise and) is not supported",
    ast.LShift: "'<<' (shift) is not supported",
    ast.RShift: "'>>' (shift) is not supported",
    ast.MatMult: "'@' (matrix product) is not supported",
}
_NODE_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.IfExp: "conditional expression (if/else)",
    ast.BoolOp: "'and'/'or'",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.Tuple: "tuple",
    ast.List: "list",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.Starred: "starred argument",
    ast.NamedExpr: "':=' assignment",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slice",
}


class _Refused(Exception):
    """Internal: the text uses something the parser does not accept (message, node)."""

    def __init__(self, message: str, node: ast.AST | None = None):
        super().__init__(message)
        self.node = node


def _quote(text: str, limit: int = 200) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def _bits(r: sp.Rational) -> int:
    return max(abs(int(r.p)).bit_length(), int(r.q).bit_length())


def _power_size(base: sp.Expr) -> float:
    """log2 of the numbers sympy multiplies out when `base` is raised to a numeric power."""
    if base.is_Rational:
        return 0.0 if base in (0, 1, -1) else max(math.log2(abs(int(base.p))), math.log2(int(base.q)))
    if base.is_Mul:
        return sum(_power_size(a) for a in base.args)
    if base.is_Pow and base.exp.is_Rational:
        return _power_size(base.base) * abs(float(base.exp))
    return 0.0  # sums, symbols, functions: sympy leaves their powers unexpanded


class _Builder:
    def __init__(self, text: str, symbols: Mapping[str, sp.Symbol]):
        self.text = text
        self.symbols = symbols

    def segment(self, node: ast.AST) -> str:
        seg = ast.get_source_segment(self.text, node) if hasattr(node, "lineno") else None
        return seg if seg is not None else type(node).__name__

    # -- checks on every built value -------------------------------------------------------
    def checked(self, value, node: ast.AST) -> sp.Expr:
        if not isinstance(value, sp.Expr):
            raise _Refused(f"{self.segment(node)!r} is a {type(value).__name__}, not an expression", node)
        if value.has(sp.zoo):
            raise _Refused(f"{self.segment(node)!r} is complex infinity (zoo: a pole, such as 1/0 or log(0))", node)
        if value.has(sp.nan):
            raise _Refused(f"{self.segment(node)!r} is undefined (nan)", node)
        if value.free_symbols:
            big = [r for r in value.atoms(sp.Rational) if _bits(r) > MAX_NUMBER_BITS]
            if big:
                raise _Refused(f"{self.segment(node)!r} holds a number of {_bits(big[0])} bits; at most {MAX_NUMBER_BITS} are supported", node)
            return value
        return self.checked_constant(value, node)

    def checked_constant(self, value: sp.Expr, node: ast.AST) -> sp.Expr:
        if value.is_Rational:
            if _bits(value) > MAX_NUMBER_BITS:
                raise _Refused(f"{self.segment(node)!r} is a number of {_bits(value)} bits; at most {MAX_NUMBER_BITS} are supported", node)
            return value
        if value in (sp.oo, -sp.oo):
            return value
        big = [r for r in value.atoms(sp.Rational) if _bits(r) > MAX_NUMBER_BITS]
        if big:
            raise _Refused(f"{self.segment(node)!r} holds a number of {_bits(big[0])} bits; at most {MAX_NUMBER_BITS} are supported", node)
        try:
            approx = value.evalf(15)
            re, im = approx.as_real_imag()
        except Exception as exc:  # sympy's numeric evaluation can fail in many ways
            raise _Refused(f"{self.segment(node)!r} cannot be evaluated: {type(exc).__name__}: {exc}", node) from exc
        if not (re.is_Number and im.is_Number):
            raise _Refused(f"{self.segment(node)!r} does not evaluate to a number", node)
        if im != 0 and abs(im) > 1e-12 * max(1, abs(re)):
            raise _Refused(f"{self.segment(node)!r} is not real (about {approx})", node)
        if not re.is_finite or abs(re) > _MAX_MAGNITUDE:
            about = mpmath.nstr(mpmath.mpf(re._mpf_), 3) if re.is_Float else str(re)
            raise _Refused(f"{self.segment(node)!r} is about {about}, beyond the supported magnitude 2^{MAX_NUMBER_BITS}", node)
        return value

    # -- nodes -----------------------------------------------------------------------------
    def build(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", node)
        if isinstance(node, ast.Expression):
            return self.build(node.body, depth)
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, (ast.USub, ast.UAdd)):
                operand = self.build(node.operand, depth + 1)
                return self.checked(-operand if isinstance(node.op, ast.USub) else operand, node)
            what = "'not'" if isinstance(node.op, ast.Not) else "'~' (bitwise not)"
            raise _Refused(f"{what} is not supported: {self.segment(node)!r}", node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Compare):
            if depth == 0:
                raise _Refused("comparison", node)
            raise _Refused(f"comparison {self.segment(node)!r} is not allowed inside an expression", node)
        what = _NODE_NAMES.get(type(node), type(node).__name__)
        raise _Refused(f"{what} is not allowed: {self.segment(node)!r}", node)

    def binop(self, node: ast.BinOp, depth: int) -> sp.Expr:
        refused = _REFUSED_BINOPS.get(type(node.op))
        if refused:
            raise _Refused(f"{refused}: {self.segment(node)!r}", node)
        # flatten left-leaning chains a+b-c+... and a*b/c*... so that their length is no depth
        kind = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div) if isinstance(node.op, (ast.Mult, ast.Div)) else None
        if kind is None:
            left = self.build(node.left, depth + 1)
            right = self.build(node.right, depth + 1)
            if isinstance(node.op, ast.Pow):
                return self.checked(self.power(left, right, node), node)
            try:
                if isinstance(node.op, ast.FloorDiv):
                    value = sp.floor(left / right)
                else:
                    value = sp.Mod(left, right)
            except Exception as exc:
                raise _Refused(f"{self.segment(node)!r} cannot be built: {type(exc).__name__}: {exc}", node) from exc
            return self.checked(value, node)
        ops, cur = [], node
        while isinstance(cur, ast.BinOp) and isinstance(cur.op, kind):
            ops.append((cur.op, cur.right))
            cur = cur.left
        terms = [self.build(cur, depth + 1)]
        for op, operand in reversed(ops):
            v = self.build(operand, depth + 1)
            if isinstance(op, ast.Sub):
                v = -v
            elif isinstance(op, ast.Div):
                if v == 0:
                    raise _Refused(f"division by zero in {self.segment(node)!r}", node)
                v = sp.Pow(v, -1)
            terms.append(v)
        try:
            value = sp.Add(*terms) if kind[0] is ast.Add else sp.Mul(*terms)
        except Exception as exc:
            raise _Refused(f"{self.segment(node)!r} cannot be built: {type(exc).__name__}: {exc}", node) from exc
        return self.checked(value, node)

    def power(self, base: sp.Expr, exp: sp.Expr, node: ast.AST) -> sp.Expr:
        if exp.is_Rational:
            unit = _power_size(base)
            size = unit * float(min(abs(exp), 10**30)) if unit else 0.0
            if size > MAX_NUMBER_BITS:
                raise _Refused(f"{self.segment(node)!r} would make sympy compute a number of about {size:.3g} bits; "
                               f"at most {MAX_NUMBER_BITS} are supported", node)
        if base == 0 and exp.is_extended_negative:
            raise _Refused(f"division by zero in {self.segment(node)!r}", node)
        try:
            return sp.Pow(base, exp)
        except Exception as exc:
            raise _Refused(f"{self.segment(node)!r} cannot be built: {type(exc).__name__}: {exc}", node) from exc

    def constant(self, node: ast.Constant) -> sp.Expr:
        v = node.value
        if isinstance(v, bool) or v is None or v is Ellipsis:
            raise _Refused(f"{v!r} is not a number", node)
        if isinstance(v, int):
            return self.checked_constant(sp.Integer(v), node)
        if isinstance(v, float):
            seg = self.segment(node)
            try:
                d = decimal.Decimal(seg)
            except (decimal.InvalidOperation, ValueError) as exc:
                raise _Refused(f"{seg!r} is not a decimal number", node) from exc
            if not d.is_finite() or abs(d.adjusted()) > 400:
                raise _Refused(f"number {seg!r} is out of range (at most about 10^330 in magnitude)", node)
            num, den = d.as_integer_ratio()
            return self.checked_constant(sp.Rational(num, den), node)
        if isinstance(v, complex):
            raise _Refused(f"complex number {self.segment(node)!r} is not allowed (a bound is real)", node)
        if isinstance(v, (str, bytes)):
            raise _Refused(f"string {self.segment(node)!r} is not allowed", node)
        raise _Refused(f"{self.segment(node)!r} is not allowed", node)

    def name(self, node: ast.Name) -> sp.Expr:
        n = node.id
        if n in self.symbols:
            return self.symbols[n]
        if n in CONSTANTS:
            return CONSTANTS[n]
        if n in FUNCTIONS:
            raise _Refused(f"{n!r} is a function: call it, e.g. {n}(x)", node)
        domain = ", ".join(map(repr, self.symbols)) or "nothing"
        raise _Refused(f"name {n!r} is not a domain parameter (the domain has {domain}) nor a constant ({', '.join(CONSTANTS)})", node)

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        func = node.func
        if not isinstance(func, ast.Name):
            what = _NODE_NAMES.get(type(func), "an expression")
            raise _Refused(f"only calls of plain function names are allowed, not of {what}: {self.segment(node)!r}", node)
        name = func.id
        if name in self.symbols:
            raise _Refused(f"{name!r} is a domain parameter, not a function: {self.segment(node)!r}", node)
        if name not in _FUNCTION_TABLE:
            raise _Refused(f"unknown function {name!r} in {self.segment(node)!r}; allowed: {', '.join(_FUNCTION_TABLE)}", node)
        if node.keywords:
            raise _Refused(f"keyword arguments are not allowed: {self.segment(node)!r}", node)
        starred = [a for a in node.args if isinstance(a, ast.Starred)]
        if starred:
            raise _Refused(f"starred arguments are not allowed: {self.segment(node)!r}", node)
        fn, lo, hi = _FUNCTION_TABLE[name]
        if not lo <= len(node.args) <= hi:
            count = str(lo) if lo == hi else (f"at least {lo}" if hi == _INF else f"{lo} to {hi}")
            raise _Refused(f"{name} takes {count} argument(s), got {len(node.args)}: {self.segment(node)!r}", node)
        args = [self.build(a, depth + 1) for a in node.args]
        if name in _COMBINATORIAL:
            big = [a for a in args if a.is_number and (a.is_infinite or not (abs(a) <= MAX_COMBINATORIAL_ARG))]
            if big:
                raise _Refused(f"{name} of a number beyond {MAX_COMBINATORIAL_ARG} in magnitude is not supported: {self.segment(node)!r}", node)
        try:
            value = fn(*args)
        except Exception as exc:  # e.g. Max of incomparable arguments
            raise _Refused(f"{self.segment(node)!r} cannot be built: {type(exc).__name__}: {exc}", node) from exc
        return self.checked(value, node)


def _symbol_table(names) -> dict[str, sp.Symbol]:
    if names is None:
        return {}
    if isinstance(names, Mapping):
        table = {}
        for k, v in names.items():
            if not isinstance(k, str) or not isinstance(v, sp.Symbol):
                raise InvalidClaim(f"names must map parameter names to sympy Symbols, got {k!r}: {v!r}")
            table[k] = v
        return table
    if isinstance(names, str):
        raise InvalidClaim(f"names must be an iterable of parameter names, not the string {names!r}")
    table = {}
    for k in names:
        if not isinstance(k, str):
            raise InvalidClaim(f"parameter names must be strings, got {k!r}")
        table[k] = sp.Symbol(k)
    return table


def parse_expression(text: str, names: Iterable[str] | Mapping[str, sp.Symbol] | None = (), *,
                     source: str = "expression") -> sp.Expr:
    """Parse bound text into a sympy expression without evaluating it as Python.

    Args:
        text: the expression, e.g. "1/(1 + (n-1)*exp(-beta*Delta))".
        names: the parameters the text may use: an iterable of names (each becomes the plain
            sympy Symbol of that name) or a mapping name -> Symbol (to keep assumptions).
            Parameters shadow FUNCTIONS and CONSTANTS of the same name.
        source: how error messages name the text (e.g. "--bound" or "bound").

    Returns:
        The sympy expression (exact: ints are Integers, decimal literals Rationals).

    Raises:
        InvalidClaim: quoting the text and the offending construct, for text that does not
            parse, uses anything outside the whitelist (module docstring), is a comparison,
            is too long or too deeply nested, or builds numbers beyond the supported size.
            Its `.text` is the text and `.reason` the message without the quoted text.
    """
    symbols = _symbol_table(names)
    if not isinstance(text, str):
        raise InvalidClaim(f"{source} must be a string, got {type(text).__name__} {text!r}")
    if len(text) > MAX_LENGTH:
        raise _error(source, text, f"is too long: {len(text)} characters, at most {MAX_LENGTH}", quote_limit=60)
    stripped = text.strip()
    if not stripped:
        raise _error(source, text, "is empty")
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        where = f" (at character {exc.offset})" if exc.offset else ""
        raise _error(source, text, f"does not parse: {exc.msg}{where}") from None
    except (RecursionError, MemoryError):
        raise _error(source, text, "does not parse: too deeply nested, or too long a chain of operators, "
                                   "for Python's parser") from None
    except ValueError as exc:  # e.g. a null byte
        raise _error(source, text, f"does not parse: {exc}") from None
    builder = _Builder(stripped, symbols)
    try:
        return builder.build(tree, 0)
    except _Refused as exc:
        if str(exc) == "comparison":
            hint = "--relation" if source.startswith("--") else "the claim's relation argument"
            raise _error(source, text, f"is a comparison, not an expression (write the relation with {hint})") from None
        raise _error(source, text, str(exc), sep=": ") from None
    except RecursionError:
        raise _error(source, text, "is nested too deeply") from None
    except Exception as exc:  # sympy raises many types while building; the text is to blame
        raise _error(source, text, f"cannot be built: {type(exc).__name__}: {exc}") from exc


def _error(source: str, text: str, reason: str, *, sep: str = " ", quote_limit: int = 200) -> InvalidClaim:
    """InvalidClaim "<source> '<text>' <reason>", with .text and .reason attached."""
    exc = InvalidClaim(f"{source} {_quote(text, quote_limit)}{sep}{reason}")
    exc.text = text
    exc.reason = reason
    return exc
