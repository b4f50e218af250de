r"""A small, strict LaTeX reader for the notation of the lecture notes (printing is in texprint.py).

``read`` turns LaTeX into the checker's formula syntax. Anything it cannot read with certainty is an error
naming the token and its column, never a guess: ``\hat{y}`` is the name ``yhat`` (never ``hat*y``), a run of
letters is one declared name or a product of declared one-letter names (both at once is ambiguous), and
juxtaposed matrices multiply with ``@``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from autograd_viz.errors import ExpressionError
from autograd_viz.ops import EXPR_FUNCTIONS

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "pi", "rho", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
         "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Phi", "Psi", "Omega", "sigma", "Sigma"}
ACCENTS = {"hat": "hat", "bar": "bar", "tilde": "tilde", "dot": "dot"}


def _op_macros() -> dict[str, str]:
    """LaTeX macros that the op table prints as a function head (``\\tanh\\left(``, ``\\ln\\left(``) -> op name."""
    out = {}
    for name, op in EXPR_FUNCTIONS.items():
        m = re.match(r"\\([A-Za-z]+)\\left\(", op.latex)
        if m and m.group(1) != "sigma":  # \sigma is the sigmoid only when applied (handled by the reader)
            out[m.group(1)] = name
    return out


#: Function macros: the op table's, plus the standard \exp and \log and the checker's \max and \min.
FUNCS = {**_op_macros(), "exp": "exp", "log": "log", "max": "max", "min": "min", "det": "det"}
#: \operatorname{...} names: every op-table function, ReLU spelled as in papers, and the checker's E, Var, sum.
NAMED = {**{name: name for name in EXPR_FUNCTIONS}, "ReLU": "relu", "Var": "Var", "E": "E", "sum": "sum",
         "tr": "trace", "trace": "trace", "diag": "diag", "logdet": "logdet", "det": "det"}
#: the indicator \mathbb{1}(z > 0) is read as step(z)
CONSTANT_NAMES = ("pi", "e")
MUL = {"cdot": "*", "times": "*", "odot": "*"}
SPACES = {",", ";", "!", " ", ":", "quad", "qquad"}
SIZING = {"left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr"}

_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([A-Za-z]+)|(\d+(?:\.\d+)?)|(\s+)|(.)", re.S)


@dataclass
class Tok:
    kind: str  # "macro", "word", "num", "sym"
    text: str
    col: int


def _tokens(text: str) -> list[Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        macro, word, num, space, sym = m.groups()
        col = m.start() + 1
        if space:
            continue
        if macro is not None:
            if macro in SPACES:
                continue
            out.append(Tok("macro", macro, col))
        elif word:
            out.append(Tok("word", word, col))
        elif num:
            out.append(Tok("num", num, col))
        else:
            out.append(Tok("sym", sym, col))
    return out


class _Reader:
    def __init__(self, text: str, names: set[str], random: Iterable[str] | None, matrices: set[str], what: str) -> None:
        self.toks = [t for t in _tokens(text) if not (t.kind == "macro" and t.text in SIZING)]
        self.k = 0
        self.names = set(names)
        self.random = set(random or ())
        self.matrices = set(matrices)
        self.bound: set[str] = set()
        self.what = what

    # --- helpers ---------------------------------------------------------------------------------------
    def error(self, msg: str, tok: Tok | None = None) -> ExpressionError:
        tok = tok or self.peek()
        shown = "\\" + tok.text if tok and tok.kind == "macro" else tok.text if tok else ""
        where = f"at column {tok.col} (token {shown!r})" if tok else "at the end"
        return ExpressionError(f"{self.what}: {msg} {where}")

    def peek(self, ahead: int = 0) -> Tok | None:
        k = self.k + ahead
        return self.toks[k] if k < len(self.toks) else None

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end")
        self.k += 1
        return tok

    def is_(self, kind: str, text: str | None = None, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok is not None and tok.kind == kind and (text is None or tok.text == text)

    def expect(self, kind: str, text: str) -> Tok:
        if not self.is_(kind, text):
            raise self.error(f"expected {text!r}")
        return self.next()

    def group(self) -> tuple[str, bool]:
        """``{...}`` or a single token argument (``x^2``)."""
        if self.is_("sym", "{"):
            self.next()
            out = self.expr()
            self.expect("sym", "}")
            return out
        return self.primary()

    def raw_group(self) -> str:
        """The text of ``{letters digits}`` (for subscripts and accents)."""
        if not self.is_("sym", "{"):
            tok = self.next()
            if tok.kind not in ("word", "num"):
                raise self.error("expected a name or number", tok)
            return tok.text
        self.next()
        parts = []
        while not self.is_("sym", "}"):
            tok = self.next()
            if tok.kind not in ("word", "num") and not (tok.kind == "sym" and tok.text == ","):
                raise self.error("only letters and digits can be read here", tok)
            parts.append(tok.text)
        self.next()
        return "".join(parts).replace(",", "")

    # --- grammar ---------------------------------------------------------------------------------------
    def read(self) -> str:
        text, _ = self.expr()
        if self.peek() is not None:
            raise self.error("cannot read")
        return text

    def expr(self) -> tuple[str, bool]:
        sign = ""
        if self.is_("sym", "-") or self.is_("sym", "+"):
            sign = "-" if self.next().text == "-" else ""
        text, mat = self.term()
        text = f"(-{text})" if sign else text
        while self.is_("sym", "+") or self.is_("sym", "-"):
            op = self.next().text
            right, rmat = self.term()
            text, mat = f"{text} {op} {right}", mat or rmat
        return text, mat

    def _starts_factor(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        if tok.kind in ("word", "num"):
            return True
        if tok.kind == "sym":
            return tok.text in ("(", "[", "{")
        return tok.text not in MUL and tok.text not in ("right", "top")

    def term(self) -> tuple[str, bool]:
        text, mat = self.factor()
        while True:
            if self.is_("sym", "*") or self.is_("macro") and cast(Tok, self.peek()).text in MUL:
                self.next()
                right, rmat = self.factor()
                text, mat = f"{text} * {right}", mat or rmat
            elif self.is_("sym", "/"):
                self.next()
                right, rmat = self.factor()
                text, mat = f"{text} / {right}", mat or rmat
            elif self._starts_factor():
                right, rmat = self.factor()
                op = "@" if mat and rmat else "*"
                text, mat = f"{text} {op} {right}", mat or rmat
            else:
                return text, mat

    def factor(self) -> tuple[str, bool]:
        text, mat = self.primary()
        while self.is_("sym", "^"):
            tok = self.next()
            if self.is_("word", "T") or self.is_("macro", "top") or (
                    self.is_("sym", "{") and (self.is_("word", "T", 1) or self.is_("macro", "top", 1))
                    and self.is_("sym", "}", 2)):
                braced = self.is_("sym", "{")
                self.k += 3 if braced else 1
                if "T" in self.names:
                    raise self.error("^T is ambiguous: T is also a declared name", tok)
                text = f"({text}).T"
                continue
            power, pmat = self.group()
            if pmat:
                raise self.error("a matrix exponent cannot be read", tok)
            if mat and power.replace(" ", "") in ("-1", "(-1)"):  # X^{-1} of a matrix is its inverse
                text = f"inv({text})"
                continue
            text = f"({text})**({power})"
        return text, mat

    def primary(self) -> tuple[str, bool]:
        tok = self.next()
        if tok.kind == "num":
            return tok.text, False
        if tok.kind == "sym":
            closing = {"(": ")", "[": "]", "{": "}", "|": "|"}.get(tok.text)
            if closing is None:
                raise self.error("cannot read", tok)
            inner, mat = self.expr()
            self.expect("sym", closing)
            return (f"abs({inner})", mat) if tok.text == "|" else (f"({inner})", mat)
        if tok.kind == "word":
            return self.word(tok)
        return self.macro(tok)

    def _call_arg(self, tok: Tok) -> tuple[str, bool]:
        if not (self.is_("sym", "(") or self.is_("sym", "[") or self.is_("sym", "{")):
            raise self.error(f"\\{tok.text} needs a bracketed argument", tok)
        return self.primary()

    def macro(self, tok: Tok) -> tuple[str, bool]:
        m = tok.text
        if m == "frac":
            return self.frac(tok)
        if m in ACCENTS:
            inner = self.raw_group()
            return self.name(f"{inner}{ACCENTS[m]}", tok)
        if m == "sqrt":
            if self.is_("sym", "["):
                raise self.error("only square roots can be read", tok)
            inner, mat = self.group()
            return f"sqrt({inner})", mat
        if m in FUNCS or m == "sigma" and self.is_("sym", "(") and "sigma" not in self.names:
            f = FUNCS.get(m, "sigmoid")
            if m == "log" and self.is_("macro", "det"):  # \log\det(X)
                self.next()
                f = "logdet"
            if m in ("max", "min"):
                self.expect("sym", "(")
                a, _ = self.expr()
                self.expect("sym", ",")
                b, _ = self.expr()
                self.expect("sym", ")")
                return f"{f}({a}, {b})", False
            arg, mat = self._call_arg(tok)
            return f"{f}({arg})", mat
        if m in ("operatorname", "mathrm", "text", "mathbb", "mathbf", "mathcal"):
            inner = self.raw_group()
            if m == "mathbb" and inner == "1":  # the indicator 1(z > 0): step(z)
                return self._indicator(tok)
            if m == "mathbb" and inner == "E" or inner in NAMED:
                f = "E" if m == "mathbb" else NAMED[inner]
                arg, mat = self._call_arg(tok)
                return f"{f}({arg})", mat if f not in ("E", "Var", "sum") else False
            return self.name(inner, tok)
        if m == "sum":
            return self.sum(tok)
        if m in GREEK:
            if m == "sigma" and "sigma" not in self.names:
                raise self.error("\\sigma is read as the sigmoid only when applied: \\sigma(z)", tok)
            return self.word(Tok("word", m, tok.col), greek=True)
        if m in ("lvert", "vert"):
            inner, mat = self.expr()
            if not (self.is_("macro", "rvert") or self.is_("macro", "vert") or self.is_("sym", "|")):
                raise self.error("expected \\rvert")
            self.next()
            return f"abs({inner})", mat
        raise self.error(f"unknown or unsupported macro \\{m}", tok)

    def frac(self, tok: Tok) -> tuple[str, bool]:
        if not self.is_("sym", "{"):
            raise self.error("\\frac needs {numerator}{denominator}", tok)
        if self._is_differential(1):
            return self.derivative(tok)
        num, nmat = self.group()
        den, dmat = self.group()
        return f"({num}) / ({den})", nmat or dmat

    def _is_differential(self, ahead: int) -> bool:
        if self.is_("macro", "partial", ahead):
            return True
        if self.is_("macro", "mathrm", ahead) and self.is_("sym", "{", ahead + 1) and self.is_("word", "d", ahead + 2):
            return True
        tok = self.peek(ahead)
        return tok is not None and tok.kind == "word" and tok.text.startswith("d") and "d" not in self.names \
            and tok.text not in self.names

    def _differential(self) -> None:
        tok = self.next()
        if tok.kind == "macro" and tok.text == "mathrm":
            self.expect("sym", "{")
            self.expect("word", "d")
            self.expect("sym", "}")
        elif tok.kind == "word" and tok.text != "d":  # dL: split the d off
            self.k -= 1
            self.toks[self.k] = Tok("word", tok.text[1:], tok.col + 1)
        elif not (tok.kind == "macro" and tok.text == "partial" or tok.kind == "word"):
            raise self.error("expected \\partial", tok)

    def derivative(self, tok: Tok) -> tuple[str, bool]:
        self.expect("sym", "{")
        self._differential()
        order = "1"
        if self.is_("sym", "^"):
            self.next()
            order = self.raw_group()
        body = None
        if not self.is_("sym", "}"):
            body, _ = self.expr()
        self.expect("sym", "}")
        self.expect("sym", "{")
        self._differential()
        var_tok = self.peek()
        var, vmat = self.primary()
        if not re.fullmatch(r"\(?[A-Za-z_][A-Za-z0-9_]*\)?", var):
            raise self.error("the variable of a derivative must be a name", var_tok)
        var = var.strip("()")
        if self.is_("sym", "^"):
            self.next()
            if self.raw_group() != order:
                raise self.error("the orders of the derivative differ", var_tok)
        self.expect("sym", "}")
        if body is None:
            body, _ = self.factor()
        f = "grad" if vmat else "diff"
        return (f"{f}({body}, {var})" if order == "1" else f"diff({body}, {var}, {order})"), vmat

    def sum(self, tok: Tok) -> tuple[str, bool]:
        if not self.is_("sym", "_"):
            raise self.error("\\sum needs limits _{i=a}^{b}", tok)
        self.next()
        self.expect("sym", "{")
        index = self.next()
        if index.kind != "word" or len(index.text) != 1:
            raise self.error("the index of a sum must be one letter", index)
        self.expect("sym", "=")
        lo, _ = self.expr()
        self.expect("sym", "}")
        self.expect("sym", "^")
        hi, _ = self.group()
        self.bound.add(index.text)
        try:
            body, mat = self.term()
        finally:
            self.bound.discard(index.text)
        return f"Sum({body}, ({index.text}, {lo}, {hi}))", mat

    def word(self, tok: Tok, greek: bool = False) -> tuple[str, bool]:
        text = tok.text
        if text == "e" and self.is_("sym", "^") and "e" not in self.names:
            self.next()
            power, _ = self.group()
            return f"exp({power})", False
        if self.is_("sym", "_"):
            self.next()
            sub_tok = self.peek()
            sub = self.raw_group()
            return self.subscripted(text, sub, sub_tok)
        if greek or text in self.names or text in self.bound or len(text) == 1:
            return self.name(text, tok)
        letters = list(text)
        if all(c in self.names or c in self.bound for c in letters):
            return " * ".join(letters), any(c in self.matrices for c in letters)
        raise self.error(f"{text!r} is neither a declared name nor a product of declared one-letter names", tok)

    def subscripted(self, base: str, sub: str, tok: Tok | None) -> tuple[str, bool]:
        candidates = [c for c in (f"{base}_{sub}", f"{base}{sub}") if c in self.names]
        if base in self.random and (sub in self.bound or sub.isdigit()):
            candidates.append(f"{base}[{sub}]")
        if len(set(candidates)) != 1:
            what = "ambiguous" if candidates else "not a declared name or an indexed random variable"
            raise self.error(f"{base}_{{{sub}}} is {what}", tok)
        name = candidates[0]
        return name, name in self.matrices

    def _indicator(self, tok: Tok) -> tuple[str, bool]:
        """``\\mathbb{1}(z > 0)`` or ``\\mathbb{1}_{z > 0}``: the step function of z."""
        close = {"(": ")", "[": "]", "{": "}"}
        if self.is_("sym", "_"):
            self.next()
        opener = self.next()
        if opener.text not in close:
            raise self.error("\\mathbb{1} needs its condition in brackets: \\mathbb{1}(z > 0)", tok)
        inner, mat = self.expr()
        if not self.is_("sym", ">"):
            raise self.error("\\mathbb{1}(...) is read only as the indicator of a comparison with 0: (z > 0)", tok)
        self.next()
        zero = self.next()
        if zero.text != "0":
            raise self.error("\\mathbb{1}(...) is read only as the indicator of a comparison with 0: (z > 0)", tok)
        self.expect("sym", close[opener.text])
        return f"step({inner})", mat

    def name(self, text: str, tok: Tok) -> tuple[str, bool]:
        if text in CONSTANT_NAMES and text not in self.names and text not in self.bound:
            return text, False
        if text in self.names or text in self.bound:
            if len(text) > 1 and all(c in self.names for c in text) and tok.kind == "word":
                raise self.error(f"{text!r} is ambiguous: a declared name and a product of declared names", tok)
            return text, text in self.matrices
        raise self.error(f"{text!r} is not declared", tok)


def read(text: str | None, names: set[str], random: Iterable[str] | None = (), what: str = "latex",
         matrices: set[str] | None = None) -> str:
    """Translate LaTeX to the formula syntax, or raise :class:`ExpressionError` naming the unreadable token."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"{what}: empty")
    return _Reader(text, names, random, matrices or set(), what).read()
