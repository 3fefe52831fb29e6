"""GPT-2's byte-level BPE tokenizer in pure Python (stdlib only).

It runs unchanged in CPython and in Pyodide, and gives exactly the ids of GPT-2's reference
tokenizer (tested against tiktoken on the same ranks). Three stages, as in GPT-2:

1. Pre-tokenize with GPT-2's pattern
   ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``.
   Stdlib ``re`` has no ``\\p{..}``, and its ``\\s`` differs from Unicode's White_Space
   (it includes U+001C..U+001F), so the classes are spelled out from `unicode_classes`: fixed
   tables, so the result does not depend on the Unicode version of the running Python.
2. Map each piece's UTF-8 bytes to printable characters (GPT-2's ``bytes_to_unicode``).
3. Merge adjacent symbols by rank from ``merges.txt`` and look them up in ``vocab.json``.

Added tokens (tokenizer.json's ``added_tokens``, the manifest's ``tokenizer.added_tokens``) are
split out of the text before BPE, as transformers does. A *special* one (``<|endoftext|>``, a
fine-tune's ``<|pad|>``...) is a token only where the caller allows it: in the chat format's own
text (`encode_segments`) or with ``encode(text, specials=True)``; typed by a user it is plain
text, so a message cannot end a turn. A non-special added token is a token everywhere.
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from icchat.chat.unicode_classes import LETTER_RANGES, NUMBER_RANGES, WHITE_SPACE_RANGES

EOT_TEXT = "<|endoftext|>"
GPT2_EOS_ID = 50256  # EOT_TEXT's id: what ends a reply unless a model names its own
GPT2_VOCAB_SIZE = 50257  # GPT-2's vocabulary; a family checkpoint may add tokens after it
VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
TOKENIZER_JSON = "tokenizer.json"


class TokenizerError(ValueError):
    """The vocabulary or merges data is missing or malformed."""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (no spaces or controls)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    """A regex character-class body for code point ranges (escaped, inclusive)."""
    parts = []
    for lo, hi in ranges:
        parts.append(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
    return "".join(parts)


def _pretokenizer() -> re.Pattern[str]:
    letter, number, space = (_class(r) for r in (LETTER_RANGES, NUMBER_RANGES, WHITE_SPACE_RANGES))
    return re.compile(
        rf"'s|'t|'re|'ve|'m|'ll|'d"
        rf"| ?[{letter}]+| ?[{number}]+| ?[^{space}{letter}{number}]+"
        rf"|[{space}]+(?![^{space}])|[{space}]+"
    )


_PRETOKENIZER: re.Pattern[str] | None = None


def pretokenize(text: str) -> list[str]:
    """Split text into the pieces GPT-2 runs BPE on (each piece is encoded independently)."""
    global _PRETOKENIZER
    if _PRETOKENIZER is None:  # compiled on first use: ~1,000 ranges take a moment to compile
        _PRETOKENIZER = _pretokenizer()
    return _PRETOKENIZER.findall(text)


def _read(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokenizerError(f"tokenizer file not found: {path}") from None
    except UnicodeDecodeError:
        raise TokenizerError(f"tokenizer file is not UTF-8 text: {path}") from None


@dataclass(frozen=True)
class AddedToken:
    """A token matched as a whole string before BPE (tokenizer.json's `added_tokens`)."""

    id: int
    content: str
    special: bool

    @classmethod
    def parse(cls, entries: Iterable[Mapping[str, object]]) -> list[AddedToken]:
        """From [{"id", "content", "special"}] (the manifest's, or tokenizer.json's)."""
        tokens = []
        for entry in entries:
            token_id, content = entry.get("id"), entry.get("content")
            if not isinstance(token_id, int) or not isinstance(content, str) or not content:
                raise TokenizerError(f"an added token needs an integer id and text: {dict(entry)!r}")
            tokens.append(cls(token_id, content, bool(entry.get("special", False))))
        return tokens


def _splitter(contents: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern that finds any of `contents`, the longest first where they overlap."""
    ordered = sorted(set(contents), key=len, reverse=True)
    return re.compile("|".join(re.escape(c) for c in ordered)) if ordered else None


class GPT2Tokenizer:
    """Encode text to GPT-2 token ids and back."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]],
                 added_tokens: Iterable[AddedToken] = ()) -> None:
        if not vocab or not merges:
            raise TokenizerError("empty vocabulary or merges")
        self.encoder = dict(vocab)
        self.decoder = {i: s for s, i in vocab.items()}
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        if EOT_TEXT not in vocab:
            raise TokenizerError(f"vocabulary has no {EOT_TEXT} token")
        self.eot_id = vocab[EOT_TEXT]
        self._cache: dict[str, list[int]] = {}
        self._bytes: dict[int, bytes] = {
            i: bytes(self.byte_decoder[c] for c in s) for i, s in self.decoder.items()
        }
        self.added_tokens = list(added_tokens)
        if EOT_TEXT not in {t.content for t in self.added_tokens}:  # GPT-2's own, always special
            self.added_tokens.insert(0, AddedToken(self.eot_id, EOT_TEXT, True))
        self._added = {t.content: t.id for t in self.added_tokens}
        for token in self.added_tokens:
            if self.decoder.get(token.id, token.content) != token.content:
                raise TokenizerError(f"added token {token.content!r} has id {token.id}, which is "
                                     f"{self.decoder[token.id]!r} in vocab.json")
            self.encoder[token.content] = token.id
            self.decoder[token.id] = token.content
            self._bytes[token.id] = token.content.encode("utf-8")
        self._split_all = _splitter(t.content for t in self.added_tokens)
        self._split_plain = _splitter(t.content for t in self.added_tokens if not t.special)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_files(
        cls, vocab_json: str | os.PathLike[str], merges_txt: str | os.PathLike[str]
    ) -> GPT2Tokenizer:
        return cls.from_strings(_read(vocab_json), _read(merges_txt))

    @classmethod
    def from_strings(cls, vocab_json: str | bytes, merges_txt: str | bytes,
                     added_tokens: Iterable[AddedToken] = ()) -> GPT2Tokenizer:
        """From the files' contents, e.g. as fetched by the page (no filesystem needed), and
        the added tokens (the manifest's `tokenizer.added_tokens`)."""
        if isinstance(merges_txt, bytes):
            merges_txt = merges_txt.decode("utf-8")
        try:
            vocab = json.loads(vocab_json)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TokenizerError(f"vocab.json is not valid JSON: {exc}") from None
        if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
            raise TokenizerError("vocab.json must map token strings to integer ids")
        return cls(vocab, parse_merges(merges_txt), added_tokens)

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str]) -> GPT2Tokenizer:
        """From a model bundle (or any directory) holding vocab.json and merges.txt, with the
        added tokens of its tokenizer.json if it has one."""
        root = Path(directory)
        added: list[AddedToken] = []
        if (root / TOKENIZER_JSON).is_file():
            try:
                added = AddedToken.parse(json.loads(_read(root / TOKENIZER_JSON)).get("added_tokens", []))
            except (json.JSONDecodeError, AttributeError) as exc:
                raise TokenizerError(f"{root / TOKENIZER_JSON} is not a tokenizer.json: {exc}") from None
        return cls.from_strings(_read(root / VOCAB_FILE), _read(root / MERGES_FILE), added)

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    # -- encoding -----------------------------------------------------------------------------

    def encode(self, text: str, *, specials: bool = False) -> list[int]:
        """Text to ids; special added tokens in `text` are tokens only if `specials`."""
        return self.encode_segments([(text, specials)])

    def encode_segments(self, segments: Iterable[tuple[str, bool]]) -> list[int]:
        """The ids of the segments' concatenated text, where special added tokens are tokens
        only inside segments marked True (a chat format's own text). Text between added tokens
        is BPE-encoded as one run across segments, so the ids equal encoding the whole text."""
        ids: list[int] = []
        run: list[str] = []
        for text, specials in segments:
            splitter = self._split_all if specials else self._split_plain
            start = 0
            for match in splitter.finditer(text) if splitter else ():
                run.append(text[start:match.start()])
                ids.extend(self._encode_text("".join(run)))
                run = []
                ids.append(self._added[match.group()])
                start = match.end()
            run.append(text[start:])
        ids.extend(self._encode_text("".join(run)))
        return ids

    def _encode_text(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in pretokenize(text):
            cached = self._cache.get(piece)
            if cached is None:
                cached = self._encode_piece(piece)
                if len(self._cache) < 100_000:  # bound memory on adversarial input
                    self._cache[piece] = cached
            ids.extend(cached)
        return ids

    def _encode_piece(self, piece: str) -> list[int]:
        symbols = [self.byte_encoder[b] for b in piece.encode("utf-8")]
        ranks = self.ranks
        while len(symbols) > 1:
            # The adjacent pair with the lowest merge rank merges first, everywhere it occurs.
            best_rank, best = None, None
            for pair in itertools.pairwise(symbols):
                rank = ranks.get(pair)
                if rank is not None and (best_rank is None or rank < best_rank):
                    best_rank, best = rank, pair
            if best is None:
                break
            first, second = best
            merged: list[str] = []
            i = 0
            while i < len(symbols):
                if i < len(symbols) - 1 and symbols[i] == first and symbols[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        try:
            return [self.encoder[s] for s in symbols]
        except KeyError as exc:
            raise TokenizerError(f"merges produced {exc.args[0]!r}, which is not in vocab.json") from None

    # -- decoding -----------------------------------------------------------------------------

    def token_bytes(self, token_id: int) -> bytes:
        """The UTF-8 bytes a token stands for (may be part of a character)."""
        try:
            return self._bytes[token_id]
        except KeyError:
            raise TokenizerError(f"token id {token_id} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Invalid UTF-8 (e.g. a cut multi-byte character) decodes to U+FFFD, as in HF."""
        try:
            data = b"".join([self._bytes[i] for i in ids])
        except KeyError as exc:
            raise TokenizerError(f"token id {exc.args[0]} is not in the vocabulary") from None
        return data.decode("utf-8", errors="replace")

    def stream_decoder(self) -> StreamDecoder:
        return StreamDecoder(self)


class StreamDecoder:
    """Decode tokens as they arrive, holding back bytes of a character that is not complete
    yet, so no U+FFFD ever appears mid-character. The concatenated output equals `decode`."""

    def __init__(self, tokenizer: GPT2Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        return self._utf8.decode(self._tokenizer.token_bytes(token_id))

    def flush(self) -> str:
        """End of stream: bytes still pending are an incomplete character (U+FFFD)."""
        return self._utf8.decode(b"", final=True)


def parse_merges(text: str) -> list[tuple[str, str]]:
    """merges.txt: an optional ``#version`` line, then one ``left right`` pair per line."""
    merges: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise TokenizerError(f"merges.txt line {number} is not 'left right': {line!r}")
        merges.append((parts[0], parts[1]))
    return merges
