"""A deterministic, varied text corpus for tokenizer tests and benchmarks (>= 10,000 strings).

Real text comes from the Python standard library's own sources (prose in docstrings and
comments, code, numbers); synthetic strings cover what stdlib text lacks: scripts, emoji
sequences, combining marks, control characters, whitespace runs and contractions.
"""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

STDLIB_MODULES = ("textwrap", "argparse", "json/decoder.py", "difflib", "calendar",
                  "this", "email/message.py", "http/client.py", "statistics", "fractions")

POOLS = {
    "ascii": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "digits": "0123456789",
    "punct": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "space": " \t\n\r\x0b\x0c\u00a0\u2003\u3000\u2028\x85",
    "accents": "éèêëàâäôöûüçñÅåÆæØøßÉÀÇÑáíóúýÿőűłśźżčšžğışİ",
    "combining": "\u0300\u0301\u0302\u0303\u0308\u030a\u0327\u0345\u20d7\ufe0f",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持音",
    "japanese": "ひらがなカタカナの日本語です。ーッ",
    "korean": "한국어텍스트입니다가나다라",
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔ",
    "arabic": "العربيةمرحبا٠١٢٣٤٥٦٧٨٩",
    "hebrew": "עברית שלום",
    "devanagari": "हिन्दीनमस्ते०१२३",
    "thai": "ภาษาไทยสวัสดี",
    "numbers": "½¾²³¹⁰ⅠⅡⅢⅣ①②③٣۴߁௧",
    "emoji": "😀😂🥲🤖👍🎉🔥💯🚀🌍❤️✨🙏🏽",
    "controls": "\x00\x01\x07\x08\x1b\x1c\x1d\x1e\x1f\x7f\x80\x9f\u200b\u200d\u2060\ufeff",
    "symbols": "€£¥©®™°±×÷→←↑↓∞≈≠≤≥√∑∫∂∆πΩµ",
}
EMOJI_SEQUENCES = [
    "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🇺🇳", "🇯🇵", "👍🏿", "🧑🏻‍🚀", "❤️‍🔥", "1️⃣", "🫶🏼",
]
CONTRACTIONS = ["it's", "don't", "we'll", "they're", "I've", "I'm", "she'd", "IT'S", "DON'T",
                "O'Neil", "rock'n'roll", "’s", "it’s", "'''", "''s", "'sss"]
EDGE_CASES = [
    "", " ", "  ", "\n", "\n\n\n", " \n ", "a", "  a", "a  ", "\t\tdef f():\n\t\t\treturn 1",
    "<|endoftext|>", "text<|endoftext|>more", " <|endoftext|> ", "x" * 5000,
    "supercalifragilisticexpialidocious" * 20, "1234567890" * 50, "🎉" * 100,
    "a\u0301" * 30, "\r\n\r\n", "   \u00a0\u00a0  x", "Hello,World!", "e.g.", "3.14e-10",
]


def _stdlib_texts() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for name in STDLIB_MODULES:
        path = root / name if name.endswith(".py") else root / f"{name}.py"
        texts.append(path.read_text(encoding="utf-8"))
    return texts


def _chunks(text: str, rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        start = rng.randrange(len(text))
        out.append(text[start : start + rng.choice((20, 80, 200, 600, 2000))])
    return out


def _synthetic(rng: random.Random) -> str:
    names = rng.sample(sorted(POOLS), rng.randint(1, 4))
    parts = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.1:
            parts.append(rng.choice(EMOJI_SEQUENCES))
        elif kind < 0.2:
            parts.append(rng.choice(CONTRACTIONS))
        elif kind < 0.3:
            parts.append(rng.choice(" \n\t") * rng.randint(1, 9))
        else:
            pool = POOLS[rng.choice(names)]
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 15))))
        if rng.random() < 0.5:
            parts.append(rng.choice([" ", "", "\n", "  ", ", ", ". "]))
    return "".join(parts)


def corpus(size: int = 10_000, seed: int = 2026) -> list[str]:
    rng = random.Random(seed)
    texts = _stdlib_texts()
    real = [chunk for text in texts for chunk in _chunks(text, rng, size // (2 * len(texts)))]
    synthetic = [_synthetic(rng) for _ in range(size - len(real) - len(EDGE_CASES))]
    return [*EDGE_CASES, *real, *synthetic]
