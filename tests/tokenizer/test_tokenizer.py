"""The pure-Python tokenizer gives exactly GPT-2's ids (tiktoken as the reference)."""

from __future__ import annotations

import bisect
import unicodedata

import pytest

from icchat.chat import unicode_classes
from icchat.chat.tokenizer import GPT2Tokenizer, TokenizerError, pretokenize


def test_corpus_is_large_and_varied(texts):
    assert len(texts) >= 10_000
    joined = "".join(texts)
    for probe in ("def ", "'s", "中", "👍🏽", "\u0301", "\x1c", "\n\n", "٣", "<|endoftext|>"):
        assert probe in joined


def test_ids_identical_to_tiktoken(tokenizer, reference, texts):
    mismatches = [t for t in texts if tokenizer.encode(t) != reference.encode_ordinary(t)]
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[0]!r}"


def test_decode_encode_roundtrip(tokenizer, texts):
    broken = [t for t in texts if tokenizer.decode(tokenizer.encode(t)) != t]
    assert not broken, f"{len(broken)} do not round-trip, first: {broken[0]!r}"


def _in(ranges, cp: int) -> bool:
    i = bisect.bisect_right(ranges, (cp, 0x10FFFF)) - 1
    return i >= 0 and ranges[i][0] <= cp <= ranges[i][1]


def test_code_points_whose_class_depends_on_unicode_version(tokenizer, reference):
    """Our tables are Unicode 16 (what tiktoken's regex uses), not the running Python's:
    every code point whose \\p{L}/\\p{N} class differs from this Python's unicodedata is
    checked in contexts where the class decides the split."""
    differing = [
        cp for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF
        and (
            (unicodedata.category(chr(cp))[0] == "L") != _in(unicode_classes.LETTER_RANGES, cp)
            or (unicodedata.category(chr(cp))[0] == "N") != _in(unicode_classes.NUMBER_RANGES, cp)
        )
    ]
    if unicodedata.unidata_version != unicode_classes.UNICODE_VERSION:
        assert differing, "different Unicode versions should disagree somewhere"
    for cp in differing:
        c = chr(cp)
        for text in ("x" + c, c + "x", "1" + c + "1", "Ā" + c + "é", c + "'s " + c * 3):
            assert tokenizer.encode(text) == reference.encode_ordinary(text), hex(cp)


def test_white_space_is_unicodes_not_pythons(tokenizer, reference):
    # str.isspace() is true for U+001C..U+001F; Unicode's White_Space (and GPT-2) says no.
    for text in ("a\x1c b", "x \x1f\x1f y", " \x1e", "\u0085\u0085a", "a\u3000\u3000b"):
        assert tokenizer.encode(text) == reference.encode_ordinary(text)


def test_pretokenizer_rules():
    assert pretokenize("I'm here  now") == ["I", "'m", " here", " ", " now"]
    assert pretokenize("a1b 22 !!") == ["a", "1", "b", " 22", " !!"]
    assert pretokenize("x   \n") == ["x", "   \n"]


def test_endoftext_in_user_text_is_plain_text(tokenizer):
    ids = tokenizer.encode("<|endoftext|>")
    assert tokenizer.eot_id == 50256
    assert tokenizer.eot_id not in ids
    assert tokenizer.decode(ids) == "<|endoftext|>"
    assert tokenizer.decode([tokenizer.eot_id]) == "<|endoftext|>"


def test_stream_decoder_never_splits_a_character(tokenizer, texts):
    for text in texts[:3000]:
        stream = tokenizer.stream_decoder()
        pieces = [stream.push(i) for i in tokenizer.encode(text)]
        pieces.append(stream.flush())
        assert "".join(pieces) == text
        assert all("\ufffd" not in p for p in pieces) or "\ufffd" in text


def test_stream_decoder_handles_invalid_bytes_like_decode(tokenizer):
    # Token 447 is the lone byte 0xE2 (a cut 3-byte character), then plain text.
    lone = tokenizer.encoder["â"]
    ids = [lone, *tokenizer.encode(" ok"), lone]
    stream = tokenizer.stream_decoder()
    streamed = "".join(stream.push(i) for i in ids) + stream.flush()
    assert streamed == tokenizer.decode(ids) == "\ufffd ok\ufffd"


def test_from_strings_equals_from_files(tokenizer_dir, tokenizer):
    again = GPT2Tokenizer.from_strings(
        (tokenizer_dir / "vocab.json").read_bytes(), (tokenizer_dir / "merges.txt").read_text()
    )
    assert again.encode("Same ids either way.") == tokenizer.encode("Same ids either way.")


def test_bad_files_give_clear_errors(tmp_path, tokenizer_dir):
    with pytest.raises(TokenizerError, match="not found"):
        GPT2Tokenizer.from_dir(tmp_path)
    (tmp_path / "vocab.json").write_text("{not json")
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\n")
    with pytest.raises(TokenizerError, match="not valid JSON"):
        GPT2Tokenizer.from_dir(tmp_path)
    (tmp_path / "vocab.json").write_bytes((tokenizer_dir / "vocab.json").read_bytes())
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b c\n")
    with pytest.raises(TokenizerError, match="line 2"):
        GPT2Tokenizer.from_dir(tmp_path)
    with pytest.raises(TokenizerError, match="not in the vocabulary"):
        GPT2Tokenizer.from_dir(tokenizer_dir).decode([50257])
