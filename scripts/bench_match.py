#!/usr/bin/env python3
"""Matcher query time against faiss IndexFlatL2 on the same data, in the same process.

Prints ms/query for hadir's Gallery.match (best person, distance and runner-up
person) and for faiss (k=2 nearest templates), their ratio, and the time to
build a 100,000-template gallery. Target: hadir no slower than 1.5x faiss at
N=100,000.

    .venv/bin/python scripts/bench_match.py [--queries 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from edge.recognize.matcher import Gallery

TARGET_RATIO = 1.5


def unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    # dlib descriptors are not unit length; scale to their typical norm (~0.6-0.8).
    return v * np.float32(0.7)


def per_query_ms(fn: Callable[[np.ndarray], object], queries: np.ndarray, rounds: int = 5) -> float:
    """Median over rounds of the mean time per query (rounds damp a noisy machine)."""
    for q in queries[:10]:
        fn(q)  # warm caches and BLAS threads
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for q in queries:
            fn(q)
        samples.append((time.perf_counter() - start) * 1000 / len(queries))
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    import faiss

    rng = np.random.default_rng(7)
    print(f"{'N':>8} {'hadir ms/q':>11} {'faiss ms/q':>11} {'hadir/faiss':>12}  same best")
    ratio_at_max = 0.0
    for n in (1_000, 10_000, 100_000):
        templates = unit_vectors(n, rng)
        # Two templates per person, as a terminal typically holds.
        owners = [f"person-{i // 2:06d}" for i in range(n)]
        gallery = Gallery.from_rows(owners, templates)
        index = faiss.IndexFlatL2(128)
        index.add(gallery.templates)
        queries = (
            templates[rng.integers(0, n, args.queries)] + unit_vectors(args.queries, rng) * 0.5
        )

        hadir_ms = per_query_ms(gallery.match, queries)
        faiss_ms = per_query_ms(partial(_faiss_search, index), queries)
        row_owner = owners_sorted(gallery)
        same = all(
            gallery.match(q).person_id == row_owner[int(index.search(q.reshape(1, -1), 1)[1][0, 0])]
            for q in queries[:50]
        )
        ratio = hadir_ms / faiss_ms
        if n == 100_000:
            ratio_at_max = ratio
        print(f"{n:>8} {hadir_ms:>11.3f} {faiss_ms:>11.3f} {ratio:>11.2f}x  {same}")

    templates = unit_vectors(100_000, rng)
    owners = [f"person-{i // 2:06d}" for i in range(100_000)]
    start = time.perf_counter()
    Gallery.from_rows(owners, templates)
    build_s = time.perf_counter() - start
    baseline_start = time.perf_counter()
    np.ascontiguousarray(templates.copy())
    copy_s = time.perf_counter() - baseline_start
    print(
        f"build gallery N=100,000: {build_s * 1000:.1f} ms ({build_s / copy_s:.1f}x a plain copy)"
    )
    verdict = "PASS" if ratio_at_max <= TARGET_RATIO else "FAIL"
    print(f"target hadir/faiss <= {TARGET_RATIO} at N=100,000: {ratio_at_max:.2f}x {verdict}")
    return 0 if verdict == "PASS" else 1


def _faiss_search(index: Any, query: np.ndarray) -> Any:
    return index.search(query.reshape(1, -1), 2)


def owners_sorted(gallery: Gallery) -> list[str]:
    """Owner of each row of gallery.templates (rows are grouped by person)."""
    out: list[str] = []
    for person in gallery.person_ids:
        out.extend([person] * len(gallery.templates_of(person)))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
