"""Letters: render N letters (the four templates in turn) into one print batch, on one core.

    .venv/bin/python benchmarks/letters_bench.py [--letters 200] [--out DIR] [--cpu 0]

Prints pages per second for the whole job (render every letter to PDF, merge them into the batch
PDF, write the PDF and its manifest) and milliseconds per letter, with the split between WeasyPrint
rendering and batch assembly. The renderer is built once (one FontConfiguration, letter.css parsed
once); its setup and the first letter (font loading) are timed apart, as a worker pays them once.

Each figure is given twice: wall-clock, and CPU time of this process (time.process_time). On a
machine shared with other jobs the wall-clock figures include the time the pinned core spent on
them; the CPU figures do not, and are the ones to compare before and after a change there. With
`--repeat N` the whole job runs N times and the median run is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.letters_pdf import BatchFiles, LetterBatch, LetterRenderer  # noqa: E402
from tests.integration.letters.samples import LETTERS  # noqa: E402

CITIES = ["33100 BORDEAUX", "38000 GRENOBLE", "69002 LYON", "75011 PARIS", "13001 MARSEILLE"]


def contexts(n: int):
    names = sorted(LETTERS)
    for i in range(n):
        name = names[i % len(names)]
        context = LETTERS[name]()
        context["letter"] = dict(context["letter"], reference=f"L-2025-{100000 + i:06d}")
        context["dossier"] = dict(context["dossier"], id=str(5000 + i), reference=f"D-2025-{5000 + i:06d}")
        lines = list(context["recipient"]["address_lines"])
        lines[-1] = CITIES[i % len(CITIES)]
        context["recipient"] = {"address_lines": lines}
        yield name, context


@dataclass
class Run:
    files: BatchFiles
    per_letter: list[float]
    render: float
    batch: float
    total: float
    cpu_render: float
    cpu_batch: float
    cpu_total: float


def run_job(renderer: LetterRenderer, jobs, out: Path) -> Run:
    """Render every letter, one at a time, then gather them into one batch: the timed job."""
    per_letter: list[float] = []
    rendered = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for name, context in jobs:
        t = time.perf_counter()
        rendered.extend(renderer.render_many([(name, context)]))
        per_letter.append(time.perf_counter() - t)
    render_done, cpu_render_done = time.perf_counter(), time.process_time()
    batch = LetterBatch(out, "letters-bench")
    for (name, context), letter in zip(jobs, rendered):
        batch.add(
            letter,
            action_id=context["letter"]["reference"],
            letter_reference=context["letter"]["reference"],
            dossier_id=context["dossier"]["id"],
            address_lines=context["recipient"]["address_lines"],
        )
    files = batch.write()
    end, cpu_end = time.perf_counter(), time.process_time()
    return Run(
        files, per_letter,
        render=render_done - start, batch=end - render_done, total=end - start,
        cpu_render=cpu_render_done - cpu_start, cpu_batch=cpu_end - cpu_render_done,
        cpu_total=cpu_end - cpu_start,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None, help="folder for the batch (default: a temp dir)")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core (default: the first allowed)")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole job N times, report the median run")
    parser.add_argument("--naive", type=int, default=20,
                        help="also render this many letters with a new renderer each (fonts and CSS "
                             "set up per letter) to measure what the shared setup saves; 0 to skip")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        print(f"pinned to core {cpu}")

    jobs = list(contexts(args.letters))
    out = args.out or Path(tempfile.mkdtemp(prefix="letters-bench-"))

    t0 = time.perf_counter()
    renderer = LetterRenderer()
    t1 = time.perf_counter()
    renderer.render_letter(*jobs[0])  # fonts loaded, templates compiled
    t2 = time.perf_counter()

    runs = sorted((run_job(renderer, jobs, out) for _ in range(max(1, args.repeat))), key=lambda r: r.cpu_total)
    run = runs[len(runs) // 2]
    n, pages = len(jobs), run.files.pages
    print(f"setup {1000 * (t1 - t0):.0f} ms, first letter {1000 * (t2 - t1):.0f} ms")
    print(f"{n} letters, {pages} pages -> {run.files.pdf_path} ({run.files.pdf_path.stat().st_size / 1e6:.1f} MB)"
          + (f", median of {len(runs)} runs" if len(runs) > 1 else ""))
    print(f"render  {1000 * run.render / n:.1f} ms/letter (median {1000 * statistics.median(run.per_letter):.1f}, "
          f"p95 {1000 * sorted(run.per_letter)[int(0.95 * n) - 1]:.1f}); CPU {1000 * run.cpu_render / n:.1f} ms/letter")
    print(f"batch   {1000 * run.batch / n:.1f} ms/letter (pypdf merge + write); CPU {1000 * run.cpu_batch / n:.1f} ms/letter")
    print(f"total   {1000 * run.total / n:.1f} ms/letter, {pages / run.total:.1f} pages/s (target >= 20); "
          f"CPU {1000 * run.cpu_total / n:.1f} ms/letter, {pages / run.cpu_total:.1f} pages/s")

    if args.naive:
        naive_jobs = jobs[: args.naive]
        shared_start = time.perf_counter()
        renderer.render_many(naive_jobs)
        shared = (time.perf_counter() - shared_start) / len(naive_jobs)
        naive_start = time.perf_counter()
        for name, context in naive_jobs:
            LetterRenderer().render_letter(name, context)  # new FontConfiguration, CSS parsed again
        naive = (time.perf_counter() - naive_start) / len(naive_jobs)
        print(f"setup per letter (naive) {1000 * naive:.1f} ms/letter vs shared {1000 * shared:.1f} ms/letter "
              f"on the same {len(naive_jobs)} letters")


if __name__ == "__main__":
    main()
