"""The GPT-1 tokenizer: the authors' BPE vocabulary and preprocessing, at the speed of the `tokenizers` library.

The authors (openai/finetune-transformer-lm, `text_utils.py`) tokenized with `ftfy.fix_text`, their
`text_standardize`, spaCy's English tokenizer, lower-casing, and a BPE whose words end in `</w>`. transformers'
`OpenAIGPTTokenizer` replaces the middle of that with BERT-style splitting, so the same text gets other ids than the
model was trained on. `GPT1Tokenizer` runs the authors' pipeline:

- ftfy in Python, skipped for the (most) lines it provably cannot change (`fix_text_if_needed`);
- `text_standardize` and spaCy's English splitting re-expressed as `tokenizers` normalizer rules (zero-width regex
  insertions of spaces, made while the original case is still there, because spaCy's rules are case-sensitive:
  `Mr.` is one token, `mr.` is two), then lower-casing, a split on spaces, and the BPE model with `</w>`;
- or, with `reference_mode=True`, the literal slow pipeline (needs ftfy and spaCy; `spacy.blank("en")` is the same
  tokenizer as the `spacy.load("en")` the authors used, with no model to download). It is the yardstick the fast
  path is measured against.

This module is self-contained (transformers, tokenizers, the standard library, optionally ftfy and spaCy) because
`save_pretrained` copies it next to the vocabulary, so `AutoTokenizer.from_pretrained(dir, trust_remote_code=True)`
works where the `tokenization` package is not installed. transformers refuses to load a copied module when a module
it imports is missing, even an import inside a function: ftfy and spaCy are imported only inside `try: ...
except ImportError`, which that check skips (tests/test_tokenization_remote.py holds the module to this).
"""

from __future__ import annotations

import gc
import json
import os
import re
from bisect import bisect_left
from collections.abc import Iterable
from contextlib import contextmanager
from functools import lru_cache
from itertools import accumulate, chain, pairwise
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy
from transformers.tokenization_utils_tokenizers import TokenizersBackend

VOCAB_FILES_NAMES = {"vocab_file": "vocab.json", "merges_file": "merges.txt", "tokenizer_file": "tokenizer.json"}
# The names the authors' release uses for the same two files.
ORIGINAL_VOCAB_FILE = "encoder_bpe_40000.json"
ORIGINAL_MERGES_FILE = "vocab_40000.bpe"
HUB_ID = "openai-community/openai-gpt"

UNK_TOKEN = "<unk>"
START_TOKEN = "_start_"
DELIMITER_TOKEN = "_delimiter_"
CLASSIFY_TOKEN = "_classify_"
# Appended after the vocabulary in this order, so the original vocabulary gets ids 40478, 40479, 40480.
FINE_TUNING_TOKENS = (START_TOKEN, DELIMITER_TOKEN, CLASSIFY_TOKEN)
END_OF_WORD = "</w>"


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


def read_vocab_and_merges(vocab_file: str | os.PathLike, merges_file: str | os.PathLike):
    """Read and check an `encoder_bpe_40000.json` / `vocab.json` and a `vocab_40000.bpe` / `merges.txt`.

    Returns `(vocab, merges)`: a token -> id dict and a list of `(left, right)` pairs in rank order. Raises one
    `ValueError` naming the file and the problem when a file is missing, not JSON, or has no `#version` header.
    """
    vocab_file, merges_file = Path(vocab_file), Path(merges_file)
    for path in (vocab_file, merges_file):
        if not path.is_file():
            raise ValueError(f"GPT-1 vocabulary file not found: {path}")
    try:
        vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{vocab_file} is not a JSON token -> id map (corrupt vocab file?): {err}") from err
    if not isinstance(vocab, dict) or not all(isinstance(i, int) for i in vocab.values()):
        raise ValueError(f"{vocab_file} must be a JSON object mapping tokens to integer ids")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError(f"{vocab_file}: ids must be 0..{len(vocab) - 1} without gaps or repeats")
    # The authors read it as open(bpe_path).read().split('\n')[1:-1]: a header line, then one merge per line.
    lines = merges_file.read_text(encoding="utf-8").split("\n")
    if not lines[0].startswith("#version"):
        raise ValueError(
            f"{merges_file} does not start with a '#version: 0.2' header line; is it a BPE merges file? "
            f"(first line: {lines[0][:60]!r})"
        )
    merges = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        pair = line.split()
        if len(pair) != 2:
            raise ValueError(f"{merges_file}:{number}: expected two symbols separated by a space, got {line!r}")
        merges.append((pair[0], pair[1]))
    missing = next((p for p in merges if p[0] + p[1] not in vocab), None)
    if missing is not None:
        raise ValueError(f"merge {missing} of {merges_file} makes {missing[0] + missing[1]!r}, not in {vocab_file}")
    return vocab, merges


def bundled_files() -> tuple[Path, Path]:
    """Paths of the authors' vocabulary and merges shipped with the package (or next to this file when copied)."""
    here = Path(__file__).resolve().parent
    for folder in (here / "data", here):
        if (folder / ORIGINAL_VOCAB_FILE).is_file() and (folder / ORIGINAL_MERGES_FILE).is_file():
            return folder / ORIGINAL_VOCAB_FILE, folder / ORIGINAL_MERGES_FILE
    raise ValueError(
        f"the bundled GPT-1 vocabulary ({ORIGINAL_VOCAB_FILE}, {ORIGINAL_MERGES_FILE}) is not next to {__file__}; "
        "pass vocab_file= and merges_file= instead"
    )


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


# ----------------------------------------------------------------------------------------------------------------
# The fast pipeline: text_standardize and spaCy's English tokenizer as tokenizers normalizer rules
#
# Every rule below inserts spaces (zero-width regex matches replaced by " ") while the text still has its case;
# spaCy's decisions that depend on case (`Mr.` vs `mr.`, `I.` vs `II.`, `Don't` vs `DON'T`) are taken there. The
# spaCy tokenizer exceptions that survive text_standardize (the rest contain a character it isolates and can never
# be seen whole) are listed below: "w|w" splits, and single tokens that must not be split. They are exported from
# spaCy 3.8's English defaults (`tokenization.agreement.export_spacy_exceptions`, kept out of this module: see its
# docstring) and checked against spaCy by the tests.

_SPLIT_EXCEPTIONS = """
10|a.m. 10|am 10|p.m. 10|pm 11|a.m. 11|am 11|p.m. 11|pm 12|a.m. 12|am 12|p.m. 12|pm 1|a.m. 1|am 1|p.m.
1|pm 2|a.m. 2|am 2|p.m. 2|pm 3|a.m. 3|am 3|p.m. 3|pm 4|a.m. 4|am 4|p.m. 4|pm 5|a.m. 5|am 5|p.m. 5|pm
6|a.m. 6|am 6|p.m. 6|pm 7|a.m. 7|am 7|p.m. 7|pm 8|a.m. 8|am 8|p.m. 8|pm 9|a.m. 9|am 9|p.m. 9|pm Ai|n't
Ai|nt Are|n't Are|nt C'm|on Ca|n't Ca|n't|'ve Can|not Ca|nt Ca|nt|ve Could|'ve Could|n't Could|n't|'ve
Could|nt Could|nt|ve Could|ve Dare|n't Dare|nt Did|n't Did|n't|'ve Did|nt Did|nt|ve Does|n't
Does|n't|'ve Does|nt Does|nt|ve Do|n't Do|n't|'ve Do|nt Do|nt|ve Gon|na Got|ta Had|n't Had|n't|'ve
Had|nt Had|nt|ve Has|n't Has|nt Have|n't Have|nt He|'d He|'d|'ve He|'ll He|'ll|'ve He|'s He|d He|d|ve
He|ll|ve He|s How|'d How|'d|'ve How|'d|'y How|'ll How|'ll|'ve How|'re How|'s How|'ve How|d How|d|ve
How|ll How|ll|ve How|re How|s How|ve I|'d I|'d|'ve I|'ll I|'ll|'ve I|'m I|'m|a I|'ve I|d I|d|ve I|ll|ve
I|m I|m|a Is|n't Is|nt It|'d It|'d|'ve It|'ll It|'ll|'ve It|'s It|d It|d|ve It|ll It|ll|ve I|ve Let|'s
May|n't May|n't|'ve May|nt May|nt|ve Might|'ve Might|n't Might|n't|'ve Might|nt Might|nt|ve Might|ve
Must|'ve Must|n't Must|n't|'ve Must|nt Must|nt|ve Must|ve Need|n't Need|n't|'ve Need|nt Need|nt|ve
Not|'ve Not|ve Ought|n't Ought|n't|'ve Ought|nt Ought|nt|ve Sha|n't Sha|n't|'ve Sha|nt Sha|nt|ve She|'d
She|'d|'ve She|'ll She|'ll|'ve She|'s She|d|ve She|ll|ve She|s Should|'ve Should|n't Should|n't|'ve
Should|nt Should|nt|ve Should|ve That|'d That|'d|'ve That|'ll That|'ll|'ve That|'s That|d That|d|ve
That|ll That|ll|ve That|s There|'d There|'d|'ve There|'ll There|'ll|'ve There|'re There|'s There|'ve
There|d There|d|ve There|ll There|ll|ve There|re There|s There|ve These|'d These|'d|'ve These|'ll
These|'ll|'ve These|'re These|'ve These|d These|d|ve These|ll These|ll|ve These|re These|ve They|'d
They|'d|'ve They|'ll They|'ll|'ve They|'re They|'ve They|d They|d|ve They|ll They|ll|ve They|re They|ve
This|'d This|'d|'ve This|'ll This|'ll|'ve This|'s This|d This|d|ve This|ll This|ll|ve This|s Those|'d
Those|'d|'ve Those|'ll Those|'ll|'ve Those|'re Those|'ve Those|d Those|d|ve Those|ll Those|ll|ve
Those|re Those|ve Was|n't Was|nt We|'d We|'d|'ve We|'ll We|'ll|'ve We|'re We|'ve We|d We|d|ve We|ll|ve
Were|n't Were|nt We|ve What|'d What|'d|'ve What|'ll What|'ll|'ve What|'re What|'s What|'ve What|d
What|d|ve What|ll What|ll|ve What|re What|s What|ve When|'d When|'d|'ve When|'ll When|'ll|'ve When|'re
When|'s When|'ve When|d When|d|ve When|ll When|ll|ve When|re When|s When|ve Where|'d Where|'d|'ve
Where|'ll Where|'ll|'ve Where|'re Where|'s Where|'ve Where|d Where|d|ve Where|ll Where|ll|ve Where|re
Where|s Where|ve Who|'d Who|'d|'ve Who|'ll Who|'ll|'ve Who|'re Who|'s Who|'ve Who|d Who|d|ve Who|ll
Who|ll|ve Who|s Who|ve Why|'d Why|'d|'ve Why|'ll Why|'ll|'ve Why|'re Why|'s Why|'ve Why|d Why|d|ve
Why|ll Why|ll|ve Why|re Why|s Why|ve Wo|n't Wo|n't|'ve Wo|nt Wo|nt|ve Would|'ve Would|n't Would|n't|'ve
Would|nt Would|nt|ve Would|ve You|'d You|'d|'ve You|'ll You|'ll|'ve You|'re You|'ve You|d You|d|ve
You|ll You|ll|ve You|re You|ve ai|n't ai|nt are|n't are|nt c'm|on ca|n't ca|n't|'ve can|not ca|nt
ca|nt|ve could|'ve could|n't could|n't|'ve could|nt could|nt|ve could|ve dare|n't dare|nt did|n't
did|n't|'ve did|nt did|nt|ve does|n't does|n't|'ve does|nt does|nt|ve do|n't do|n't|'ve do|nt do|nt|ve
gon|na got|ta had|n't had|n't|'ve had|nt had|nt|ve has|n't has|nt have|n't have|nt he|'d he|'d|'ve
he|'ll he|'ll|'ve he|'s he|d he|d|ve he|ll|ve he|s how|'d how|'d|'ve how|'d|'y how|'ll how|'ll|'ve
how|'re how|'s how|'ve how|d how|d|ve how|ll how|ll|ve how|re how|s how|ve i|'d i|'d|'ve i|'ll i|'ll|'ve
i|'m i|'m|a i|'ve i|d i|d|ve i|ll|ve i|m i|m|a is|n't is|nt it|'d it|'d|'ve it|'ll it|'ll|'ve it|'s it|d
it|d|ve it|ll it|ll|ve i|ve let|'s may|n't may|n't|'ve may|nt may|nt|ve might|'ve might|n't
might|n't|'ve might|nt might|nt|ve might|ve must|'ve must|n't must|n't|'ve must|nt must|nt|ve must|ve
need|n't need|n't|'ve need|nt need|nt|ve not|'ve not|ve ought|n't ought|n't|'ve ought|nt ought|nt|ve
sha|n't sha|n't|'ve sha|nt sha|nt|ve she|'d she|'d|'ve she|'ll she|'ll|'ve she|'s she|d|ve she|ll|ve
she|s should|'ve should|n't should|n't|'ve should|nt should|nt|ve should|ve that|'d that|'d|'ve that|'ll
that|'ll|'ve that|'s that|d that|d|ve that|ll that|ll|ve that|s there|'d there|'d|'ve there|'ll
there|'ll|'ve there|'re there|'s there|'ve there|d there|d|ve there|ll there|ll|ve there|re there|s
there|ve these|'d these|'d|'ve these|'ll these|'ll|'ve these|'re these|'ve these|d these|d|ve these|ll
these|ll|ve these|re these|ve they|'d they|'d|'ve they|'ll they|'ll|'ve they|'re they|'ve they|d
they|d|ve they|ll they|ll|ve they|re they|ve this|'d this|'d|'ve this|'ll this|'ll|'ve this|'s this|d
this|d|ve this|ll this|ll|ve this|s those|'d those|'d|'ve those|'ll those|'ll|'ve those|'re those|'ve
those|d those|d|ve those|ll those|ll|ve those|re those|ve was|n't was|nt we|'d we|'d|'ve we|'ll
we|'ll|'ve we|'re we|'ve we|d we|d|ve we|ll|ve were|n't were|nt we|ve what|'d what|'d|'ve what|'ll
what|'ll|'ve what|'re what|'s what|'ve what|d what|d|ve what|ll what|ll|ve what|re what|s what|ve
when|'d when|'d|'ve when|'ll when|'ll|'ve when|'re when|'s when|'ve when|d when|d|ve when|ll when|ll|ve
when|re when|s when|ve where|'d where|'d|'ve where|'ll where|'ll|'ve where|'re where|'s where|'ve
where|d where|d|ve where|ll where|ll|ve where|re where|s where|ve who|'d who|'d|'ve who|'ll who|'ll|'ve
who|'re who|'s who|'ve who|d who|d|ve who|ll who|ll|ve who|s who|ve why|'d why|'d|'ve why|'ll
why|'ll|'ve why|'re why|'s why|'ve why|d why|d|ve why|ll why|ll|ve why|re why|s why|ve wo|n't wo|n't|'ve
wo|nt wo|nt|ve would|'ve would|n't would|n't|'ve would|nt would|nt|ve would|ve y'|all y|all you|'d
you|'d|'ve you|'ll you|'ll|'ve you|'re you|'ve you|d you|d|ve you|ll you|ll|ve you|re you|ve °|C|. °|F|.
°|K|. °|c|. °|f|. °|k|.
"""
_KEEP_EXCEPTIONS = """
' '' 'Cause 'Cos 'Coz 'Cuz 'S 'bout 'cause 'cos 'coz 'cuz 'd 'em 'll 'nuff 're 's 0.0 0.o :0 :1 :3 :> :D
:O :P :X :o :p :x <.< <3 <33 <333 <space> =3 =D >.< >.> >:o Adm. Ak. Ala. Apr. Ariz. Ark. Aug. Bros.
Calif. Co. Colo. Conn. Corp. D.C. Dec. Del. Doin' Dr. E.G. E.g. Feb. Fla. Ga. Gen. Goin' Gov. Havin'
I.E. I.e. Ia. Id. Ill. Inc. Ind. Jan. Jr. Jul. Jun. Kan. Kans. Ky. La. Lovin' Ltd. Ma'am Mar. Mass. Md.
Messrs. Mich. Minn. Miss. Mo. Mont. Mr. Mrs. Ms. Mt. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev.
Nothin' Nov. Nuthin' O'clock O.O O.o Oct. Okla. Ol' Ore. Pa. Ph.D. Prof. Rep. Rev. S.C. Sen. Sep. Sept.
Somethin' St. Tenn. V.V Va. Wash. Wis. a. a.m. b. c. co. d. doin' e. e.g. f. g. goin' h. havin' i. i.e.
j. k. l. lovin' m. ma'am n. nothin' nuthin' o'clock o. o.0 o.O o.o ol' p. p.m. q. r. s. somethin' t. u.
v. v.s. v.v vs. w. x. y. z. ä. ö. ü. ಠ︵ಠ
"""


def _parse_exceptions() -> tuple[list[list[str]], list[str]]:
    splits = [entry.split("|") for entry in _SPLIT_EXCEPTIONS.split()]
    keeps = _KEEP_EXCEPTIONS.split()
    return splits, keeps


# Python's `\s` (str.isspace), spelled out: the regex engine of tokenizers (Oniguruma) has a different `\s`.
_WS = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Marks both sides of a split made by a spaCy exception (`do|n't`): spaCy never splits those parts again, so no
# later rule may split there. Removed before lower-casing.
_MARK = "\x1e"
# Marks a position inside a spaCy exception kept whole (`Mr|.`); also removed before lower-casing.
_KEEP = "\x1f"
# Both marks are whitespace to Python (text_standardize makes them spaces) and the whitespace rules turn them into
# spaces before the marks are written: no text can hold one by then, so a mark is never a user's character (a
# printable private-use mark such as U+E000 was deleted from the text, and made or suppressed splits around it).
assert all(c.isspace() and c not in " \n" for c in _MARK + _KEEP)
# spaCy's punctuation, quotes and symbols ("icons": Unicode So) that it strips as prefixes and suffixes.
_PUNCT = "…,:;!?¿¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_QUOTES = "'\"”“`‘´’‚„»«"
_CURRENCY = "$£€¥฿₽₹"
_RUN_CHARS = '-~!";?+,)(\\/*[]{}|_'  # text_standardize puts spaces around runs of these
# (the runs are words of their own when spaCy runs, so the classes below leave them out: fewer candidates to test)
_PRE = re.escape("".join(c for c in "§%=" + _PUNCT + _QUOTES + _CURRENCY if c not in _RUN_CHARS)) + r"\p{So}"
_SUF = re.escape("".join(c for c in _PUNCT + _QUOTES if c not in _RUN_CHARS)) + r"\p{So}"
# Where a spaCy exception can start: after whitespace, or after one or two prefix characters that start the word
# (a cheap form of spaCy's "what is left after stripping prefixes"). It consumes them; the rules then `\K`.
_START = f"[ \\n](?:{_MARK}|[{_PRE}]{{0,2}})"
# ... and end: at the end of the word, or before suffixes spaCy strips first.
_END = f"(?=(?:[{_SUF}.%]|'[sS])*(?:[ \\n]|\\z))"
_UNITS = (
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh mph hPa "
    "Pa mbar mb MB kb KB gb GB tb TB T G M K %"
).split() + "$ £ € ¥ ฿ US$ C$ A$ ₽ ₹".split()
# spaCy splits a final "." after these (lower-case letters, digits, quotes, some punctuation) or two capitals.
# (spaCy's lower-case letters are Latin, Greek without its extended block, Cyrillic and the uncased scripts;
# ª and º are "Lo" for Unicode but not letters for spaCy).
_NOT_LOWER = "&&[^\u1f00-\u1fffªº]"
_BEFORE_DOT = r"[0-9\p{Ll}\p{Lo}%²\-+" + re.escape(_PUNCT + _QUOTES) + _NOT_LOWER + "]"
# ... and splits a "." between one of these and a capital or quote (no digits: `2.XXI` stays whole).
_BEFORE_INFIX_DOT = r"[\p{Ll}\p{Lo}" + re.escape(_QUOTES + "「」『』（）〔〕【】《》〈〉⟦⟧") + _NOT_LOWER + "]"
_UPPER = r"\p{Lu}"


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so that the regex engine prefers `Mrs` to `Mr`.
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _trie_regex(branches: dict[str, str]) -> str:
    """One regex matching `key` + `branches[key]` for every key, with the keys merged into a trie.

    Oniguruma tries the alternatives of a group one by one; with hundreds of exception words, a trie is what keeps
    these rules from costing a pass over every alternative at every position of the text.
    """
    trie: dict = {}
    for key, tail in branches.items():
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = tail

    def emit(node: dict) -> str:
        parts = [re.escape(c) + emit(child) for c, child in sorted(node.items()) if c] + (
            [node[""]] if "" in node else []
        )
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    return emit(trie)


def _insert(pattern: str, content: str = " ") -> normalizers.Replace:
    return normalizers.Replace(Regex(pattern), content)


@lru_cache(maxsize=1)
def _normalizer_rules() -> tuple[tuple[str, str], ...]:
    r"""The (regex, replacement) rules of the fast pipeline after `Strip` + `Prepend(" ")`, in order.

    Speed: Oniguruma finds a rule quickly when the pattern starts with a literal or a small character class (it
    skips ahead to candidate positions) and slowly when it starts with a lookaround (tried at every position). So
    most rules consume a literal ("." -> " .") or a delimiter and use `\K` (the match, and so the insertion point,
    starts there); the few that cannot are lookahead-first, which rejects most positions with one test.
    """
    splits, keeps = _parse_exceptions()
    rules: list[tuple[str, str]] = []
    # text_standardize: dashes, ellipsis, acute accent ...
    rules += [("[—–―]", "-"), ("…", "..."), ("´", "'")]
    # ... a space on both sides of every run of the same punctuation character (after: consume the run, \K;
    # before: a run character after a character that is neither a run character nor a space). Runs of dots are
    # isolated too: spaCy splits them off as a prefix, a suffix or an infix wherever they are.
    run = re.escape(_RUN_CHARS)
    runs = "|".join(re.escape(c) + "++" for c in _RUN_CHARS)
    # spaCy then peels such a run one character at a time when the character is one of its prefixes / suffixes
    # (`!!!` -> `! ! !`), but keeps `--`, `~~`, `//`, `||`, `\\\\` whole. Whitespace other than " " and "\n"
    # becomes a space (repeated spaces are harmless: the split on spaces drops empty words). Rules that write
    # the same thing share a pass where they can (every pass that changes the text costs a copy of it); a
    # boundary before a character and one after it cannot: a pass reports one match per position.
    peel = re.escape('!";?+,)(*[]{}_')
    other_ws = _WS.replace("\n", "").replace(" ", "")
    rules.append((f"(?=[{run}])(?<=[^{run} \\n])|(?=\\.\\.)(?<=[^. \\n])", " "))
    # (possessive runs: no space is written where one already follows, and a run is never cut to make room)
    rules.append((f"[{peel}]\\K(?=[{peel}])|(?:{runs}|\\.\\.++)\\K(?=[^ \\n])|[{other_ws}]", " "))
    # ... and every newline, with the whitespace after it, becomes " \n ".
    rules.append((f"\n[{_WS}]*", " \n "))
    # From here on the only whitespace is " " and "\n", and the text starts with " ".

    # spaCy exceptions that split a word (`don't` -> `do n't`, `cannot` -> `can not`). The mark keeps the second
    # part (`'ll`, `n't`) from being split again by the rules below, as spaCy never re-splits them.
    for index in (1, 2):
        groups: dict[str, set[str]] = {}
        for tokens in splits:
            if len(tokens) > index:
                groups.setdefault(tokens[index - 1], set()).add("".join(tokens[index:]))
        tails = {left: f"\\K(?=(?:{_alternation(rights)}){_END})" for left, rights in groups.items()}
        start = _START if index == 1 else f" {_MARK}"
        # (a mark on both sides of the space: `y'` of `y'all` must not lose its quote to the suffix rules either)
        rules.append((start + _trie_regex(tails), _MARK + " " + _MARK))
    # spaCy exceptions kept whole although they end or start with punctuation (`Mr.`, `goin'`, `'em`, `''`).
    ends = {k[:-1]: f"\\K(?={re.escape(k[-1])}{_END})" for k in keeps if not k[-1].isalnum() and len(k) > 1}
    firsts = {k[0] for k in keeps if len(k) > 1 and not k[0].isalnum()}
    starts = {c: f"\\K(?=(?:{_alternation(k[1:] for k in keeps if len(k) > 1 and k[0] == c)}){_END})" for c in firsts}
    rules.append((_START + _trie_regex({**ends, **starts}), _KEEP))

    # Suffixes, peeled from the end as spaCy does: `'s`, a final "." after a lower-case letter / digit / quote or
    # two capitals, the punctuation and quotes ending a word, units and currencies after digits (`5km`, `10%`).
    # (a "." after `'S` is not peeled, `S` being a single capital: then `'S` does not end the word either)
    end_no_dot = _END.replace(".", "")
    rules.append((f"'(?<=[^ \\n{_MARK}{_KEEP}]')(?=s{_END}|S{end_no_dot})", " " + _MARK + "'"))
    # Not after a one-letter word that spaCy 3 merges back with its "." into an exception (`20m.`, `We|d.`).
    rules.append(
        (
            f"\\.(?:(?<={_BEFORE_DOT}\\.)|(?<=[{_UPPER}][{_UPPER}]\\.))(?=[{_SUF}]*(?:[ \\n]|\\z))"
            f"(?<![0-9][mgt]\\.)(?<![{_MARK}][a-zäöü]\\.)",
            " .",
        )
    )
    # Then, in one pass: the punctuation and quotes ending a word (one boundary per character: spaCy peels them
    # one by one; `''` stays whole, spaCy 3 merging tokens that spell an exception back together); the position
    # before a symbol (an infix, see below); units and currencies after digits (`5km`, `10%`); and prefixes,
    # peeled from the start one at a time (a boundary after every character of a run of up to three prefix
    # characters that starts a word), with the currencies spelled with letters.
    chain = "|".join(f"[ \\n]{('[' + _PRE + ']') * n}" for n in (1, 2, 3))
    rules.append(
        (
            f"(?=[{_SUF}]+(?:[ \\n]|\\z)|\\p{{So}})(?<=[^ \\n{_MARK}{_KEEP}])(?!(?<=')')"
            f"|[0-9]\\K(?=(?:{_alternation(_UNITS)})[{_SUF}]*(?:[ \\n]|\\z)|[mgt]\\.(?:[ \\n]|\\z))"
            f"|[{_PRE}](?<={chain})\\K(?=[^ \\n{_MARK}{_KEEP}])(?!(?<=')')"
            r"|(?:US|C|A)\$(?<=[ \n](?:US|C|A)\$)\K(?=[^ \n])",
            " ",
        )
    )
    # Infixes: "." between a lower-case letter and a capital (not in `Ph.D.`), ":<>=" between letters, "^"
    # between digits, and symbols ("icons": °, ©, emoji) wherever they are.
    upper = f"[{_UPPER}{re.escape(_QUOTES)}]"
    rules.append((f"\\.(?<={_BEFORE_INFIX_DOT}\\.)(?!(?<=Ph\\.)D{_KEEP}?\\.)(?={upper})", " . "))
    for c in ":<>=":
        rules.append((f"{c}(?<=[\\p{{L}}0-9]{c})(?=\\p{{L}})", f" {c} "))
    rules.append((r"\^(?<=[0-9]\^)(?=[0-9])", " ^ "))
    rules.append((r"\p{So}\K(?=[^ \n])", " "))
    rules.append((f"[{_MARK}{_KEEP}]", ""))
    # Python lower-cases a word-final capital sigma to "ς" (the authors lower-cased each spaCy token in Python).
    rules.append((r"Σ(?<=\p{L}Σ)(?!\p{L})", "ς"))
    return tuple(rules)


def build_backend(vocab: dict[str, int], merges: list[tuple[str, str]]) -> Tokenizer:
    """The `tokenizers` pipeline of GPT-1 (without added tokens and post-processor) for a vocabulary + merges."""
    if UNK_TOKEN not in vocab:
        raise ValueError(f"the vocabulary has no {UNK_TOKEN!r} token (the authors' unknown / padding token)")
    backend = Tokenizer(
        BPE(
            vocab=vocab,
            merges=merges,
            dropout=None,
            continuing_subword_prefix="",
            end_of_word_suffix=END_OF_WORD,
            fuse_unk=False,
            unk_token=UNK_TOKEN,
        )
    )
    # Strip + Prepend(" "): text_standardize's strip(), and a space before the first word so that every rule can
    # find a word start by the space in front of it.
    rules = [_insert(pattern, content) for pattern, content in _normalizer_rules()]
    backend.normalizer = normalizers.Sequence(
        [normalizers.Strip(), normalizers.Prepend(" "), *rules, normalizers.Lowercase()]
    )
    backend.pre_tokenizer = pre_tokenizers.Split(" ", behavior="removed")
    backend.decoder = decoders.BPEDecoder(suffix=END_OF_WORD)
    return backend


# ----------------------------------------------------------------------------------------------------------------
# Plain ids at the speed of a dictionary: each distinct chunk through the pipeline once
#
# Every rule above acts inside a chunk of non-whitespace characters (spaCy tokenizes each space-separated chunk on
# its own, and no regex looks across whitespace; `[ \n]` and `\z` both end a word), and whitespace becomes no token
# except that a run of it holding a newline becomes the one word "\n". So the ids of a text are the ids of its
# chunks in order, with the newline's ids between lines, and a chunk needs the Rust pipeline only the first time it
# is seen. Running text repeats its words: on books this skips most of the regex passes and the BPE.

# What tokenizers' `Strip()` removes (Unicode White_Space): Python's whitespace less \x1c-\x1f, which the rules turn
# into spaces instead. Python's `str.split()` splits on exactly `_WS`.
_STRIP = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501


# Stands for the newline word among a text's chunks: a key no text can spell.
_NEWLINE = ("\n",)
# From the first to the last newline of a run of whitespace (the run becomes one newline word).
_NEWLINES = re.compile(f"\n(?:[{_WS}]*\n)+")


def _chunks(text: str) -> list:
    """A text's chunks in order, `_NEWLINE` where a run of whitespace holds a newline (after `Strip()`)."""
    text = text.strip(_STRIP)
    if "\n" not in text:
        return text.split()
    lines = _NEWLINES.sub("\n", text).split("\n")
    chunks = lines[0].split()
    for line in lines[1:]:
        chunks.append(_NEWLINE)
        chunks += line.split()
    return chunks


@contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector: a call builds millions of small lists (of strings and ints: no
    cycles to collect), and the collections their allocation triggers cost ~15% of the call."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ChunkCache(dict):
    """Ids of distinct chunks (`chunk -> ids`), filled from the Rust pipeline in bulk, emptied when it is full.

    Pickles empty: it is a cache, and `datasets` hashes the tokenizer to fingerprint a `map`, which must not depend
    on what the tokenizer has seen.
    """

    def __init__(self, max_size: int):
        super().__init__()
        self.max_size = max_size

    def __reduce__(self):
        return type(self), (self.max_size,)

    @_gc_paused()
    def encode(self, backend: Tokenizer, texts: list[str]) -> list[list[int]]:
        """The pipeline's ids of `texts` (already through ftfy), without special tokens."""
        docs = [_chunks(text) for text in texts]
        seen = set(chain.from_iterable(docs))
        new = seen.difference(self)
        if len(self) + len(new) > self.max_size:
            self.clear()
            new = seen
        self._add(backend, new)
        lookup = self.__getitem__
        out = [list(chain.from_iterable(map(lookup, doc))) for doc in docs]
        if len(self) > self.max_size:  # this call alone had more distinct chunks than the cache holds
            self.clear()
        return out

    def _add(self, backend: Tokenizer, chunks: set) -> None:
        if _NEWLINE not in self:  # (new chunks hold `_NEWLINE` only when it is not cached)
            # The word "\n" that a run of whitespace holding a newline becomes, through the BPE model.
            self[_NEWLINE] = [token.id for token in backend.model.tokenize("\n")]
        chunks = list(chunks - {_NEWLINE})
        # A few thousand chunks joined by spaces per text (the Rust side encodes a batch on all cores); a chunk's
        # tokens are those whose first character lies in it (tokens come in order and never span a space).
        groups = [chunks[i : i + 2048] for i in range(0, len(chunks), 2048)]
        encodings = backend.encode_batch([" ".join(group) for group in groups], add_special_tokens=False)
        for group, encoding in zip(groups, encodings):
            ids, begins = encoding.ids, [begin for begin, _ in encoding.offsets]
            starts = accumulate((len(c) + 1 for c in group[:-1]), initial=0)
            bounds = [bisect_left(begins, start) for start in starts] + [len(ids)]
            self.update(zip(group, (ids[i:j] for i, j in pairwise(bounds))))


# ----------------------------------------------------------------------------------------------------------------
# The transformers tokenizer


class GPT1Tokenizer(TokenizersBackend):
    r"""GPT-1's tokenizer: the authors' BPE vocabulary and preprocessing, backed by the `tokenizers` library.

    `GPT1Tokenizer()` loads the authors' vocabulary bundled with the package; `GPT1Tokenizer(vocab_file=...,
    merges_file=...)` loads `encoder_bpe_40000.json` / `vocab_40000.bpe` (or `vocab.json` / `merges.txt`, e.g. a
    vocabulary trained with `tokenization.train_tokenizer`); `from_pretrained(dir)` loads a saved tokenizer.

    Special tokens. `<unk>` (id 0) is the unknown token and the padding token: the authors padded with zeros, so
    padding never grows the vocabulary (attention masks and labels of -100 make it harmless). The fine-tuning tokens
    `_start_`, `_delimiter_`, `_classify_` are not in the pretrained vocabulary (40,478 tokens, which matches the
    pretrained embedding); they are appended (ids 40,478..40,480) by `add_fine_tuning_framing=True`,
    `add_fine_tuning_tokens()` or `tokenization.prepare_for_finetuning`.

    Args:
        vocab_file: `encoder_bpe_40000.json` / `vocab.json`, token -> id.
        merges_file: `vocab_40000.bpe` / `merges.txt`, a `#version` header then one merge per line.
        add_fine_tuning_framing: Frame every input as the paper does: `_start_ text _classify_` and
            `_start_ a _delimiter_ b _classify_` for pairs (truncation keeps `_classify_`). Adds the tokens.
        split_special_tokens: Read `<unk>`, `_start_`, ... in the text as text (the default), as the authors'
            pipeline did; the special ids come only from framing. False lets text spell special tokens.
        reference_mode: Tokenize with the literal slow pipeline (`ReferenceEncoder`: ftfy + spaCy) instead of the
            fast one; for measuring, not for training. Offsets and overflowing tokens are not available there.
        chunk_cache_size: Plain calls (texts without pairs; ids and attention masks, optionally truncated and
            padded, nothing per token) are answered from a cache of the ids of up to this many distinct
            space-separated chunks, running only new chunks through the pipeline (same ids, several times faster
            on running text). Calls that ask for offsets, overflowing tokens, special-token masks or lengths, and
            pairs, always run the whole pipeline and keep `BatchEncoding.encodings`; 0 does that for every call.
        vocab, merges: The vocabulary and merges as objects instead of files.
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]
    model = BPE

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        merges_file: str | os.PathLike | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        *,
        vocab: dict[str, int] | str | None = None,
        merges: list | str | None = None,
        unk_token: str = UNK_TOKEN,
        pad_token: str = UNK_TOKEN,
        add_fine_tuning_framing: bool = False,
        reference_mode: bool = False,
        model_max_length: int = 512,
        split_special_tokens: bool = True,
        chunk_cache_size: int = 200_000,
        **kwargs: Any,
    ):
        if str(unk_token) != UNK_TOKEN:
            raise ValueError(f"GPT-1's unknown token is {UNK_TOKEN!r}, got unk_token={unk_token!r}")
        # transformers passes vocab/merges as file paths when it found vocab.json / merges.txt.
        if isinstance(vocab, str) and vocab_file is None:
            vocab_file, vocab = vocab, None
        if isinstance(merges, str) and merges_file is None:
            merges_file, merges = merges, None
        if (vocab is None or merges is None) and tokenizer_file is not None and os.path.isfile(tokenizer_file):
            # A saved tokenizer.json (the remote-code path passes only this): take its vocabulary and merges; the
            # pipeline is rebuilt by this code, so it is always this version's.
            model = json.loads(Path(tokenizer_file).read_text(encoding="utf-8"))["model"]
            vocab, merges = model["vocab"], model["merges"]
        if vocab is None or merges is None:
            if vocab_file is None and merges_file is None:
                vocab_file, merges_file = bundled_files()
            elif vocab_file is None or merges_file is None:
                raise ValueError("GPT1Tokenizer needs both vocab_file and merges_file (or neither: bundled vocab)")
            vocab, merges = read_vocab_and_merges(vocab_file, merges_file)
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
        self._tokenizer = build_backend(vocab, merges)
        self._reference: ReferenceEncoder | None = ReferenceEncoder(vocab, merges) if reference_mode else None
        self._framing = bool(add_fine_tuning_framing)
        self._chunks = ChunkCache(chunk_cache_size)
        kwargs.pop("post_processor", None)  # rebuilt below from the framing flag
        super().__init__(
            unk_token=unk_token,
            pad_token=pad_token,
            add_fine_tuning_framing=add_fine_tuning_framing,
            reference_mode=reference_mode,
            model_max_length=model_max_length,
            split_special_tokens=split_special_tokens,
            chunk_cache_size=chunk_cache_size,
            **kwargs,
        )
        if self._framing:
            self.add_fine_tuning_tokens()
        self.update_post_processor()

    # -- construction helpers -------------------------------------------------------------------------------------

    @classmethod
    def original(cls, **kwargs: Any) -> GPT1Tokenizer:
        """The authors' tokenizer from the vocabulary bundled with the package (offline)."""
        vocab_file, merges_file = bundled_files()
        return cls(vocab_file=vocab_file, merges_file=merges_file, **kwargs)

    @classmethod
    def from_original(cls, path: str | os.PathLike, merges_file: str | os.PathLike | None = None, **kwargs: Any):
        """Load the authors' files: a folder holding `encoder_bpe_40000.json` + `vocab_40000.bpe` (or `vocab.json`
        + `merges.txt`), or the two file paths."""
        path = Path(path)
        if merges_file is not None:
            return cls(vocab_file=path, merges_file=merges_file, **kwargs)
        for vocab_name, merges_name in ((ORIGINAL_VOCAB_FILE, ORIGINAL_MERGES_FILE), ("vocab.json", "merges.txt")):
            if (path / vocab_name).is_file() and (path / merges_name).is_file():
                return cls(vocab_file=path / vocab_name, merges_file=path / merges_name, **kwargs)
        raise ValueError(
            f"{path} holds neither {ORIGINAL_VOCAB_FILE} + {ORIGINAL_MERGES_FILE} nor vocab.json + merges.txt"
        )

    # -- fine-tuning tokens and framing ---------------------------------------------------------------------------

    def add_fine_tuning_tokens(self) -> int:
        """Append `_start_`, `_delimiter_`, `_classify_` (if missing) as special tokens; returns how many were added."""
        missing = [t for t in FINE_TUNING_TOKENS if t not in self.get_vocab()]
        if not missing:
            return 0
        tokens = [AddedToken(t, special=True, normalized=False) for t in missing]
        added = self.add_special_tokens({"additional_special_tokens": tokens}, replace_extra_special_tokens=False)
        return added

    @property
    def add_fine_tuning_framing(self) -> bool:
        """Whether `tokenizer(text)` frames inputs as `_start_ ... _classify_` (see the class docstring)."""
        return self._framing

    @add_fine_tuning_framing.setter
    def add_fine_tuning_framing(self, value: bool) -> None:
        self._framing = bool(value)
        if self._framing:
            self.add_fine_tuning_tokens()
        self.init_kwargs["add_fine_tuning_framing"] = self._framing
        self.update_post_processor()

    def update_post_processor(self) -> None:
        """Frame inputs with the fine-tuning tokens when `add_fine_tuning_framing`, else add nothing."""
        if not getattr(self, "_framing", False):
            self._tokenizer.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1")
            return
        ids = {t: self.convert_tokens_to_ids(t) for t in FINE_TUNING_TOKENS}
        self._tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{START_TOKEN}:0 $A:0 {CLASSIFY_TOKEN}:0",
            pair=f"{START_TOKEN}:0 $A:0 {DELIMITER_TOKEN}:0 $B:1 {CLASSIFY_TOKEN}:1",
            special_tokens=list(ids.items()),
        )

    def _token_id(self, token: str) -> int | None:
        # The backend's lookup (added tokens included): `get_vocab()` would build the whole 40k-entry dict, and the
        # cached path frames every row with these ids.
        return self._tokenizer.token_to_id(token)

    @property
    def start_token(self) -> str:
        return START_TOKEN

    @property
    def delimiter_token(self) -> str:
        return DELIMITER_TOKEN

    @property
    def classify_token(self) -> str:
        return CLASSIFY_TOKEN

    @property
    def start_token_id(self) -> int | None:
        """Id of `_start_` (None until the fine-tuning tokens are added)."""
        return self._token_id(START_TOKEN)

    @property
    def delimiter_token_id(self) -> int | None:
        """Id of `_delimiter_` (None until the fine-tuning tokens are added)."""
        return self._token_id(DELIMITER_TOKEN)

    @property
    def classify_token_id(self) -> int | None:
        """Id of `_classify_` (None until the fine-tuning tokens are added)."""
        return self._token_id(CLASSIFY_TOKEN)

    # -- encoding ---------------------------------------------------------------------------------------------------

    @property
    def reference_mode(self) -> bool:
        """Whether this tokenizer runs the literal slow pipeline (see `ReferenceEncoder`)."""
        return self._reference is not None

    def normalize_text(self, text: str) -> str:
        """The text as the model sees it: repaired, standardized, split into lower-cased words joined by spaces.

        `decode(encode(text))` gives this back whenever every piece is in the vocabulary.
        """
        text = fix_text_if_needed(text)
        words = self._tokenizer.pre_tokenizer.pre_tokenize_str(self._tokenizer.normalizer.normalize_str(text))
        return " ".join(word for word, _ in words)

    def tokenize(
        self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs: Any
    ) -> list[str]:
        """The tokens (BPE pieces, `</w>` ending a word) of `text`, and of `pair` after it."""
        # transformers reads them off `BatchEncoding.encodings`, which the chunk cache and the reference mode do not
        # make: look the ids up instead (the same tokens, as a BPE token is its vocabulary entry).
        ids = self._encode_plus(text, text_pair=pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]
        return self.convert_ids_to_tokens(ids)

    # A private hook of TokenizersBackend (no public one exists); tests/test_tokenization_hook.py pins that every public
    # encoding call reaches it, on the transformers versions named there.
    def _encode_plus(self, text, text_pair=None, is_split_into_words: bool = False, **kwargs) -> BatchEncoding:
        if self._reference is not None and not is_split_into_words:
            return self._reference_encode_plus(text, text_pair, **kwargs)
        if not is_split_into_words:
            # ftfy is Python: run it here, only on lines it can change, before the Rust pipeline.
            text = _map_text(fix_text_if_needed, text)
            text_pair = _map_text(fix_text_if_needed, text_pair)
            # The cache answers a text or a batch of texts; a batch of [text, pair] lists (what transformers reads a
            # list of 2-element lists as) is pairs, for the pipeline.
            if text_pair is None and _is_text_or_texts(text) and self._plain_request(**kwargs):
                batched = not isinstance(text, str)
                ids = self._chunks.encode(self._tokenizer, list(text) if batched else [text])
                return self._ids_to_batch_encoding(ids, None, batched, **kwargs)
        return super()._encode_plus(text, text_pair=text_pair, is_split_into_words=is_split_into_words, **kwargs)

    def _plain_request(
        self,
        truncation_strategy: TruncationStrategy = TruncationStrategy.DO_NOT_TRUNCATE,
        max_length: int | None = None,
        stride: int = 0,
        split_special_tokens: bool | None = None,
        add_special_tokens: bool = True,
        **kwargs: Any,
    ) -> bool:
        """Whether a call of single texts can be answered from the chunk cache with the same result."""
        truncation_strategy = TruncationStrategy(truncation_strategy)
        if self._chunks.max_size <= 0 or stride or kwargs.get("sanitize_control_tokens"):
            return False
        if any(kwargs.get(f"return_{what}") for what in _PER_TOKEN_OUTPUTS):
            return False
        if truncation_strategy not in (TruncationStrategy.DO_NOT_TRUNCATE, TruncationStrategy.LONGEST_FIRST,
                                       TruncationStrategy.ONLY_FIRST):  # fmt: skip
            return False
        if truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE and (
            max_length is None or max_length <= (self.num_special_tokens_to_add(False) if add_special_tokens else 0)
        ):
            return False
        # Added tokens found in the text would cut chunks: only special tokens, and only while they are read as text.
        split = self.split_special_tokens if split_special_tokens is None else split_special_tokens
        return split and all(token.special for token in self._tokenizer.get_added_tokens_decoder().values())

    def _reference_encode_plus(self, text, text_pair=None, **kwargs) -> BatchEncoding:
        for unsupported in ("return_offsets_mapping", "return_overflowing_tokens"):
            if kwargs.get(unsupported):
                raise NotImplementedError(f"{unsupported} is not available in reference_mode")
        batched = isinstance(text, (list, tuple))
        if batched and text_pair is None and not _is_text_or_texts(text):  # a batch of (text, pair)
            text, text_pair = [t[0] for t in text], [t[1] for t in text]
        texts = list(text) if batched else [text]
        pairs = (list(text_pair) if batched else [text_pair]) if text_pair is not None else None
        ids = [self._reference.encode(t) for t in texts]
        pair_ids = [self._reference.encode(p) for p in pairs] if pairs is not None else None
        return self._ids_to_batch_encoding(ids, pair_ids, batched, **kwargs)

    def _ids_to_batch_encoding(
        self,
        ids: list[list[int]],
        pair_ids: list[list[int]] | None,
        batched: bool,
        add_special_tokens: bool = True,
        truncation_strategy: TruncationStrategy = TruncationStrategy.DO_NOT_TRUNCATE,
        max_length: int | None = None,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_attention_mask: bool | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Truncate, frame and pad ids as the Rust path does (the chunk cache and the reference mode give ids)."""
        truncate = (
            TruncationStrategy(truncation_strategy) != TruncationStrategy.DO_NOT_TRUNCATE and max_length is not None
        )
        rows = []
        for a, b in zip(ids, pair_ids if pair_ids is not None else [None] * len(ids)):
            if truncate:
                budget = max_length - (self.num_special_tokens_to_add(b is not None) if add_special_tokens else 0)
                if b is None:
                    a = a[:budget] if self.truncation_side == "right" else a[max(0, len(a) - budget) :]
                while len(a) + len(b or []) > budget:  # pairs (reference mode): the longer one loses a token
                    if b and len(b) > len(a):
                        b = b[:-1]
                    else:
                        a = a[:-1]
            rows.append(self.build_inputs_with_special_tokens(a, b) if add_special_tokens else a + (b or []))
            self._eventual_warn_about_too_long_sequence(rows[-1], max_length, verbose)
        return self.pad(
            {"input_ids": rows if batched or return_tensors else rows[0]},  # tensors keep the batch axis
            padding=PaddingStrategy(padding_strategy).value,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            # (resolved here: `pad` leaves the mask out of an empty input when it is left to the default)
            return_attention_mask=(
                "attention_mask" in self.model_input_names if return_attention_mask is None else return_attention_mask
            ),
            return_tensors=return_tensors,
        )

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None):
        """Frame ids as the post-processor does (`_start_ a [_delimiter_ b] _classify_` when framing is on)."""
        if not self._framing:
            return token_ids_0 + (token_ids_1 or [])
        out = [self.start_token_id, *token_ids_0]
        if token_ids_1 is not None:
            out += [self.delimiter_token_id, *token_ids_1]
        return out + [self.classify_token_id]

    # -- saving -----------------------------------------------------------------------------------------------------

    def _save_pretrained(self, save_directory, file_names, legacy_format=None, filename_prefix=None):
        # tokenizer.json, plus vocab.json / merges.txt in the authors' format so that the folder also loads with
        # GPT1Tokenizer.from_original or the authors' code.
        files = super()._save_pretrained(save_directory, file_names, legacy_format, filename_prefix)
        return files + self.save_vocabulary(str(save_directory), filename_prefix)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, str]:
        """Write `vocab.json` and `merges.txt` in the authors' format (a `#version: 0.2` header, then merges)."""
        prefix = (filename_prefix + "-") if filename_prefix else ""
        model = json.loads(self._tokenizer.to_str())["model"]
        vocab_path = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["vocab_file"])
        merges_path = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["merges_file"])
        with open(vocab_path, "w", encoding="utf-8") as f:
            json.dump(model["vocab"], f, ensure_ascii=False)
        with open(merges_path, "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for merge in model["merges"]:
                f.write((merge if isinstance(merge, str) else " ".join(merge)) + "\n")
        return vocab_path, merges_path


# `return_*` options that need the pipeline's per-token record (`tokenizers.Encoding`).
_PER_TOKEN_OUTPUTS = ("offsets_mapping", "overflowing_tokens", "special_tokens_mask", "length", "token_type_ids")


def _is_text_or_texts(text: Any) -> bool:
    """Whether `text` is one text or a batch of texts (not pairs, not pre-split words)."""
    return isinstance(text, str) or all(isinstance(t, str) for t in text)


def _map_text(fn, text):
    """Apply `fn` to a text, a pair, or a batch of texts / pairs (the shapes `tokenizer(...)` accepts)."""
    if text is None:
        return None
    if isinstance(text, str):
        return fn(text)
    return [_map_text(fn, t) for t in text]


__all__ = [
    "CLASSIFY_TOKEN",
    "DELIMITER_TOKEN",
    "FINE_TUNING_TOKENS",
    "START_TOKEN",
    "UNK_TOKEN",
    "GPT1Tokenizer",
    "ReferenceEncoder",
    "fix_text_if_needed",
    "read_vocab_and_merges",
    "text_standardize",
]
