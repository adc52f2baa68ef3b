"""The GPT-1 tokenizer: the authors' BPE vocabulary and preprocessing, at the speed of the `tokenizers` library.

The authors (openai/finetune-transformer-lm, `text_utils.py`) tokenized with `ftfy.fix_text`, their
`text_standardize`, spaCy's English tokenizer, lower-casing, and a BPE whose words end in `</w>`. transformers'
`OpenAIGPTTokenizer` replaces the middle of that with BERT-style splitting, so the same text gets other ids than the
model was trained on. `GPT1Tokenizer` runs the authors' pipeline:

- ftfy in Python, skipped for the (most) lines it provably cannot change (`fix_text_if_needed`, `reference.py`);
- `text_standardize` and spaCy's English splitting re-expressed as `tokenizers` normalizer rules (zero-width regex
  insertions of spaces, made while the original case is still there, because spaCy's rules are case-sensitive:
  `Mr.` is one token, `mr.` is two), then lower-casing (`normalizer.py`), a split on spaces, and the BPE model with
  `</w>` (`build_backend`, here);
- plain calls answered chunk by chunk from a cache of the pipeline's ids (`chunk_cache.py`);
- or, with `reference_mode=True`, the literal slow pipeline (`ReferenceEncoder`, `reference.py`; needs ftfy and
  spaCy; `spacy.blank("en")` is the same tokenizer as the `spacy.load("en")` the authors used, with no model to
  download). It is the yardstick the fast path is measured against.

This module owns the vocabulary files (constants, `read_vocab_and_merges`, `bundled_files`), the `tokenizers`
backend and the `GPT1Tokenizer` class; the names that lived here before the split (`ReferenceEncoder`,
`fix_text_if_needed`, `text_standardize`, `_parse_exceptions`) are still importable from it.

This module and its siblings `reference.py`, `normalizer.py` and `chunk_cache.py` are self-contained (transformers,
tokenizers, the standard library, optionally ftfy and spaCy) because `save_pretrained` copies them next to the
vocabulary, so `AutoTokenizer.from_pretrained(dir, trust_remote_code=True)` works where the `tokenization` package
is not installed: transformers copies the class's module and, recursively, every module it imports as
`from .name import ...` (the form its scan recognises; `modeling_gpt1` reaches `configuration_gpt1` the same way),
both when saving and when loading, where they become siblings in a `transformers_modules` package (every sibling
is imported here directly, so the copy does not rest on transformers following imports of imports).
transformers refuses to load a copied module when a module it imports is missing, even an import inside a
function: ftfy and spaCy are imported only inside `try: ... except ImportError`, which that check skips
(tests/test_tokenization_remote.py holds every copied module to this).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy
from transformers.tokenization_utils_tokenizers import TokenizersBackend

from .chunk_cache import ChunkCache
from .normalizer import _parse_exceptions as _parse_exceptions  # (re-exported: imported from here before the split)
from .normalizer import build_normalizer
from .reference import ReferenceEncoder, fix_text_if_needed, text_standardize

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
# The authors' last vocabulary entry (40,477): the end of a line or paragraph, GPT-1's only text boundary, declared
# as the end-of-text token (docs/tokenizer.md, "lm-evaluation-harness").
NEWLINE_TOKEN = "\n</w>"


# ----------------------------------------------------------------------------------------------------------------
# The vocabulary files


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
# The fast pipeline: the normalizer (normalizer.py), a split on spaces, the BPE model


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
    backend.normalizer = build_normalizer()
    # The normalizer leaves the words separated by spaces (and "\n" a word of its own).
    backend.pre_tokenizer = pre_tokenizers.Split(" ", behavior="removed")
    backend.decoder = decoders.BPEDecoder(suffix=END_OF_WORD)
    return backend


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
        eos_token: The end-of-text token, an existing vocabulary entry: the newline `\n</w>` (GPT-1 has no
            end-of-document token; see docs/tokenizer.md). It stays ordinary text to encoding and decoding.
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
        eos_token: str | None = NEWLINE_TOKEN,
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
        self._declare_eos_token(eos_token)

    def _declare_eos_token(self, eos_token: str | None) -> None:
        """Name an existing vocabulary token (the newline by default) as the end-of-text token.

        Set after `super().__init__`, which would register it as a special token of the backend, so that
        `decode(..., skip_special_tokens=True)` dropped every newline: here it names an id and stays ordinary text.
        """
        if eos_token is not None and self._token_id(str(eos_token)) is None:
            if str(eos_token) != NEWLINE_TOKEN:
                raise ValueError(f"eos_token {str(eos_token)!r} is not in the vocabulary: name an existing token")
            eos_token = None  # a vocabulary without the newline has no end-of-text token
        self.eos_token = None if eos_token is None else str(eos_token)
        self.init_kwargs["eos_token"] = self.eos_token  # saved even when None: a reload must not bring the default back

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
    "NEWLINE_TOKEN",
    "START_TOKEN",
    "UNK_TOKEN",
    "GPT1Tokenizer",
    "ReferenceEncoder",
    "fix_text_if_needed",
    "read_vocab_and_merges",
    "text_standardize",
]
