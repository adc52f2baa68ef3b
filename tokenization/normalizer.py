"""The fast pipeline's normalizer: `text_standardize` and spaCy's English tokenizer compiled to `tokenizers` rules.

Owns spaCy's tokenizer exceptions that survive `text_standardize` (as text, exported from spaCy 3.8 by
`tokenization.agreement.export_spacy_exceptions` and checked against spaCy by the tests), the compiler that turns
them and spaCy's prefix / suffix / infix rules into regex replacements (`_normalizer_rules`), and
`build_normalizer`, the `tokenizers` normalizer made of those rules that `tokenization_gpt1.build_backend` puts in
front of the BPE model. After it, the text is the lower-cased spaCy words of the reference pipeline (`reference.py`)
separated by spaces.

`save_pretrained` copies this module beside `tokenization_gpt1.py` (which imports it relatively) for
`trust_remote_code=True`, so it imports only the standard library and `tokenizers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from tokenizers import Regex, normalizers

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
    # After `_standardize_rules` the only whitespace is " " and "\n", and the text starts with " ".
    return (*_standardize_rules(), *_exception_rules(splits, keeps), *_affix_rules(), *_infix_rules())


def _standardize_rules() -> list[tuple[str, str]]:
    """`text_standardize`, punctuation runs spaced out, and every newline (with the whitespace after it) spaced out."""
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
    return rules


def _exception_rules(splits: list[list[str]], keeps: list[str]) -> list[tuple[str, str]]:
    """spaCy's tokenizer exceptions: the words it splits (`don't` -> `do n't`) and those it keeps whole (`Mr.`)."""
    rules: list[tuple[str, str]] = []
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
    return rules


def _affix_rules() -> list[tuple[str, str]]:
    """Suffixes peeled from the end of a word, then prefixes from its start, as spaCy does."""
    rules: list[tuple[str, str]] = []
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
    return rules


def _infix_rules() -> list[tuple[str, str]]:
    """Infixes (`a.B`, `a:b`, `1^2`, symbols), then the marks removed and the final sigma."""
    rules: list[tuple[str, str]] = []
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
    return rules


def build_normalizer() -> normalizers.Normalizer:
    """`text_standardize`, spaCy's English splitting and lower-casing as one `tokenizers` normalizer.

    Its output holds the words of the reference pipeline separated by spaces (a split on " " gives them).
    """
    # Strip + Prepend(" "): text_standardize's strip(), and a space before the first word so that every rule can
    # find a word start by the space in front of it.
    rules = [_insert(pattern, content) for pattern, content in _normalizer_rules()]
    return normalizers.Sequence([normalizers.Strip(), normalizers.Prepend(" "), *rules, normalizers.Lowercase()])


__all__ = ["build_normalizer"]
