"""Regenerates `tests/data/tokenizer_cases.json`, the tokenizer's golden cases.

The Kotlin tokenizer in `android_demo/` must reproduce every case's `tokens` and
`token_ids` exactly (`docs/contracts.md`). The output is deterministic: the fuzz
strings come from `random.Random(seed).random()` only, whose sequence Python keeps
stable across versions. `tests/data/test_tokenizer.py` fails when the committed file
is stale.

The rules of `tflite_lowrank-clean-v2` read Unicode data (categories, case, NFKC),
and each platform has its own Unicode version (Python 3.11: 14.0, Java 17: 13.0,
Android: its ICU's). The hand cases use long-assigned characters only, and a random
code point of our fuzz is one whose category Unicode 3.2 already had
(`unicodedata.ucd_3_2_0`), so the file holds no character a platform may not know.

The `text_vectorization` section comes from a real `keras.layers.TextVectorization`
(default settings, `output_sequence_length=SEQ_LEN`): its `token_ids` are the layer's
output for a fixed vocabulary, and its `tokens` are read back through a second layer
whose vocabulary holds every token (the generator fails if Keras makes a token that
`text_vectorization_tokens` does not).

Usage (from the repository root):

    .venv/bin/python tests/make_tokenizer_cases.py
"""

from __future__ import annotations

import json
import random
import sys
import unicodedata
from pathlib import Path

from tflite_lowrank.data.text_vectorization import (
    TEXT_VECTORIZATION_VERSION,
    text_vectorization_tokens,
)
from tflite_lowrank.data.tokenizer import (
    PAD_TOKEN,
    TOKENIZER_VERSION,
    UNK_TOKEN,
    Tokenizer,
    clean_text,
)

CASES_PATH = Path(__file__).parent / "data" / "tokenizer_cases.json"
SEQ_LEN = 16
FUZZ_SEED = 20190127
NUM_FUZZ = 200

# A small fixed vocabulary: common words, clitics and punctuation are in; words such
# as "masterpiece", "caf" or "zzyzx" are deliberately out (they map to <unk> = 1).
VOCAB_WORDS = (
    "the , . a and of to is 's it n't ! ? ( ) ' ` film movie this that but not "
    "do does i you we they 've 're 'd 'll ca wo can are was good bad best worst "
    "great fun boring plot 10 1 2 2019 s t re ve d ll x "
    # Other scripts, as the rules make them (lower case, NFKC, σ for ς).
    "café človek šport straße œuvre été фильм хороший ταινία οδοσ istanbul ıslak "
    "فيلم رائع 映 画 電 影 영화 ٣ १२३ naïve"
).split()

HAND_CASES = (
    "The film is good.",
    "It's a movie that doesn't work, isn't it?",
    "DON'T MISS IT!!! I CAN'T WAIT, WON'T YOU?",
    "They've said we'd go; you'll see they're right.",
    "Don’t use curly quotes ‘like’ this — they’re not ASCII.",
    "``Quoted'' in LaTeX style, with `backticks'.",
    "Wait... what?!?! Really?? (No.)",
    "((nested (parentheses))) and [brackets] {braces} <angles>",
    "The 10/10 film of 2019: 1.5 hours, $8, 100% fun & 2nd-best #1.",
    "tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeeds",
    "  leading and trailing spaces  ",
    "Café, naïve, résumé, Ångström, São Paulo, Zürich.",
    "cafe\u0301 with a combining accent",
    "Straße, İstanbul, ıi, K (Kelvin sign), Å (Angstrom sign)",
    "ﬁlm ﬂop (ligatures)",
    "ＦＵＬＬＷＩＤＴＨ ｆｉｌｍ！ （ｇｏｏｄ）",
    "Emoji 🎬🍿 and ZWJ 👩‍👩‍👧 and flags 🇺🇸 and skin 👍🏽!",
    "日本語の映画はとても良かった。",
    "中文电影很好看！还有 English words.",
    "한국 영화 good",
    "Русский фильм хороший, but the plot was bad",
    "Ελληνικά, العربية, עברית mixed with film",
    "𝐁𝐨𝐥𝐝 math letters and 𠜎 CJK extension B",
    "",
    "   \t\n  ",
    "!?.,()`'",
    "...",
    "'s 've n't 're 'd 'll",
    "n'tn't's'd'll're've",
    "can't won't shan't ain't y'all o'clock rock'n'roll",
    "the film's director's cut isn't the studio's",
    "Mr. Smith vs. Dr. Jones, e.g. U.S.A. i.e.",
    "it''s a double apostrophe and it ' s spaced",
    "zero\u200bwidth\u00a0nbsp\u3000ideographic\u2028line\u2029para\x85nel",
    "control\x00chars\x01\x1f\x7f\x80\x9f here",
    "\ufeffBOM at start and U+FFFD \ufffd and private \ue000 use",
    "supercalifragilisticexpialidocious zzyzx qwxzv masterpiece",
    "MiXeD CaSe WoRdS: ThE FiLm WaS GoOd",
    "the " * 30 + "end",
    "one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen",
    "a" * 100 + " " + "b" * 5,
    "x" * 17 + "!" * 17,
    # Issue 30: the letters and digits of every script are kept (rules v2).
    "Že včeraj ... človek ... šport",
    "Že včeraj je ČLOVEK rekel, da je šport čudovit. Ščukin in Đurđa!",
    "Die Straße ist GROSS, aber STRAẞE? Grüße aus Köln, Ärger & Öl.",
    "L’été, c'est l'œuvre d’un cœur. ŒUVRE réussie : « très » bien… À bientôt !",
    "aujourd'hui qu'il n'est pas là, j'ai vu l'ÉTÉ",
    "Фильм «Ёжик в тумане» — ШЕДЕВР! Хороший фильм, ещё раз.",
    "Η ταινία ΗΤΑΝ ΚΑΛΗ· ΟΔΟΣ, οδός, Σ ΣΑΣ-ΣΑΣ ΑΣ1Α ΑΣ.Α ς ΐ",
    "İstanbul'da IŞIK ıslak; İYİ film, ıi İI i̇ ISTANBUL",
    "الفيلم رائع جداً! ٣ من ٥ نجوم، ﻻ بأس. فيلم رائع",
    "Great 🎬🍿! 👍🏽 👩‍👩‍👧 🇸🇮 ❤️ film ☺ ★★★★☆",
    "我喜欢这部电影。日本語の映画はとても良かった。한국 영화 최고!",
    "電影 電影院 映画館 𠜎𠜱 ㍿ 〇 々 ー カタカナ ｶﾀｶﾅ",
    "Film Фильм φιλμ فيلم 映画 фильм-film film2024 ١٢٣abc Ⅻ",
    "٣٤٥ ۱۲۳ १२३ ১২৩ ๑๒๓ ௧௨௩ ２０２４ ① ² ½ ¾ Ⅻ ↉",
    "Cafe\u0301 c\u030clovek S\u030cport n\u0303 A\u030a e\u0301te\u0301 i\u0307",
    "\u0915\u093c \u0939\u093f\u0928\u094d\u0926\u0940 "
    "\u092b\u093c\u093f\u0932\u094d\u092e \u0958",
    "ﬁlm ＦＵＬＬ ＷＩＤＴＨ！ ℌ K Å Ω ſ µ ﬀ ﬃ ＇ｓ ｎ＇ｔ",
    "naïve nai\u0308ve NAÏVE NAI\u0308VE Ǆ ǅ ǆ \u03aa\u0301 ΐ \u1e9b\u0323",
    "שלום film עברית, ภาษาไทย ดีมาก, ქართული, Հայերեն, ᏣᎳᎩ",
    "soft\xadhyphen zero\u200bwidth zw\u200cnj zw\u200dj lrm\u200e rlm\u200f",
)

# TextVectorization: a vocabulary of what its default standardization leaves, e.g.
# "isnt" for "isn't", "hubbletelescope" for "Hubble-telescope", "cafÉ" for "CAFÉ" (only
# ASCII is lower-cased) and non-ASCII punctuation kept inside tokens.
TV_VOCAB_WORDS = (
    "the film is good a and of it isnt dont its nasas hubbletelescope dead "
    "emailed e mail 1010 2019 café cafÉ naïve zürich straße İstanbul 東京 日本語の映画 "
    "🎬 👍🏽 “quoted” — ’ ¿que «a» …"
).split()

TV_HAND_CASES = (
    "NASA's Hubble-telescope isn't dead!",
    "It's a film -- isn't it? Don't; it's good.",
    "e-mail, E-Mailed, e--mail and -hyphen- ",
    "“Quoted” — ’single’ ‘curly’ ¿Que? «a» … !¡",
    "CAFÉ Café café ÀÉÎ İstanbul STRAẞE Straße ＦＵＬＬ",
    "東京 日本語の映画 🎬🍿 👍🏽 👩\u200d👩\u200d👧 🇺🇸 𝐁𝐨𝐥𝐝",
    "tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeeds",
    "not split: a\x1cb c\x1dd e\x85f g\xa0h i\u3000j k\u2028l m\u200bn",
    "   runs   of \t\t spaces \n\n ",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "[UNK] <pad> <unk> [MASK]",
    "10/10, 2,019.50$ 100% C++ C# a_b a.b.c",
    "",
    " ",
    "\t\n\r",
    "the " * 20 + "end",
)
TV_FUZZ_SEED = 20250611
TV_NUM_FUZZ = 100

# Fuzz alphabet: weighted pieces of odd input, some multi-character.
_ASCII = [chr(c) for c in range(0x20, 0x7F)]
_BASE_PIECES = (
    _ASCII
    + list("(),!?'`.") * 4
    + ["'s", "'S", "'ve", "n't", "N'T", "'re", "'d", "'ll", "'LL"] * 2
    + list(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a")
    + list("\u2028\u2029\u202f\u205f\u3000\u200b\u200d\ufeff\x00\x7f\x9f")
    + list("éÉñçøßÅåİıﬁﬀＡｚ０！（）²³Ⅻ٣५\u0301\u0308\u2019\u2018\u201c\u201d")
    + list("\u212a\u212b\ufffd\ue000\uffff")
    + list("日本語中文한국어Русскийελληνικάالعربيةעברית")
    + ["🎬", "🍿", "👍🏽", "👩\u200d👩\u200d👧", "🇺🇸", "𝐀", "𠜎", "\U0010fffd"]
)
# Our rules' fuzz adds the letters, marks and digits of other scripts (NFD pieces
# too), and the Greek sigmas whose lower case Python and Java place differently.
_PIECES = (
    *_BASE_PIECES,
    *"čšžČŠŽđĐćĆäöüÄÖÜẞœŒæÆàâçèêëîïôûùÿÀÉÈÊŸ",
    *"ёЁйЙъЫэЮя",
    *["Σ", "ς", "σ", "ΑΣ", "ΣΑΣ", "Ά", "ΐ", "ΰ", "ϴ", "ϐ"],
    *["İ", "ı", "I", "i", "i\u0307", "I\u0307"],
    *"ًٌٍَُِّْٰـﻻﷲ٠١٢٣٤٥۱۲۳",
    *["\u0915\u093c", "\u093f", "\u094d", "१२३", "ภา", "\u0e31"],
    *["e\u0301", "c\u030c", "s\u030c", "A\u030a", "\u0307", "\u0327", "\u20dd"],
    *"電影映画館ｶﾀｶﾅー々〇㍿Ⅻⅻ①½²ǄǅǆſﬀＡＺ＇",
    *["\uff07s", "n\uff07t", "\u2019s", "\u00ad", "\u200c", "\u200e", "\u034f"],
)


def _pick(rng: random.Random, items: list | tuple):
    return items[int(rng.random() * len(items))]


def _random_code_point(rng: random.Random, stable: bool = False) -> str:
    """Any code point except the surrogates (JSON parsers disagree on lone ones).

    With `stable`, only one whose general category and NFKC form are those of
    Unicode 3.2: a character every platform's Unicode data knows alike.
    """
    while True:
        code_point = int(rng.random() * 0x110000)
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        character = chr(code_point)
        old = unicodedata.ucd_3_2_0
        if not stable or (
            old.category(character) == unicodedata.category(character)
            and old.normalize("NFKC", character)
            == unicodedata.normalize("NFKC", character)
        ):
            return character


# TextVectorization's fuzz adds every ASCII punctuation mark and Unicode punctuation.
_TV_PIECES = (
    *_BASE_PIECES,
    *(list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") * 2),
    *"“”‘’—–…¿¡«»·•‐‑‒―″′§¶†‡‰※、。・「」『』【】〜！？，．：；",
    *["isn't", "NASA's", "Hubble-telescope", "CAFÉ", "İ"],
)


def fuzz_texts(
    seed: int = FUZZ_SEED,
    count: int = NUM_FUZZ,
    pieces: tuple = _PIECES,
    stable: bool = True,
) -> list[str]:
    """Seeded random strings of odd Unicode, deterministic across Python versions.

    `stable`: random code points only from those Unicode 3.2 already had (our rules
    read the platform's Unicode data; `TextVectorization`'s look at ASCII only).
    """
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        length = int(rng.random() * 40)
        parts = []
        for _ in range(length):
            if rng.random() < 0.1:
                parts.append(_random_code_point(rng, stable))
            else:
                parts.append(_pick(rng, pieces))
        texts.append("".join(parts))
    return texts


def build_cases() -> dict:
    """Returns the golden-cases document (the JSON format of `docs/contracts.md`)."""
    tokenizer = Tokenizer([PAD_TOKEN, UNK_TOKEN, *VOCAB_WORDS], seq_len=SEQ_LEN)
    texts = [*HAND_CASES, *fuzz_texts()]
    ids = tokenizer.encode(texts)
    return {
        "tokenizer": TOKENIZER_VERSION,
        "seq_len": SEQ_LEN,
        "vocab": list(tokenizer.vocabulary),
        "cases": [
            {"text": text, "tokens": clean_text(text), "token_ids": row.tolist()}
            for text, row in zip(texts, ids, strict=True)
        ],
        "text_vectorization": build_text_vectorization_cases(),
    }


def text_vectorization_texts() -> list[str]:
    """The texts of the `text_vectorization` section: hand-made, then fuzz."""
    fuzz = fuzz_texts(TV_FUZZ_SEED, TV_NUM_FUZZ, _TV_PIECES, stable=False)
    return [*TV_HAND_CASES, *HAND_CASES, *fuzz]


def build_text_vectorization_cases() -> dict:
    """The `text_vectorization` section, from a real Keras `TextVectorization`."""
    import keras

    texts = text_vectorization_texts()
    layer = keras.layers.TextVectorization(
        vocabulary=list(TV_VOCAB_WORDS), output_sequence_length=SEQ_LEN
    )
    vocab = [str(token) for token in layer.get_vocabulary()]
    ids = keras.ops.convert_to_numpy(layer(texts))
    # Keras's own tokens: look every token up in a layer that knows them all.
    known = sorted({t for text in texts for t in text_vectorization_tokens(text)})
    reader = keras.layers.TextVectorization(vocabulary=known)
    every = [str(token) for token in reader.get_vocabulary()]
    rows = keras.ops.convert_to_numpy(reader(texts))
    cases = []
    for text, row, full in zip(texts, ids, rows, strict=True):
        ours = text_vectorization_tokens(text)
        keras_ids = [i for i in full.tolist() if i != 0]
        tokens = [every[i] for i in keras_ids]
        # NumPy drops a vocabulary token's trailing NULs, so the reader cannot know
        # such a token (id 1): there only, the token is ours.
        if len(tokens) != len(ours) or any(
            i == 1 and not ours[j].endswith("\x00") for j, i in enumerate(keras_ids)
        ):
            raise AssertionError(
                f"Keras made a token that text_vectorization_tokens does not: {text!r}"
            )
        tokens = [ours[j] if i == 1 else tokens[j] for j, i in enumerate(keras_ids)]
        cases.append({"text": text, "tokens": tokens, "token_ids": row.tolist()})
    return {
        "tokenizer": TEXT_VECTORIZATION_VERSION,
        "seq_len": SEQ_LEN,
        "vocab": vocab,
        "cases": cases,
    }


def _render_section(document: dict, indent: str) -> str:
    cases = ",\n".join(
        indent + "    " + json.dumps(case, ensure_ascii=True)
        for case in document["cases"]
    )
    header = {key: value for key, value in document.items() if key != "cases"}
    head = json.dumps(header, ensure_ascii=True)[:-1]  # Drop the closing brace.
    return f'{head}, "cases": [\n{cases}\n{indent}]'


def render() -> str:
    """The file content: ASCII-only JSON (non-ASCII as \\u escapes), one case a line."""
    document = build_cases()
    section = document.pop("text_vectorization")
    return (
        _render_section(document, "")
        + ',\n"text_vectorization": '
        + _render_section(section, "  ")
        + "}\n}\n"
    )


def main() -> int:
    CASES_PATH.parent.mkdir(parents=True, exist_ok=True)
    content = render()
    CASES_PATH.write_text(content, encoding="utf-8", newline="\n")
    print(f"wrote {content.count(chr(10)) - 4} cases to {CASES_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
