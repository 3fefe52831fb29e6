"""Tokenizer throughput in CPython: encode/decode MB/s on the test corpus, tiktoken for scale."""

from __future__ import annotations

import argparse
import time
from typing import Any

from icchat.bench._text_corpus import corpus
from icchat.chat import tokenizer as tokenizer_module
from icchat.chat.tokenizer import GPT2Tokenizer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=10_000, help="corpus strings")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed passes")


def _best(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.model.vocab import SOURCE_PACKAGE, ensure_tokenizer_dir

    texts = corpus(args.size)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    directory = ensure_tokenizer_dir()

    start = time.perf_counter()
    tokenizer_module._PRETOKENIZER = None
    tok = GPT2Tokenizer.from_dir(directory)
    tok.encode("warm up the pattern")
    load_s = time.perf_counter() - start

    def encode_cold() -> None:
        tok._cache.clear()
        for t in texts:
            tok.encode(t)

    cold = _best(args.repeat, encode_cold)
    warm = _best(args.repeat, lambda: [tok.encode(t) for t in texts])
    ids = [tok.encode(t) for t in texts]
    decode = _best(args.repeat, lambda: [tok.decode(i) for i in ids])

    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    ranks = data_gym_to_mergeable_bpe_ranks(
        str(SOURCE_PACKAGE / "vocab.bpe"), str(SOURCE_PACKAGE / "encoder.json"))
    ref = tiktoken.Encoding("gpt2", mergeable_ranks=ranks, special_tokens={},
                            pat_str=r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    tiktoken_s = _best(args.repeat, lambda: [ref.encode_ordinary(t) for t in texts])
    result = {
        "corpus": {"strings": len(texts), "megabytes": round(megabytes, 3),
                   "tokens": sum(map(len, ids))},
        "load_seconds": round(load_s, 3),
        "encode_mb_per_s_cold_cache": round(megabytes / cold, 2),
        "encode_mb_per_s_warm_cache": round(megabytes / warm, 2),
        "decode_mb_per_s": round(megabytes / decode, 2),
        "tiktoken_encode_mb_per_s": round(megabytes / tiktoken_s, 2),
    }
    for key, value in result.items():
        print(f"  {key}: {value}")
    return result


def plot(result: dict[str, Any], png) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["encode (cold)", "encode (warm)", "decode", "tiktoken encode"]
    values = [result["encode_mb_per_s_cold_cache"], result["encode_mb_per_s_warm_cache"],
              result["decode_mb_per_s"], result["tiktoken_encode_mb_per_s"]]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(labels, values, color=["#4a7", "#4a7", "#4a7", "#999"])
    ax.set_xscale("log")
    ax.set_xlabel("MB/s (log scale)")
    ax.set_title("GPT-2 tokenizer, CPython")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
