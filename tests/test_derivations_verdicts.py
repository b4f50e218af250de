"""Every verdict path of the derivation checker: proved, numerical, refuted (with counterexample and correct
form), error, timeout (soft, and a hard kill), inequalities with their supremum, the engine cross-check."""

from __future__ import annotations

import math
import re
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

from autograd_viz.check import check_file, check_files, runner, verify
from autograd_viz.check.results import ClaimResult
from autograd_viz.ops import OPS
from autograd_viz.scalar import Value

FIX = Path(__file__).parent / "fixtures" / "derivations"


def _claims(path: Path, **kw) -> dict[str, ClaimResult]:
    return {c.name: c for c in check_file(path, **kw).claims}


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_perceptron_proved_refuted_and_engine_cross_checked() -> None:
    r = _claims(FIX / "perceptron.toml")
    assert r["dL/dw"].verdict == "proved" and r["dL/dw"].agrees
    assert "engine backprop agrees" in r["dL/dw"].method
    assert r["dL/dz is backprop's z-bar"].verdict == "proved"
    assert r["dL/dw in LaTeX"].verdict == "proved"
    bad = r["dL/dw with the sign flipped"]
    assert bad.verdict == "refuted" and bad.agrees and bad.expect == "fails"
    p = bad.counterexample
    # recompute the true derivative at the counterexample with the engine, independently of the checker
    w = Value(p["w"], name="w")
    yhat = (w * p["x"] + p["b"]).sigmoid()
    loss = (p["y"] - yhat) ** 2 / 2
    loss.backward()
    assert bad.lhs_value == pytest.approx(w.grad, rel=1e-9)
    s = _sigmoid(p["w"] * p["x"] + p["b"])
    assert bad.rhs_value == pytest.approx((p["y"] - s) * s * (1 - s) * p["x"], rel=1e-9)
    assert bad.correct and bad.correct_tex


def test_correct_form_evaluates_to_the_true_derivative() -> None:
    import sympy as sp

    bad = _claims(FIX / "perceptron.toml", jobs=1)["dL/dw with the sign flipped"]
    p = bad.counterexample
    expr = sp.sympify(bad.correct)
    z = sp.Symbol("z")
    values = {sp.Symbol(k): v for k, v in p.items()}
    values[z] = p["w"] * p["x"] + p["b"]
    values[sp.Symbol("yhat")] = _sigmoid(values[z])
    assert float(expr.subs(values)) == pytest.approx(bad.lhs_value, rel=1e-9)


def test_numerical_when_sympy_cannot_simplify() -> None:
    r = _claims(FIX / "numerical.toml")
    for c in r.values():
        assert c.verdict == "numerical", c
        assert re.search(r"held at \d+ points \(\d+ chosen from the claim's kinks", c.method), c.method
        assert "at 50 digits" in c.method and "magnitudes up to 1e6" in c.method


def test_numerical_when_sympy_runs_out_of_time(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(e):
        while True:
            sum(range(1000))

    monkeypatch.setattr(verify, "_STEPS", (("forever", slow, lambda e: True),))
    monkeypatch.setattr(verify, "symbolic_limit", lambda timeout: 0.2)  # a tiny SymPy budget, no long wait
    c = _claims(FIX / "perceptron.toml", jobs=1, timeout=3.0)["dL/dw"]
    assert c.verdict == "numerical" and c.seconds < 2.5
    assert "did not" in c.message


def test_wrong_claim_never_numerical_even_if_sympy_is_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "_STEPS", ())
    c = _claims(FIX / "perceptron.toml", jobs=1)["dL/dw with the sign flipped"]
    assert c.verdict == "refuted"


def test_soft_timeout_reports_timeout_within_the_limit(tmp_path: Path) -> None:
    f = tmp_path / "slow.toml"
    f.write_text('title = "slow"\n[symbols]\nx = "real"\n[[claim]]\nname = "deep"\n'
                 'lhs = "diff(nest(tanh, x, 60), x, 8)"\nrhs = "0"\n', encoding="utf-8")
    start = time.monotonic()
    c = check_file(f, timeout=0.6).claims[0]
    assert c.verdict == "timeout" and not c.agrees
    assert time.monotonic() - start < 2.0


def test_hard_kill_when_the_worker_ignores_its_alarm(monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck(spec, claim, timeout):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)

    runner.warm_up()  # the parent's one-off warm-up is not part of the timing
    monkeypatch.setattr(runner, "check_claim", stuck)
    start = time.monotonic()
    c = check_file(FIX / "perceptron.toml", timeout=0.2, jobs=2).claims
    elapsed = time.monotonic() - start
    assert [x.verdict for x in c] == ["timeout"] * 4
    assert all("killed" in x.message for x in c)
    assert elapsed < 2 * (0.2 + 1.0) + 0.5  # two rounds of two workers, each killed at ~limit + 0.3 s


def test_a_worker_that_dies_costs_only_its_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    real = runner.check_claim

    def dies_on_one(spec, claim, timeout):
        if claim.name == "dL/dz is backprop's z-bar":
            os._exit(3)  # the worker process ends without an answer
        return real(spec, claim, timeout)

    monkeypatch.setattr(runner, "check_claim", dies_on_one)
    c = {x.name: x for x in check_file(FIX / "perceptron.toml", jobs=2).claims}
    assert c["dL/dz is backprop's z-bar"].verdict == "error"
    assert "died" in c["dL/dz is backprop's z-bar"].message
    assert [x.verdict for n, x in c.items() if n != "dL/dz is backprop's z-bar"] == ["proved", "refuted", "proved"]


def test_workers_hand_out_the_longest_claims_first() -> None:
    from autograd_viz.check.spec import load_spec

    spec = load_spec(runner.BUILTIN_DIR / "one_hidden_layer.toml")
    small = load_spec(FIX / "perceptron.toml")
    costs = [runner.estimated_cost(spec, c) for c in spec.claims]
    assert min(costs) > max(runner.estimated_cost(small, c) for c in small.claims)  # matrix claims first
    fails = [c for c in spec.claims if c.expect == "fails"]
    holds = [c for c in spec.claims if c.expect == "holds"]
    assert runner.estimated_cost(spec, fails[0]) > runner.estimated_cost(spec, holds[0])  # the diagnosis runs


def test_each_worker_stays_with_one_file_while_it_has_claims() -> None:
    """The queue gives a worker its own file's claims (the derivatives, cancels and compiled functions it has
    remembered serve the next claim), most expensive first; a second worker starts on another file; a worker
    whose file is done takes the free file with the most work left, and only then shares a busy one."""
    from autograd_viz.check.spec import load_spec

    big = load_spec(runner.BUILTIN_DIR / "one_hidden_layer.toml")
    mid = load_spec(runner.BUILTIN_DIR / "adam.toml")
    small = load_spec(FIX / "perceptron.toml")
    tasks = [(small, c) for c in small.claims] + [(mid, c) for c in mid.claims] + [(big, c) for c in big.claims]
    queue = runner._Queue(tasks)
    first = queue.take(None, set())
    assert tasks[first][0] is big and queue.cost[first] == max(queue.cost)
    second = queue.take(None, {id(big)})
    assert tasks[second][0] is mid  # not the busy file, although its claims cost more
    taken = [first]
    while id(big) in queue.groups:
        taken.append(queue.take(id(big), {id(mid)}))
    assert sorted(taken) == [k for k, (spec, _) in enumerate(tasks) if spec is big]
    assert [queue.cost[k] for k in taken] == sorted((queue.cost[k] for k in taken), reverse=True)
    nxt = queue.take(id(big), {id(mid)})  # big is done, small is free: small, not the busy mid
    assert tasks[nxt][0] is small
    while id(small) in queue.groups:
        queue.take(id(small), {id(mid)})
    assert tasks[queue.take(id(small), {id(mid)})][0] is mid  # nothing free: share the busy file
    handed = 3 + len(taken) + len(small.claims) - 1
    while queue:
        queue.take(None, set())
        handed += 1
    assert handed == len(tasks)  # every claim handed out exactly once


def test_error_verdicts_name_the_problem() -> None:
    r = _claims(FIX / "errors.toml", jobs=1)
    assert r["fine"].verdict == "proved"
    expected = {"unknown symbol": "'q'", "hostile import": "__import__", "attribute access": ".real",
                "shape mismatch": "2×3 @ 2×3", "number tower": "too large", "unknown macro": "\\foo"}
    for name, needle in expected.items():
        assert r[name].verdict == "error" and not r[name].agrees, name
        assert needle in r[name].message and name in r[name].message, r[name].message


def test_bad_definition_makes_every_claim_an_error() -> None:
    (c,) = check_file(FIX / "bad_define.toml").claims
    assert c.verdict == "error" and "'zz'" in c.message and "column 5" in c.message


def test_bounds_supremum_and_strictness() -> None:
    r = _claims(FIX / "bounds.toml")
    assert r["sigma' <= 1/4"].verdict == "proved" and r["sigma' <= 1/4"].correct == "sup = 1/4"
    assert r["sigma < 1 (sup not attained)"].verdict == "proved"
    strict = r["sigma' < 1/4 is false at 0"]
    assert strict.verdict == "refuted" and strict.counterexample == {"x": 0.0}
    # independent golden-section maximum of (sigma o sigma)'(x) = sigma'(sigma(x)) sigma'(x)
    def g(x: float) -> float:
        s = _sigmoid(x)
        t = _sigmoid(s)
        return t * (1 - t) * s * (1 - s)

    lo, hi = -2.0, 2.0
    for _ in range(200):
        a, b = lo + (hi - lo) * 0.382, lo + (hi - lo) * 0.618
        lo, hi = (a, hi) if g(b) > g(a) else (lo, b)
    sup = g((lo + hi) / 2)
    wrong = r["(sigma o sigma)' <= 1/20 is false"]
    assert wrong.verdict == "refuted" and wrong.lhs_value > 0.05
    assert float(wrong.correct.split("≈")[1].split()[0]) == pytest.approx(sup, rel=1e-8)
    holds = r["(sigma o sigma)' <= 1/16"]
    assert holds.verdict in ("proved", "numerical")
    if holds.verdict == "numerical":
        assert float(holds.correct.split("≈")[1].split()[0]) == pytest.approx(sup, rel=1e-8)


def test_engine_cross_check_catches_a_wrong_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    good = OPS["sigmoid"]
    wrong = replace(good, backward=lambda m, g, x, out, attrs, saved, needs: (2 * g * out * (1 - out),))
    monkeypatch.setitem(OPS, "sigmoid", wrong)
    c = _claims(FIX / "perceptron.toml", jobs=1)["dL/dw"]
    assert c.verdict == "error" and "engine" in c.message and "backprop gives" in c.message


def test_results_keep_file_and_claim_order() -> None:
    rep = check_files([FIX / "numerical.toml", FIX / "bad_define.toml"], jobs=2)
    assert [f.file for f in rep.files] == [str(FIX / "numerical.toml"), str(FIX / "bad_define.toml")]
    assert [c.name for c in rep.files[0].claims] == ["stable logsumexp", "logsumexp through min"]
    assert rep.exit_code == 1
