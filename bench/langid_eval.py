"""Which language detector for short search queries: accuracy, load time and per-query time.

    .venv/bin/python bench/langid_eval.py

Reads bench/data/short_queries_langid.tsv (100 queries of 1-6 words in en, nl, de, fr, es, written
for kb). Each candidate runs in a fresh subprocess, so its load time includes its import. Candidates
are restricted to the languages kb's keyword analysers stem (en, nl, de, fr, es) where the library
allows it, and also tried over the 16 languages of the multilingual encoder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "short_queries_langid.tsv"
FIVE = ["en", "nl", "de", "fr", "es"]
SIXTEEN = ["ar", "zh", "nl", "en", "de", "fr", "it", "pt", "es", "ja", "ko", "ru", "pl", "th", "tr"]  # zh-tw folds into zh


def load() -> list[tuple[str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            rows.append((lang, text))
    return rows


def make(name: str, languages: list[str]):  # noqa: ANN201
    """A function text -> iso code, built as the library documents it."""
    if name.startswith("lingua"):
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        codes = [getattr(IsoCode639_1, code.upper()) for code in languages]
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.with_preloaded_language_models().build()

        def detect(text: str) -> str:
            found = detector.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found else "?"
        return detect
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True) \
            if hasattr(LanguageIdentifier, "from_pickled_model") else LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(languages)
        return lambda text: identifier.classify(text)[0]
    if name == "langdetect":
        from langdetect import DetectorFactory, detect_langs

        DetectorFactory.seed = 0

        def detect(text: str) -> str:
            try:
                for guess in detect_langs(text):
                    code = guess.lang.split("-")[0]
                    if code in languages:
                        return code
            except Exception:  # noqa: BLE001  (it raises on text without letters)
                pass
            return "?"
        return detect
    raise SystemExit(f"unknown detector {name}")


def one(name: str, languages: list[str]) -> dict:
    rows = load()
    start = time.perf_counter()
    detect = make(name, languages)
    detect("warm up")
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    guesses = [detect(text) for _, text in rows]
    per_query_ms = (time.perf_counter() - start) / len(rows) * 1000
    correct = {lang: 0 for lang in FIVE}
    for (lang, _), guess in zip(rows, guesses):
        correct[lang] += guess == lang
    wrong = [(text, lang, guess) for (lang, text), guess in zip(rows, guesses) if guess != lang]
    return {"detector": name, "languages": len(languages), "accuracy": sum(correct.values()) / len(rows),
            "per_language": {k: v / sum(1 for lang, _ in rows if lang == k) for k, v in correct.items()},
            "load_s": load_s, "per_query_ms": per_query_ms, "wrong": wrong[:12]}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], FIVE if sys.argv[3] == "5" else SIXTEEN)))
        return
    print(f"{len(load())} short queries")
    for name in ("lingua", "lingua-low", "py3langid", "langdetect"):
        for count in ("5", "16"):
            out = subprocess.run([sys.executable, __file__, "--one", name, count], capture_output=True, text=True)
            if out.returncode:
                print(f"{name} over {count} languages failed: {out.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(out.stdout)
            per = " ".join(f"{k}={v:.2f}" for k, v in r["per_language"].items())
            print(f"{name:<11} languages={r['languages']:<2} accuracy={r['accuracy']:.2f} ({per}) "
                  f"load_s={r['load_s']:.2f} per_query_ms={r['per_query_ms']:.2f}")
            if "-v" in sys.argv:
                print("   wrong:", r["wrong"])


if __name__ == "__main__":
    main()
