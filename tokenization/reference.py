"""The authors' preprocessing and their whole slow pipeline, as `finetune-transformer-lm/text_utils.py` runs them.

Owns `text_standardize` (verbatim), `fix_text_if_needed` (the authors' `ftfy.fix_text`, skipped on the lines where
its result is known in advance: the fast pipeline's first step, in Python) and `ReferenceEncoder` (ftfy,
`text_standardize`, spaCy's English tokenizer, lower-casing, BPE with `</w>`: the yardstick the fast pipeline of
`tokenization_gpt1` is measured against).

`save_pretrained` copies this module beside `tokenization_gpt1.py` (which imports it relatively) for
`trust_remote_code=True`, so it imports only the standard library; ftfy and spaCy are imported inside `try: ...
except ImportError`, which transformers' check of a copied module's imports skips.
"""

from __future__ import annotations

import re

# ----------------------------------------------------------------------------------------------------------------
# The authors' preprocessing, verbatim (finetune-transformer-lm/text_utils.py)


def text_standardize(text: str) -> str:
    """The authors' `text_standardize`: unify dashes and ellipses, isolate punctuation runs, collapse whitespace."""
    text = text.replace("—", "-")
    text = text.replace("–", "-")
    text = text.replace("―", "-")
    text = text.replace("…", "...")
    text = text.replace("´", "'")
    text = re.sub(r"""(-+|~+|!+|"+|;+|\?+|\++|,+|\)+|\(+|\\+|\/+|\*+|\[+|\]+|}+|{+|\|+|_+)""", r" \1 ", text)
    text = re.sub(r"\s*\n\s*", " \n ", text)
    text = re.sub(r"[^\S\n]+", " ", text)
    return text.strip()


# ftfy.fix_text cannot change a line made only of these characters: every ftfy fix needs something else to act on
# (mojibake, ligatures, widths and NFC need non-ASCII; HTML entities need `&`; line-break fixes need `\r`; terminal
# escapes need `\x1b`; control-character removal needs \x00-\x08, \x0b, \x0e-\x1f, \x7f).
_FTFY_NOOP = re.compile(r"[\t\n\x20-\x25\x27-\x7e]*")
# Add curly quotes, dashes and the ellipsis (most of the non-ASCII in English text), and the only fix ftfy makes is
# uncurling the quotes: none of them is "bad" (mojibake-like) for ftfy, alone or next to each other or to ASCII.
# Both rules are checked against ftfy itself by the tests (exhaustively on short strings, and on the corpora).
_FTFY_UNCURL_ONLY = re.compile(r"[\t\n\x20-\x25\x27-\x7e‘’“”—–…]*")
_UNCURL = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def _fix_line(line: str, unescape_html: bool | str) -> str:
    if _FTFY_NOOP.fullmatch(line):
        return line
    if _FTFY_UNCURL_ONLY.fullmatch(line):
        return line.translate(_UNCURL)
    try:
        import ftfy
    except ImportError as err:
        raise ImportError(
            "GPT1Tokenizer needs ftfy to repair non-ASCII text as the authors did: pip install ftfy"
        ) from err
    return ftfy.fix_text(line, unescape_html=unescape_html)


def fix_text_if_needed(text: str) -> str:
    """`ftfy.fix_text(text)`, without calling ftfy on the lines where its result is known in advance.

    Equal to `ftfy.fix_text(text)` for every input; costs one regex scan for plain English text.
    """
    if _FTFY_NOOP.fullmatch(text):
        return text
    # ftfy works line by line, and turns HTML unescaping off for good once a line contains "<" ("auto" mode).
    out, unescape = [], "auto"
    for line in text.splitlines(keepends=True) if "\n" in text else [text]:
        if unescape and "<" in line:
            unescape = False
        out.append(_fix_line(line, unescape))
    return "".join(out)


# ----------------------------------------------------------------------------------------------------------------
# The reference: the authors' slow pipeline, literally


class ReferenceEncoder:
    """The authors' `TextEncoder`: ftfy, `text_standardize`, spaCy's English tokenizer, lower-case, BPE with `</w>`.

    Slow (pure Python + spaCy) and exact; the yardstick for `GPT1Tokenizer`. Needs `ftfy` and `spacy` (the
    `reference` extra); `spacy.blank("en")` has the same tokenizer as the `spacy.load("en")` of the original code.
    """

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        try:
            import ftfy
            import spacy
        except ImportError as err:
            raise ImportError("the reference mode needs ftfy and spacy: pip install ftfy spacy") from err
        self.nlp = spacy.blank("en")
        self.fix_text = ftfy.fix_text
        self.encoder = vocab
        self.bpe_ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.cache: dict[str, str] = {}

    def bpe(self, token: str) -> str:
        """The authors' `TextEncoder.bpe`: merge pieces of one lower-cased word, `</w>` on the last symbol."""
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        if token in self.cache:
            return self.cache[token]
        pairs = _get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = _get_pairs(word)
        word = " ".join(word)
        if word == "\n  </w>":
            word = "\n</w>"
        self.cache[token] = word
        return word

    def words(self, text: str) -> list[str]:
        """The lower-cased spaCy tokens of `text`, as the authors fed them to `bpe`."""
        return [token.text.lower() for token in self.nlp(text_standardize(self.fix_text(text)))]

    def pieces(self, text: str) -> list[str]:
        """BPE pieces (with `</w>`) of `text`."""
        return [piece for word in self.words(text) for piece in self.bpe(word).split(" ")]

    def encode(self, text: str) -> list[int]:
        """Ids of `text`, exactly as the authors' `TextEncoder.encode([text])[0]`; unknown pieces get 0."""
        return [self.encoder.get(piece, 0) for piece in self.pieces(text)]


def _get_pairs(word: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in zip(word, word[1:])}


__all__ = ["ReferenceEncoder", "fix_text_if_needed", "text_standardize"]
