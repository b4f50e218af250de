"""Result types of the checker; ``to_dict`` gives exactly the JSON keys of the public format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("proved", "numerical", "refuted", "error", "timeout")
JSON_CLAIM_KEYS = ("name", "verdict", "expect", "agrees", "method", "counterexample", "lhs_value", "rhs_value",
                   "correct", "seconds", "message", "diagnosis")


def agrees(verdict: str, expect: str, strict: bool = False) -> bool:
    """proved/numerical agree with "holds" (only proved when ``strict``), refuted with "fails"; errors and
    timeouts never agree."""
    holds = ("proved",) if strict else ("proved", "numerical")
    return (verdict in holds and expect == "holds") or (verdict == "refuted" and expect == "fails")


@dataclass
class ClaimResult:
    """The verdict on one claim (the ``*_tex`` fields and ``counterexample_names`` feed the terminal table and the
    Markdown report and are not in the JSON)."""

    name: str
    verdict: str
    expect: str = "holds"
    method: str = ""
    counterexample: dict[str, float] | None = None
    lhs_value: Any = None
    rhs_value: Any = None
    correct: str | None = None
    seconds: float = 0.0
    message: str = ""
    #: the named mistake of a refuted claim, verified: {"kind", "text", "repaired"} (kind from
    #: :data:`autograd_viz.check.diagnose.KINDS`), else None
    diagnosis: dict[str, str] | None = None
    lhs_tex: str | None = field(default=None, repr=False)
    rhs_tex: str | None = field(default=None, repr=False)
    relation: str = field(default="==", repr=False)
    correct_tex: str | None = field(default=None, repr=False)
    strict: bool = field(default=False, repr=False)  # numerical does not count as agreeing with "holds"
    #: counterexample key -> the name the student writes, for the matrix entries only ({"W_0_0": "W[0, 0]"});
    #: made where the entry symbols are known (the model), since a scalar may itself be called ``w_1_2``
    counterexample_names: dict[str, str] | None = field(default=None, repr=False)

    def readable_counterexample(self) -> dict[str, float]:
        """The counterexample keyed by the names the student writes (``W[0, 0]``; other names as they are)."""
        names = self.counterexample_names or {}
        return {names.get(k, k): v for k, v in (self.counterexample or {}).items()}

    @property
    def agrees(self) -> bool:
        return agrees(self.verdict, self.expect, self.strict)

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in JSON_CLAIM_KEYS}


@dataclass
class FileResult:
    """The verdicts for one derivation file; ``unreadable`` marks a file that could not be read at all."""

    file: str
    title: str | None
    claims: list[ClaimResult]
    unreadable: bool = field(default=False, repr=False)
    source: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "title": self.title, "claims": [c.to_dict() for c in self.claims]}


@dataclass
class CheckReport:
    """The verdicts for several files; ``exit_code`` is the CLI's: 0 all agree, 1 some disagree, 2 unreadable."""

    files: list[FileResult]
    strict: bool = False

    @property
    def numerical(self) -> int:
        """How many verdicts are only numerical (held on the search, not proved)."""
        return sum(c.verdict == "numerical" for f in self.files for c in f.claims)

    @property
    def exit_code(self) -> int:
        if any(f.unreadable for f in self.files):
            return 2
        return 0 if all(c.agrees for f in self.files for c in f.claims) else 1

    def to_dict(self) -> dict[str, Any]:
        claims = [c for f in self.files for c in f.claims]
        agreeing = sum(c.agrees for c in claims)
        return {"files": [f.to_dict() for f in self.files],
                "summary": {"claims": len(claims), "agree": agreeing, "disagree": len(claims) - agreeing,
                            "proved": sum(c.verdict == "proved" for c in claims), "numerical": self.numerical,
                            "strict": self.strict}}
