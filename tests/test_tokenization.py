"""GPT1Tokenizer: the authors' ids on hard cases, special tokens and framing, saving and loading, errors,
the fine-tuning helper, and vocabulary training (with one training step of a model on the result)."""

from __future__ import annotations

import itertools
import json
import pickle

import pytest
from tokenizers import AddedToken
from transformers import AutoTokenizer

from tokenization import (
    CLASSIFY_TOKEN,
    DELIMITER_TOKEN,
    START_TOKEN,
    GPT1Tokenizer,
    fix_text_if_needed,
    prepare_for_finetuning,
)
from tokenization.normalizer import _parse_exceptions
from tokenization.tokenization_gpt1 import read_vocab_and_merges

HARD_CASES = [
    "I don't know, she said; it's John's. We'll see: they'd've gone.",
    "DON'T SHOUT! I'M HERE, AREN'T I? Don't. Can't. Won't. cannot gonna y'all shouldn't've",
    "“Curly quotes” and ‘single ones’ -- and ''doubled'' or ``LaTeX'' quotes.",
    "Em—dash, en–dash, horizontal―bar, a - hyphen, co-operate, --- and ~~~ runs.",
    "Wait... what…? Really....  And then.. nothing!!! ?!",
    "Visit http://www.example.com/path?x=1 or www.gutenberg.org, mail me@example.com.",
    "It costs $5.00, US$3, £20m. or 3.5% (10,000 units) at 5km/h on 12/25/2020 at 7a.m. and 3pm; 5K. 20m.",
    "Café naïve résumé Ångström Æsop façade jalapeño Ελληνικά Москва",
    "I ❤ emoji 🎉👍🏽 and symbols © ® ° ± § ¶ → ★",
    "Ã©tÃ© mojibake: â€œquotedâ€\x9d and the Â£5 note, donâ€™t",
    "Mr. and Mrs. Smith vs. Dr. Who, Ph.D., U.S.A., e.g. i.e. etc. St. Paul, Jan. 5, Prof. X.",
    "CHAPTER I. THE END. II. XIV. Chapter 2.XXI. A. J. Smith. a. b. c.",
    "&amp; &lt;tag&gt; &#39;quoted&#39; &nbsp;spaces AT&T",
    "tabs\tand\r\nwindows\rnewlines\n\n\nmany\u2028lines\x0cand\x00control\x1fchars",
    "O'Neil's rock'n'roll at five o'clock, 'em, 'Tis, 'twas, goin' nothin' ol' ma'am",
    "end.The end.the x:y a=b 2^3 1.5 3:30 C++ and/or w/o",
    "   leading and trailing spaces   ",
    "",
    "\n\n",
    "_start_ _delimiter_ _classify_ <unk> </w>",
]


@pytest.fixture(scope="module")
def tokenizer() -> GPT1Tokenizer:
    return GPT1Tokenizer()


@pytest.fixture(scope="module")
def reference() -> GPT1Tokenizer:
    pytest.importorskip("spacy")
    pytest.importorskip("ftfy")
    return GPT1Tokenizer(reference_mode=True)


@pytest.mark.parametrize("text", HARD_CASES)
def test_hard_cases_match_reference(tokenizer, reference, text):
    assert tokenizer(text)["input_ids"] == reference(text)["input_ids"]


def test_known_ids(tokenizer):
    # The authors' ids for a plain sentence (vocab lookups of their BPE pieces).
    ids = tokenizer("Hello, world! Don't.")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == [
        "hello</w>",
        ",</w>",
        "world</w>",
        "!</w>",
        "do</w>",
        "n't</w>",
        ".</w>",
    ]
    assert tokenizer("\n")["input_ids"] == [] and tokenizer("a\nb")["input_ids"][1] == 40477


def test_bundled_vocab_is_the_original(original_vocab):
    vocab, merges = read_vocab_and_merges(*original_vocab)
    bundled = GPT1Tokenizer()
    assert bundled.get_vocab() == vocab and len(bundled) == 40478 and len(merges) == 40000
    from_files = GPT1Tokenizer(vocab_file=original_vocab[0], merges_file=original_vocab[1])
    assert from_files("Some text.")["input_ids"] == bundled("Some text.")["input_ids"]
    assert GPT1Tokenizer.from_original(original_vocab[0].parent).get_vocab() == vocab


def test_exception_table_is_spacys():
    pytest.importorskip("spacy")
    from tokenization.agreement import export_spacy_exceptions

    splits, keeps = _parse_exceptions()
    spacy_splits, spacy_keeps = export_spacy_exceptions()
    assert sorted(map(tuple, splits)) == sorted(map(tuple, spacy_splits)) and sorted(keeps) == sorted(spacy_keeps)


def test_names_importable_from_before_the_split():
    # tokenization_gpt1.py once held the reference pipeline, the normalizer compiler and the chunk cache; what other
    # code imported from it still imports from it, as the same objects.
    from tokenization import normalizer, reference, tokenization_gpt1

    for module, names in (
        (reference, ("ReferenceEncoder", "fix_text_if_needed", "text_standardize")),
        (normalizer, ("_parse_exceptions",)),
    ):
        for name in names:
            assert getattr(tokenization_gpt1, name) is getattr(module, name), name
    for name in ("bundled_files", "read_vocab_and_merges", "build_backend", "HUB_ID", "END_OF_WORD", "UNK_TOKEN"):
        assert hasattr(tokenization_gpt1, name), name


def test_ftfy_shortcut_is_exact_on_short_strings():
    ftfy = pytest.importorskip("ftfy")
    # Every string of up to 3 characters over the shortcut's alphabet (and a few characters that defeat it); ftfy's
    # mojibake heuristics look at neighbouring characters, so short strings cover what longer ones can trigger.
    alphabet = "‘’“”—–…a A.'\"&<é\r"
    for n in range(1, 4):
        for chars in itertools.product(alphabet, repeat=n):
            text = "".join(chars)
            assert fix_text_if_needed(text) == ftfy.fix_text(text), repr(text)


def test_special_tokens_and_padding(tokenizer):
    assert tokenizer.unk_token == tokenizer.pad_token == "<unk>" and tokenizer.pad_token_id == 0
    assert len(tokenizer) == 40478 and tokenizer.start_token_id is None
    ft = GPT1Tokenizer(add_fine_tuning_framing=True)
    assert len(ft) == 40481
    assert (ft.start_token_id, ft.delimiter_token_id, ft.classify_token_id) == (40478, 40479, 40480)
    assert (ft.start_token, ft.delimiter_token, ft.classify_token) == (START_TOKEN, DELIMITER_TOKEN, CLASSIFY_TOKEN)
    plain = tokenizer("a b")["input_ids"]
    assert plain == tokenizer.convert_tokens_to_ids(["a</w>", "b</w>"])
    assert ft("a b")["input_ids"] == [40478, *plain, 40480]
    assert ft("a", "b")["input_ids"] == [40478, plain[0], 40479, plain[1], 40480]
    # Padding never grows the vocabulary; truncation keeps the final _classify_.
    batch = ft(["one two three four five six", "one"], padding=True, truncation=True, max_length=5)
    one, two, three = tokenizer.convert_tokens_to_ids(["one</w>", "two</w>", "three</w>"])
    assert batch["input_ids"][0] == [40478, one, two, three, 40480]
    assert batch["input_ids"][1] == [40478, one, 40480, 0, 0]
    assert batch["attention_mask"][1] == [1, 1, 1, 0, 0]
    pairs = ft(["a " * 20], ["b " * 20], truncation=True, max_length=9)["input_ids"][0]
    assert len(pairs) == 9 and pairs[-1] == 40480 and 40479 in pairs
    # Turning framing on later adds the tokens; the plain tokenizer is not changed by another instance.
    other = GPT1Tokenizer()
    other.add_fine_tuning_framing = True
    assert other("a")["input_ids"][0] == 40478 and len(tokenizer) == 40478


def test_framing_looks_ids_up_without_building_the_vocabulary(monkeypatch):
    # Cached calls frame each row with the _start_/_classify_ ids: a lookup, not a 40k-entry `get_vocab()` per row
    # (which made fine-tuning's encoding of SST-2 take minutes).
    ft = GPT1Tokenizer(add_fine_tuning_framing=True)
    expected = ft(["a b", "c"], truncation=True, max_length=8)["input_ids"]

    def no_vocab_dict():
        raise AssertionError("get_vocab() called while framing")

    monkeypatch.setattr(ft, "get_vocab", no_vocab_dict)
    assert ft(["a b", "c"], truncation=True, max_length=8)["input_ids"] == expected
    assert expected[0][0] == ft.start_token_id == 40478 and expected[1][-1] == ft.classify_token_id == 40480


CALLS = [
    {},
    {"add_special_tokens": False},
    {"padding": True},
    {"padding": "max_length", "max_length": 40, "pad_to_multiple_of": 8},
    {"truncation": True, "max_length": 6},
    {"truncation": True, "max_length": 6, "padding": True, "return_tensors": "pt"},
    {"truncation": "only_first", "max_length": 3, "padding_side": "left", "padding": True},
    {"return_attention_mask": False},
]


@pytest.mark.parametrize("framing", [False, True])
@pytest.mark.parametrize("call", CALLS)
def test_chunk_cache_answers_plain_calls_like_the_pipeline(call, framing):
    # The same BatchEncoding (ids, masks, tensors) with and without the cache, for batches and single texts.
    cached = GPT1Tokenizer(add_fine_tuning_framing=framing)
    pipeline = GPT1Tokenizer(add_fine_tuning_framing=framing, chunk_cache_size=0)
    texts = HARD_CASES[:12] + ["\n".join(HARD_CASES)]
    for tok in (cached, pipeline):
        tok.truncation_side = "left" if call.get("padding_side") == "left" else "right"
    for inputs in (texts, texts[0], texts[-1]):
        a, b = cached(inputs, **call), pipeline(inputs, **call)
        assert a.keys() == b.keys() and a.encodings is None and b.encodings is not None
        for key in a:
            assert str(a[key]) == str(b[key]), (call, key)


def test_chunk_cache_steps_aside_when_it_cannot_answer(tokenizer):
    # Per-token outputs and pairs need the pipeline's record: those calls run the Rust pipeline and keep it.
    for call in ({"return_offsets_mapping": True}, {"return_special_tokens_mask": True}, {"return_length": True}):
        assert tokenizer("Don't stop.", **call).encodings is not None
    assert tokenizer("a", "b").encodings is not None
    assert tokenizer(["don't", "stop"], is_split_into_words=True).encodings is not None
    # A non-special added token may sit inside a chunk: the cache is not used while there is one.
    added = GPT1Tokenizer()
    added.add_tokens([AddedToken("zzqq", normalized=False)])
    assert added("azzqqb").encodings is not None
    assert added.convert_ids_to_tokens(added("azzqqb").input_ids) == ["a</w>", "zzqq", "b</w>"]
    # The cache is bounded, and it is not part of the tokenizer's pickled state (datasets fingerprints that).
    small = GPT1Tokenizer(chunk_cache_size=5)
    ids = small(HARD_CASES[0])["input_ids"]
    assert len(small._chunks) <= 5 and small(HARD_CASES[0])["input_ids"] == ids
    assert small("the cat")["input_ids"] == tokenizer("the cat")["input_ids"] and "the" in small._chunks
    # (a call that fills the cache empties it first: its chunks that were cached must come back too)
    assert small("the a b c d")["input_ids"] == tokenizer("the a b c d")["input_ids"]
    assert len(pickle.loads(pickle.dumps(small))._chunks) == 0
    assert pickle.dumps(small) == pickle.dumps(GPT1Tokenizer(chunk_cache_size=5))


PAIRS = [("A man is playing a guitar.", "This example is about music."), ("Don't go!", "It's donâ€™t, fixed.")]


@pytest.mark.parametrize("mode", ["plain", "framing", "reference"])
def test_batch_of_pairs_is_read_as_text_pairs(mode):
    # transformers reads a list of 2-element lists as a batch of (text, text_pair): what
    # pipeline("zero-shot-classification") sends. It must give the ids of the same pairs passed as two lists.
    if mode == "reference":
        pytest.importorskip("spacy")
        pytest.importorskip("ftfy")
    tok = GPT1Tokenizer(add_fine_tuning_framing=mode == "framing", reference_mode=mode == "reference")
    firsts, seconds = [a for a, _ in PAIRS], [b for _, b in PAIRS]
    expected = tok(firsts, seconds)["input_ids"]
    assert tok([list(p) for p in PAIRS])["input_ids"] == expected
    assert tok(PAIRS)["input_ids"] == expected  # tuples too
    padded = tok([list(p) for p in PAIRS], return_tensors="pt", padding=True)
    assert padded["input_ids"].tolist() == tok(firsts, seconds, return_tensors="pt", padding=True)["input_ids"].tolist()


def test_tokenize_gives_the_pipelines_tokens(tokenizer):
    # transformers' `tokenize` reads the tokens off `BatchEncoding.encodings`, which cached calls do not have.
    for text in HARD_CASES[:4]:
        assert tokenizer.tokenize(text) == tokenizer(text, return_offsets_mapping=True).tokens()
    assert tokenizer.tokenize("a", "b") == ["a</w>", "b</w>"]


def test_decode_is_readable(tokenizer):
    ids = tokenizer("Hello,  World!\nDon't   panic.")["input_ids"]
    assert tokenizer.decode(ids) == "hello , world ! \n do n't panic ."
    assert "</w>" not in tokenizer.decode(tokenizer("antidisestablishmentarianism")["input_ids"])


# U+E000 / U+E001 (private use; the fast pipeline's word-boundary marks once were these characters): to the authors'
# pipeline they are characters like any other outside the vocabulary, so each is one `<unk>` inside its word and
# splits nothing. Expected tokens: `GPT1Tokenizer(reference_mode=True).tokenize(text)` (ftfy + spaCy).
PRIVATE_USE_CASES = {
    "do\ue000n't": ["do", "<unk>", "n't</w>"],
    "a\ue001b": ["a", "<unk>", "b</w>"],
    "\ue000": ["<unk>"],
    "\ue001": ["<unk>"],
    "\ue000\ue001": ["<unk>", "<unk>"],
    "\ue000hello": ["<unk>", "hello</w>"],
    "hello\ue001": ["hel", "lo", "<unk>"],
    "x \ue000 y": ["x</w>", "<unk>", "y</w>"],
    "it\ue000's Mr\ue001. can\ue000not": ["it", "<unk>", "'s</w>", "mr", "<unk>", ".</w>", "can", "<unk>", "not</w>"],
    "\ue001Don't stop.\ue000": ["<unk>", "don't</w>", "stop", ".", "<unk>"],  # (spaCy: one word each)
}


@pytest.mark.parametrize("text", PRIVATE_USE_CASES)
def test_private_use_characters_are_unknown_characters(tokenizer, text):
    expected = PRIVATE_USE_CASES[text]
    pipeline = GPT1Tokenizer(chunk_cache_size=0)
    for tok in (tokenizer, pipeline):  # the chunk cache and the whole Rust pipeline
        assert tok.tokenize(text) == expected
        assert tok(text)["input_ids"] == tok.convert_tokens_to_ids(expected)
    # Kept, not deleted: each is the text of one `<unk>` (offsets), and stays in the normalized text.
    encoding = pipeline(text, return_offsets_mapping=True)
    unknown = [text[a:b] for i, (a, b) in zip(encoding["input_ids"], encoding["offset_mapping"]) if i == 0]
    assert unknown == [c for c in text if c in "\ue000\ue001"]
    normalized = tokenizer.normalize_text(text)
    assert [c for c in normalized if c in "\ue000\ue001"] == unknown
    # Exactly what any other character outside the vocabulary gets (U+E002, U+E003), decoding included.
    other = str.maketrans("\ue000\ue001", "\ue002\ue003")
    assert tokenizer.tokenize(text.translate(other)) == expected
    assert tokenizer.normalize_text(text.translate(other)) == normalized.translate(other)
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == tokenizer.decode(tokenizer(text.translate(other))["input_ids"])
    assert tokenizer.decode(ids).count("<unk>") == len(unknown)
    assert "<unk>" not in tokenizer.decode(ids, skip_special_tokens=True)


def test_save_and_load(tmp_path, tokenizer):
    ft = GPT1Tokenizer(add_fine_tuning_framing=True)
    ft.save_pretrained(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "tokenization_gpt1.py"} <= names
    assert {"reference.py", "normalizer.py", "chunk_cache.py"} <= names  # the modules tokenization_gpt1 imports
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "GPT1Tokenizer" and config["add_fine_tuning_framing"] is True
    assert config["auto_map"]["AutoTokenizer"][0] == "tokenization_gpt1.GPT1Tokenizer"
    for loaded in (GPT1Tokenizer.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert type(loaded) is GPT1Tokenizer and len(loaded) == 40481 and loaded.add_fine_tuning_framing
        assert loaded("Some text.", "More.")["input_ids"] == ft("Some text.", "More.")["input_ids"]
    # merges.txt + vocab.json are the authors' format.
    assert (tmp_path / "merges.txt").read_text().startswith("#version: 0.2\nt h\n")
    assert GPT1Tokenizer.from_original(tmp_path).get_vocab() == tokenizer.get_vocab()


def test_bad_files_give_one_clear_error(tmp_path, original_vocab):
    vocab, merges = original_vocab
    with pytest.raises(ValueError, match="not found"):
        GPT1Tokenizer(vocab_file=tmp_path / "missing.json", merges_file=merges)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON"):
        GPT1Tokenizer(vocab_file=tmp_path / "bad.json", merges_file=merges)
    (tmp_path / "noheader.bpe").write_text("t h\ni n\n")
    with pytest.raises(ValueError, match="#version"):
        GPT1Tokenizer(vocab_file=vocab, merges_file=tmp_path / "noheader.bpe")
    (tmp_path / "badmerge.bpe").write_text("#version: 0.2\nt h\nqq zz\n")
    with pytest.raises(ValueError, match="not in"):
        GPT1Tokenizer(vocab_file=vocab, merges_file=tmp_path / "badmerge.bpe")
    with pytest.raises(ValueError, match="both"):
        GPT1Tokenizer(vocab_file=vocab)


def _tiny_model(vocab_size: int):
    """A tiny GPT-1 LM (a plain import: a broken model package fails here, it is not replaced by another model)."""
    from modeling_gpt1 import GPT1Config, GPT1ForCausalLM

    config = GPT1Config(vocab_size=vocab_size, n_layer=2, n_embd=32, n_head=4, n_positions=64)
    return GPT1ForCausalLM(config)


def test_prepare_for_finetuning(tokenizer):
    import torch

    torch.manual_seed(0)
    model = _tiny_model(len(tokenizer))
    old = model.get_input_embeddings().weight.detach().clone()
    tok = GPT1Tokenizer()
    model, tok = prepare_for_finetuning(model, tok)
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] == len(tok) == 40481 and tok.add_fine_tuning_framing
    assert torch.equal(emb[:40478], old)
    new_rows = emb[40478:].detach()
    assert 0.005 < new_rows.std().item() < 0.05  # N(0, 0.02), not the mean of the old rows
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()  # the LM head stays tied
    cfg = model.config
    assert (cfg.start_token_id, cfg.delimiter_token_id, cfg.classify_token_id, cfg.pad_token_id) == (
        40478,
        40479,
        40480,
        0,
    )
    # Idempotent, and the framed ids run through the model.
    prepare_for_finetuning(model, tok)
    assert model.get_input_embeddings().weight.shape[0] == 40481
    batch = tok(["a story", "another one"], ["an ending", "x"], padding=True, return_tensors="pt")
    assert model(**batch).logits.shape[-1] == 40481
