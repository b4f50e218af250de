"""Mutation corpus for the named mistake (issue 12): take the correct ``==`` claims of the built-in set and the
mistakes fixtures, apply one mutation of each kind that fits the claim's rhs, keep the mutants the checker
refutes, and count how often the diagnosis names the mutation's kind, another kind, or nothing.

    python benchmarks/bench_diagnosis.py            # prints the table and the figures for BENCHMARKS.md
    python benchmarks/bench_diagnosis.py --kind missing-term --show   # one kind (or "two"); print every mutant

A two-edit mutant (``transpose+factor``: a transpose dropped and the result doubled) must be named by its first
kind. A mutant whose edit is equivalent to another kind's (dropping the factor 2 is a factor, not a chain factor) is
counted under the kind of the edit that was made, so an equivalent diagnosis counts as "wrong" here: the figure
is conservative.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograd_viz.check.runner import run_claims  # noqa: E402
from autograd_viz.check.spec import load_spec  # noqa: E402


def _factors(n: ast.AST) -> list[ast.AST]:
    if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
        return _factors(n.left) + _factors(n.right)
    return [n]


def _product(fs: list[ast.AST]) -> ast.expr:
    out = fs[0]
    for f in fs[1:]:
        out = ast.BinOp(left=out, op=ast.Mult(), right=f)
    return out


def mutants(rhs: str, matrices: set[str], sizes: list[str], scalars: set[str] = frozenset()
            ) -> list[tuple[str, str]]:
    """(kind, mutated rhs) for each mutation kind that applies to ``rhs``."""
    tree = ast.parse(rhs, mode="eval").body
    out: list[tuple[str, str]] = [("sign", f"-({rhs})"), ("factor", f"2*({rhs})")]
    if sizes:
        out.append(("factor", f"({rhs})*{sizes[0]}"))
    nodes = list(ast.walk(tree))
    for n in nodes:
        if isinstance(n, ast.Attribute) and n.attr == "T":
            t = copy.deepcopy(tree) if n is not tree else copy.deepcopy(tree.value)  # a .T on the whole rhs
            for m in ast.walk(t) if n is not tree else ():
                for field, v in ast.iter_fields(m):
                    if isinstance(v, ast.Attribute) and v.attr == "T" and ast.dump(v) == ast.dump(n):
                        setattr(m, field, v.value)
                        break
            out.append(("transpose", ast.unparse(t)))
            out.append(("transpose+factor", f"2*({ast.unparse(t)})"))  # two mistakes: the kind is the first
            if sizes:
                out.append(("transpose+factor", f"({ast.unparse(t)})*{sizes[0]}"))
            break
    for n in nodes:
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult):
            n2 = copy.deepcopy(tree)
            for m in ast.walk(n2):
                if isinstance(m, ast.BinOp) and isinstance(m.op, ast.MatMult) and ast.dump(m) == ast.dump(n):
                    m.left, m.right = m.right, m.left
                    break
            out.append(("operand-order", ast.unparse(n2)))
            out.append(("operand-order+sign", f"-({ast.unparse(n2)})"))
            break
    for n in nodes:
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and isinstance(n.right, ast.Constant):
            t = copy.deepcopy(tree)
            for m in ast.walk(t):
                if isinstance(m, ast.BinOp) and isinstance(m.op, ast.Pow) and ast.dump(m) == ast.dump(n):
                    m.right = ast.Constant(m.right.value + 1)
                    break
            out.append(("exponent", ast.unparse(t)))
            break
    fs = _factors(tree)
    for k, f in enumerate(fs):  # X*(1 - X) -> X: the derivative written as the function
        if isinstance(f, ast.BinOp) and isinstance(f.op, ast.Sub) and isinstance(f.left, ast.Constant) \
                and f.left.value == 1 and any(ast.dump(g) == ast.dump(f.right) for g in fs):
            out.append(("function-for-derivative", ast.unparse(_product([g for j, g in enumerate(fs) if j != k]))))
            break
    names = [f for f in fs if isinstance(f, ast.Name) and f.id not in sizes]
    if len(fs) >= 2 and names:  # a local-derivative factor left out
        out.append(("chain-factor", ast.unparse(_product([g for g in fs if g is not names[-1]]))))
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Add):
        out.append(("missing-term", ast.unparse(tree.left)))  # the last term left out
    used = [n.id for n in nodes if isinstance(n, ast.Name) and n.id in scalars]
    if used and not any(isinstance(n, ast.Name) and n.id in matrices for n in nodes):
        out.append(("missing-term", f"{rhs} + {used[0]}**2"))  # an extra term
    return out


def corpus() -> list[tuple[object, object, str]]:
    files = sorted((ROOT / "derivations").glob("*.toml")) + sorted(
        (ROOT / "tests" / "fixtures" / "derivations" / "mistakes").glob("*.toml"))
    tasks = []
    for path in files:
        spec = load_spec(path)
        if spec.error:
            continue
        sizes = [s for r, c in spec.matrices.values() for s in (r, c) if isinstance(s, str)]
        sizes += [d for d, t in spec.define.items() if isinstance(t, ast.Constant)]
        matrices = set(spec.matrices)
        for claim in spec.claims:
            if claim.expect != "holds" or claim.relation != "==" or claim.rhs is None or claim.error:
                continue
            if "E(" in claim.rhs or "Var(" in claim.rhs or "E(" in (claim.lhs or "") or "Var(" in (claim.lhs or ""):
                continue
            for kind, rhs in mutants(claim.rhs, matrices, sizes, set(spec.symbols) - set(sizes)):
                mutant = dataclasses.replace(claim, rhs=rhs, expect="fails", rhs_latex=None,
                                             name=f"{kind}: {claim.name}")
                tasks.append((spec, mutant, kind))
                if "+" in kind:  # a two-edit mutant counts only if its first edit alone is a mistake too
                    first = dict(mutants(claim.rhs, matrices, sizes))[kind.split("+")[0]]
                    tasks.append((spec, dataclasses.replace(mutant, rhs=first, name=f"first edit: {claim.name}"),
                                  "first edit"))
    return tasks


def main() -> None:
    args = sys.argv[1:]
    only = args[args.index("--kind") + 1] if "--kind" in args else None
    show = "--show" in args
    tasks = [t for t in corpus() if only is None or t[2] == only
             or only == "two" and ("+" in t[2] or t[2] == "first edit")]
    start = time.perf_counter()
    results = run_claims([(s, c) for s, c, _ in tasks], timeout=10.0, jobs=2)
    wall = time.perf_counter() - start
    per_kind: dict[str, Counter] = {}
    matrix_forms = Counter()
    firsts = {(id(s), c.name.split(": ", 1)[1]): r.verdict for (s, c, kind), r in zip(tasks, results, strict=True)
              if kind == "first edit"}
    for (spec, claim, kind), r in zip(tasks, results, strict=True):
        if r.verdict != "refuted" or kind == "first edit":
            continue  # the mutation happened to give a true claim (or no verdict): not a mistake
        if "+" in kind and firsts.get((id(spec), claim.name.split(": ", 1)[1])) != "refuted":
            continue  # its first edit alone gives a true claim (tr(AB) = tr(BA)): one mistake, not two
        named = r.diagnosis["kind"] if r.diagnosis else None
        bucket = "right" if named == kind.split("+")[0] else "none" if named in (None, "other") else "wrong"
        per_kind.setdefault(kind, Counter())[bucket] += 1
        if bucket == "wrong":
            print(f"  wrong: {claim.name} | mutant rhs {claim.rhs} | named {named}: {r.diagnosis['text']}")
        elif show:
            print(f"  {bucket}: {claim.name} | lhs {claim.lhs} | mutant rhs {claim.rhs} | correct {r.correct}"
                  + (f" | {r.diagnosis['text']}" if r.diagnosis else ""))
        if spec.matrices and any(m in (claim.rhs or "") for m in spec.matrices):
            one_line = bool(r.correct) and "_0_0" not in r.correct and len(r.correct) <= 100
            matrix_forms["matrix notation, one line" if one_line else "not"] += 1
    total = Counter()
    print("\n| kind | mutants refuted | right kind | wrong kind | none |\n|---|---|---|---|---|")
    for kind, c in sorted(per_kind.items()):
        n = sum(c.values())
        total.update(c)
        print(f"| {kind} | {n} | {c['right']} | {c['wrong']} | {c['none']} |")
    n = sum(total.values())
    print(f"| **all** | {n} | {total['right']} ({100 * total['right'] / n:.0f}%) | {total['wrong']} | "
          f"{total['none']} |")
    print(f"\nmatrix claims: {dict(matrix_forms)}; {len(tasks)} mutants, {wall:.1f} s wall (2 workers)")


if __name__ == "__main__":
    main()
