"""How far the checker's verdicts can be trusted: the claim corpus (tests/fixtures/derivations/corpus, each
claim's truth established by hand in the file) and the built-in set, as agreement, false-accepted (a false
claim called proved or numerical), false-refuted (a true claim refuted), and how many true claims are proved
rather than only numerical.

    python benchmarks/bench_checker_corpus.py            # corpus and built-in set, 2 workers
    python benchmarks/bench_checker_corpus.py --corpus   # the corpus only
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def summarise(label: str, report) -> None:
    claims = [(Path(f.file).name, c) for f in report.files for c in f.claims]
    true = [c for _, c in claims if c.expect == "holds"]
    false = [c for _, c in claims if c.expect == "fails"]
    agree = sum(c.agrees for _, c in claims)
    false_accepted = [(n, c) for n, c in claims if c.expect == "fails" and c.verdict in ("proved", "numerical")]
    false_refuted = [(n, c) for n, c in claims if c.expect == "holds" and c.verdict == "refuted"]
    other = Counter(c.verdict for _, c in claims if c.verdict in ("error", "timeout"))
    print(f"{label}: {len(claims)} claims ({len(true)} true, {len(false)} false)")
    print(f"  agreement {agree}/{len(claims)}; false-accepted {len(false_accepted)}; "
          f"false-refuted {len(false_refuted)}; errors {other['error']}; timeouts {other['timeout']}")
    print(f"  true claims: proved {sum(c.verdict == 'proved' for c in true)}, "
          f"numerical {sum(c.verdict == 'numerical' for c in true)}; false claims refuted "
          f"{sum(c.verdict == 'refuted' for c in false)}")
    for n, c in false_accepted + false_refuted:
        print(f"  WRONG: {n}: {c.name} -> {c.verdict}")
    for n, c in claims:
        if c.expect == "holds" and c.verdict == "numerical":
            print(f"  numerical: {n}: {c.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="store_true", help="the corpus only")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from autograd_viz.check import check_builtin, check_files

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    corpus = check_files(sorted((ROOT / "tests/fixtures/derivations/corpus").glob("*.toml")), jobs=args.jobs)
    print(f"load average {load:.1f}; corpus checked in {time.perf_counter() - t0:.1f} s")
    summarise("corpus", corpus)
    if not args.corpus:
        summarise("built-in set", check_builtin(jobs=args.jobs))


if __name__ == "__main__":
    main()
