"""Convert released GPT-1 weights to this package's format: safetensors + `config.json` + tokenizer files.

Two sources:
- transformers' `OpenAIGPT*` checkpoints (`openai-community/openai-gpt` and models fine-tuned from it): a folder with
  `config.json` (`model_type: openai-gpt`) and `model.safetensors` or `pytorch_model.bin`. The weight names are the
  same as ours (with or without the `transformer.` prefix); `OpenAIGPTDoubleHeadsModel` checkpoints become a
  `GPT1DoubleHeads`, the others a `GPT1ForCausalLM`.
- the authors' TensorFlow release (github.com/openai/finetune-transformer-lm, `model/`): `params_shapes.json` and
  `params_0.npy`..`params_9.npy`, one float32 vector cut into ten shards. As the authors' loader does, the shards are
  concatenated and split by the shapes; the arrays are, in order, the position embeddings, the token embeddings, then
  `ORIGINAL_LAYER` for each block. Convolutions are stored `[1, in, out]` and become `Conv1D` weights `(in, out)`.
  The release has no head count: it is 12 (the paper), `--n_head` otherwise.

The tokenizer is built from the authors' `encoder_bpe_40000.json` + `vocab_40000.bpe` (or transformers' `vocab.json`
+ `merges.txt`, the same files renamed): the ones given (`--vocab_file/--merges_file`), else the source folder's when
it has them, else the copy bundled with `tokenization`. Its size must match the token embeddings (plus the three
fine-tuning tokens, which are then added). Every source array is checked against the shape the model needs, and
errors name the array and the expected shape. Pickle checkpoints are read with `weights_only=True` (one holding other
objects is refused, never unpickled), and a damaged file is an error naming it; only safetensors is written,
atomically.

CLI: `python scripts/convert.py --source path/to/model --output_dir converted/` (the format is detected).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from huggingface_hub.errors import StrictDataclassError
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import HfArgumentParser, OpenAIGPTConfig

from modeling_gpt1 import GPT1Config, GPT1DoubleHeads, GPT1ForCausalLM
from tokenization import GPT1Tokenizer, fit_to_model

from .cli import user_error
from .io import OutputDirError, atomic_output_files, atomic_write_json, check_output_dir

N_SHARDS = 10  # the authors' release is always cut into params_0.npy .. params_9.npy
# One block of the authors' checkpoint, in their order: (TensorFlow name, our name). `w` of a conv is [1, in, out].
ORIGINAL_LAYER = (
    ("attn/c_attn/w", "attn.c_attn.weight"),
    ("attn/c_attn/b", "attn.c_attn.bias"),
    ("attn/c_proj/w", "attn.c_proj.weight"),
    ("attn/c_proj/b", "attn.c_proj.bias"),
    ("ln_1/g", "ln_1.weight"),
    ("ln_1/b", "ln_1.bias"),
    ("mlp/c_fc/w", "mlp.c_fc.weight"),
    ("mlp/c_fc/b", "mlp.c_fc.bias"),
    ("mlp/c_proj/w", "mlp.c_proj.weight"),
    ("mlp/c_proj/b", "mlp.c_proj.bias"),
    ("ln_2/g", "ln_2.weight"),
    ("ln_2/b", "ln_2.bias"),
)
# OpenAIGPTConfig fields that mean the same in GPT1Config (its MLP is always 4 * n_embd wide).
SHARED_CONFIG_FIELDS = (
    "vocab_size n_positions n_embd n_layer n_head afn resid_pdrop embd_pdrop attn_pdrop layer_norm_epsilon "
    "initializer_range summary_type summary_use_proj summary_activation summary_proj_to_labels summary_first_dropout"
).split()
# Names of the tokenizer files: the authors', then transformers'.
TOKENIZER_FILES = (("encoder_bpe_40000.json", "vocab_40000.bpe"), ("vocab.json", "merges.txt"))


TIED = "tied to the token embeddings"  # the LM head: no values of its own


class ConversionError(ValueError):
    """The source cannot be converted; the message names the file or array and what was expected."""


@dataclass
class Mapped:
    """One target tensor: where it came from and how."""

    target: str
    shape: list[int]
    source: str
    source_shape: list[int]
    how: str = "copied"


@dataclass
class ConversionReport:
    """What a conversion read, mapped, left out and wrote."""

    source: str
    source_format: str
    output_dir: str
    model_class: str
    config: dict[str, Any]
    tokenizer: str
    mapped: list[Mapped] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def format(self) -> str:
        """A readable report: the config, then one line per tensor."""
        lines = [
            f"converted {self.source_format} checkpoint {self.source}",
            f"  -> {self.output_dir} ({self.model_class}, safetensors)",
            "  config: " + ", ".join(f"{k}={v}" for k, v in self.config.items()),
            f"  tokenizer: {self.tokenizer}",
            f"  {len(self.mapped)} tensors, {sum(int(np.prod(m.shape)) for m in self.mapped if m.how != TIED):,} values:",
        ]
        width = max(len(m.target) for m in self.mapped)
        for m in self.mapped:
            lines.append(f"    {m.target:<{width}} {str(m.shape):<14} <- {m.source} {m.source_shape} ({m.how})")
        lines += [f"  not converted: {s}" for s in self.skipped]
        return "\n".join(lines)


# -- the authors' TensorFlow release -------------------------------------------------------------------------------


def original_layout(
    shapes: list[list[int]], n_head: int = 12, shapes_file: str | Path = "params_shapes.json"
) -> tuple[dict[str, Any], list[tuple[str, str, list[int]]]]:
    """The config described by `params_shapes.json`, and for each array (in order) its name, our name and the shape
    it must have; raises `ConversionError` naming the first array whose shape does not fit, or an `n_head` that
    does not divide the width (`shapes_file` is the path that message gives)."""
    if len(shapes) < 2 or len(shapes[0]) != 2 or len(shapes[1]) != 2:
        raise ConversionError(
            "params_shapes.json must start with the position [n_ctx, n_embd] and token [vocab, n_embd] embeddings"
        )
    (n_positions, n_embd), vocab_size = shapes[0], shapes[1][0]
    _check_n_head(n_head, n_embd, shapes_file)
    if (len(shapes) - 2) % len(ORIGINAL_LAYER):
        raise ConversionError(
            f"params_shapes.json lists {len(shapes)} arrays: expected 2 embeddings + {len(ORIGINAL_LAYER)} per block"
        )
    n_layer = (len(shapes) - 2) // len(ORIGINAL_LAYER)
    n_inner = shapes[2 + 6][-1] if n_layer else 4 * n_embd
    config = dict(
        vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head, n_inner=n_inner
    )
    C, I = n_embd, n_inner  # noqa: E741
    layer_shapes = ([1, C, 3 * C], [3 * C], [1, C, C], [C], [C], [C], [1, C, I], [I], [1, I, C], [C], [C], [C])
    layout = [
        ("model/pe", "transformer.positions_embed.weight", [n_positions, C]),
        ("model/we", "transformer.tokens_embed.weight", [vocab_size, C]),
    ]
    for i in range(n_layer):
        for (tf_name, name), shape in zip(ORIGINAL_LAYER, layer_shapes):
            layout.append((f"model/h{i}/{tf_name}", f"transformer.h.{i}.{name}", shape))
    for index, ((tf_name, _, expected), shape) in enumerate(zip(layout, shapes)):
        if list(shape) != expected:
            raise ConversionError(
                f"params_shapes.json array {index} ({tf_name}) has shape {list(shape)}, expected {expected}"
            )
    return config, layout


def read_original_params(folder: Path, shapes: list[list[int]]) -> list[np.ndarray]:
    """The authors' loader: concatenate `params_{0..9}.npy`, split by `shapes`, reshape."""
    paths = [folder / f"params_{n}.npy" for n in range(N_SHARDS)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ConversionError(
            f"{folder} lacks {', '.join(missing)}: the release is {N_SHARDS} shards, params_0.npy..params_{N_SHARDS - 1}.npy"
        )
    flat = np.concatenate([np.load(p, allow_pickle=False).reshape(-1) for p in paths])
    sizes = [int(np.prod(s)) for s in shapes]
    if flat.size != sum(sizes):
        raise ConversionError(
            f"the shards in {folder} hold {flat.size:,} values, but params_shapes.json describes {sum(sizes):,}: "
            "a shard is truncated or belongs to another release"
        )
    return [a.reshape(s) for a, s in zip(np.split(flat, np.cumsum(sizes)[:-1]), shapes)]


def convert_original_release(
    source: str | Path,
    output_dir: str | Path,
    *,
    n_head: int = 12,
    vocab_file: str | Path | None = None,
    merges_file: str | Path | None = None,
) -> ConversionReport:
    """Convert the authors' `params_*.npy` release in `source` to a `GPT1ForCausalLM` folder at `output_dir`."""
    source = Path(source)
    shapes_file, shapes = _source_json(source, "params_shapes.json", "not the authors' release (model/ folder)")
    config_fields, layout = original_layout(shapes, n_head=n_head, shapes_file=shapes_file)
    tokenizer, tokenizer_desc = _tokenizer(source, vocab_file, merges_file)
    _check_vocab(tokenizer, layout[1][0] + " (array 1)", layout[1][2])
    arrays = read_original_params(source, shapes)

    config = _config(config_fields, shapes_file)
    state, mapped = {}, []
    for (tf_name, name, shape), array in zip(layout, arrays):
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        how = "copied"
        if len(shape) == 3:  # a conv: [1, in, out] -> Conv1D's (in, out)
            tensor, how = tensor.squeeze(0), "squeezed [1, in, out] -> (in, out)"
        state[name] = tensor
        mapped.append(Mapped(name, list(tensor.shape), tf_name, list(shape), how))
    mapped.append(Mapped("lm_head.weight", layout[1][2], "model/we", layout[1][2], TIED))
    model = _load(GPT1ForCausalLM, config, state)
    report = ConversionReport(
        str(source),
        "original TensorFlow (params_*.npy)",
        str(output_dir),
        type(model).__name__,
        config_fields,
        tokenizer_desc,
        mapped,
    )
    _write(model, tokenizer, report, output_dir)
    return report


# -- transformers' OpenAIGPT checkpoints ---------------------------------------------------------------------------


def read_state_dict(folder: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The weights of a checkpoint folder (`model.safetensors` preferred, else `pytorch_model.bin` read with
    `weights_only=True`) and the file name they came from. A damaged file, or a pickle holding anything but tensors
    (which could run code when unpickled, so `weights_only=True` refuses it before it does), is a `ConversionError`
    naming the file."""
    if (folder / "model.safetensors").is_file():
        path = folder / "model.safetensors"
        try:
            state = load_file(path)
        except SafetensorError as e:
            raise ConversionError(
                f"{path} is not a readable safetensors file ({_first_line(e)}): it is truncated or damaged; "
                "download or copy it again"
            ) from e
        return state, path.name
    if (folder / "pytorch_model.bin").is_file():
        path = folder / "pytorch_model.bin"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a damaged zip or pickle surfaces as whatever its reader hit: OSError, KeyError, ...
            if isinstance(e, pickle.UnpicklingError) and "WeightsUnpickler error: " in str(e):
                # torch's message is a page of advice; its one relevant sentence names the object it refused.
                refused = _first_line(str(e).split("WeightsUnpickler error: ", 1)[1]).split(". ")[0]
                raise ConversionError(
                    f"{path} was refused by torch.load(weights_only=True) ({refused}): it holds objects other than "
                    "tensors, which could run code when unpickled, so it was not loaded; convert a trusted copy, "
                    "or one saved with safetensors"
                ) from e
            reason = f"{type(e).__name__}: {_first_line(e).split('. ')[0]}"
            raise ConversionError(
                f"{path} cannot be read as a PyTorch checkpoint ({reason}): it is truncated or damaged; "
                "download or copy it again"
            ) from e
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            kind = type(state).__name__ if not isinstance(state, dict) else "dict with values other than tensors"
            raise ConversionError(f"{path} holds a {kind}, not a state dict (weight name -> tensor)")
        return state, path.name
    if any(folder.glob("*.index.json")):
        raise ConversionError(
            f"{folder} holds a sharded checkpoint; GPT-1 checkpoints are one file (load and re-save it)"
        )
    raise ConversionError(f"{folder} has neither model.safetensors nor pytorch_model.bin")


def _source_json(source: Path, name: str, what: str) -> tuple[Path, Any]:
    """The JSON file `name` that marks a source folder, and its contents; its absence says what the folder is not."""
    path = source / name
    if not path.is_file():
        raise ConversionError(f"{source} has no {name}: {what}")
    return path, json.loads(path.read_text(encoding="utf-8"))


def _map_transformers_weights(
    state: dict[str, torch.Tensor], expected: dict[str, list[int]], weights_file: Path, model_name: str
) -> tuple[dict[str, torch.Tensor], list[Mapped], list[str]]:
    """Match an `OpenAIGPT*` state dict to the expected GPT-1 weights, name for name and shape for shape: the
    converted tensors, the report's rows, and the buffers left out. Anything unexpected or missing is an error."""
    mapped, skipped, converted = [], [], {}
    for key, tensor in state.items():
        if key.endswith(".attn.bias") or key.endswith("position_ids"):
            skipped.append(f"{key} {list(tensor.shape)} (a causal-mask buffer; the mask is built on the fly)")
        elif key not in expected:
            raise ConversionError(f"{weights_file} has {key} {list(tensor.shape)}, which no {model_name} weight takes")
        elif list(tensor.shape) != expected[key]:
            raise ConversionError(f"{weights_file}: {key} has shape {list(tensor.shape)}, expected {expected[key]}")
        else:
            converted[key] = tensor.float()
            mapped.append(Mapped(key, expected[key], key, list(tensor.shape)))
    if "lm_head.weight" not in converted:
        shape = expected["lm_head.weight"]
        mapped.append(Mapped("lm_head.weight", shape, "transformer.tokens_embed.weight", shape, TIED))
    missing = sorted(set(expected) - set(converted) - {"lm_head.weight"})
    if missing:
        raise ConversionError(f"{weights_file} lacks {', '.join(f'{k} {expected[k]}' for k in missing)}")
    return converted, mapped, skipped


def convert_transformers_checkpoint(
    source: str | Path,
    output_dir: str | Path,
    *,
    vocab_file: str | Path | None = None,
    merges_file: str | Path | None = None,
) -> ConversionReport:
    """Convert an `OpenAIGPT*` checkpoint folder to a `GPT1ForCausalLM` (or `GPT1DoubleHeads`) folder."""
    source = Path(source)
    config_file, source_config = _source_json(source, "config.json", "not a transformers checkpoint folder")
    if source_config.get("model_type") != "openai-gpt":
        raise ConversionError(
            f"{config_file} has model_type {source_config.get('model_type')!r}, expected 'openai-gpt'"
        )
    weights, weights_file = read_state_dict(source)
    # Weights of OpenAIGPTModel have no prefix; those of the heads are under `transformer.`.
    state = {
        (k if k.startswith(("transformer.", "lm_head.", "multiple_choice_head.")) else f"transformer.{k}"): v
        for k, v in weights.items()
    }
    # Tied checkpoints store one of the pair `tokens_embed` / `lm_head` (which one depends on the transformers version).
    if "transformer.tokens_embed.weight" not in state and "lm_head.weight" in state:
        state["transformer.tokens_embed.weight"] = state.pop("lm_head.weight")
    model_class = GPT1DoubleHeads if any(k.startswith("multiple_choice_head.") for k in state) else GPT1ForCausalLM
    config_fields = {k: source_config[k] for k in SHARED_CONFIG_FIELDS if k in source_config}
    config_fields["n_inner"] = 4 * config_fields.get("n_embd", 768)
    config = _config(config_fields, config_file)
    tokenizer, tokenizer_desc = _tokenizer(source, vocab_file, merges_file)
    expected = {k: list(v.shape) for k, v in _meta_model(model_class, config).state_dict().items()}
    _check_vocab(
        tokenizer, f"{weights_file}: transformer.tokens_embed.weight", expected["transformer.tokens_embed.weight"]
    )
    if tokenizer.classify_token_id is not None:  # fine-tuned with the paper's tokens: record them as we do
        config.start_token_id = tokenizer.start_token_id
        config.delimiter_token_id = tokenizer.delimiter_token_id
        config.classify_token_id = tokenizer.classify_token_id
        config.pad_token_id = tokenizer.pad_token_id

    converted, mapped, skipped = _map_transformers_weights(state, expected, weights_file, model_class.__name__)
    model = _load(model_class, config, converted)
    report = ConversionReport(
        str(source), f"transformers OpenAIGPT ({weights_file})", str(output_dir), model_class.__name__,
        {k: getattr(config, k) for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner")},
        tokenizer_desc, mapped, skipped,
    )  # fmt: skip
    _write(model, tokenizer, report, output_dir)
    return report


# -- shared steps --------------------------------------------------------------------------------------------------


# GPT1Config fields transformers' OpenAIGPTConfig holds under the same name (its MLP is always 4 x n_embd wide).
OPENAI_GPT_FIELDS = (
    "vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "afn", "resid_pdrop", "embd_pdrop", "attn_pdrop",
    "layer_norm_epsilon", "initializer_range",
)  # fmt: skip


def openai_gpt_config(config: GPT1Config) -> OpenAIGPTConfig:
    """transformers' `OpenAIGPTConfig` of the same network: what `OpenAIGPT*` needs to hold these weights (the
    reference the benchmarks measure against)."""
    if config.n_inner not in (None, 4 * config.n_embd):
        raise ValueError(f"n_inner={config.n_inner}: transformers' OpenAIGPT MLP is 4 x n_embd = {4 * config.n_embd}")
    return OpenAIGPTConfig(**{k: getattr(config, k) for k in OPENAI_GPT_FIELDS})


def _first_line(error: BaseException | str) -> str:
    """The first line of an error message: the CLI reports every mistake on one line."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _check_n_head(n_head: int, n_embd: int | None, shapes_file: str | Path) -> None:
    """`--n_head` is the one architecture value the release does not record, so it is checked against it first."""
    if isinstance(n_head, bool) or not isinstance(n_head, int) or n_head <= 0:
        raise ConversionError(f"--n_head must be a positive integer, got {n_head!r}")
    if isinstance(n_embd, int) and n_embd % n_head:
        raise ConversionError(
            f"--n_head {n_head} does not divide n_embd={n_embd} (from {shapes_file}): each head gets n_embd // n_head "
            "dimensions; the released GPT-1 has 12 heads"
        )


def _config(fields: dict[str, Any], origin: Path) -> GPT1Config:
    """`GPT1Config(**fields)`, its validation error (wrapped by huggingface_hub) reported against `origin`."""
    try:
        return GPT1Config(**fields)
    except StrictDataclassError as e:
        cause = e.__cause__ if isinstance(e.__cause__, ValueError) else e
        raise ConversionError(f"{origin}: {_first_line(cause)}") from e


def _tokenizer(source: Path, vocab_file: str | Path | None, merges_file: str | Path | None):
    """The tokenizer for a conversion, and a description of where its files came from."""
    if (vocab_file is None) != (merges_file is None):
        raise ConversionError("pass both --vocab_file and --merges_file, or neither")
    if vocab_file is None:
        for vocab_name, merges_name in TOKENIZER_FILES:
            if (source / vocab_name).is_file() and (source / merges_name).is_file():
                vocab_file, merges_file = source / vocab_name, source / merges_name
                break
    if vocab_file is None:
        return GPT1Tokenizer(), "the original vocabulary bundled with `tokenization` (40,478 tokens)"
    for path in (vocab_file, merges_file):
        if not Path(path).is_file():
            raise ConversionError(f"tokenizer file {path} does not exist")
    return GPT1Tokenizer(vocab_file=str(vocab_file), merges_file=str(merges_file)), f"{vocab_file} + {merges_file}"


def _check_vocab(tokenizer, array: str, shape: list[int]) -> None:
    """The token embeddings must have a row per token (the fine-tuning tokens are added when they have 3 more)."""
    rows, n = shape[0], len(tokenizer)
    if rows == n + 3:
        tokenizer.add_fine_tuning_tokens()
    elif rows != n:
        raise ConversionError(
            f"{array} has shape {shape}, but the tokenizer has {n:,} tokens: expected [{n}, {shape[1]}] "
            f"(or [{n + 3}, {shape[1]}] with the fine-tuning tokens); pass the vocabulary it was trained with"
        )


def _meta_model(model_class, config):
    with torch.device("meta"):
        return model_class(config)


def _load(model_class, config, state: dict[str, torch.Tensor]):
    model = model_class(config)
    state = dict(state)
    state.setdefault("lm_head.weight", state["transformer.tokens_embed.weight"])
    model.load_state_dict(state, strict=True)
    model.tie_weights()
    return model.eval()


def _write(model, tokenizer, report: ConversionReport, output_dir: str | Path) -> None:
    with atomic_output_files(output_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        fit_to_model(tokenizer, model).save_pretrained(tmp)
        atomic_write_json(tmp / "conversion_report.json", asdict(report))


def convert(
    source: str | Path, output_dir: str | Path, overwrite_output_dir: bool = False, **kwargs: Any
) -> ConversionReport:
    """Convert whichever release `source` is (a folder with `params_shapes.json`, or a transformers checkpoint).

    A non-empty `output_dir` is refused unless `overwrite_output_dir`; even then only the files a conversion writes
    are replaced there (`OutputDirError`, checked before any work).
    """
    _check_n_head(kwargs.get("n_head", 12), None, source)  # a head count below 1 is wrong whatever the source
    output_dir = check_output_dir(output_dir, overwrite_output_dir)
    source = Path(source)
    if not source.is_dir():
        raise ConversionError(f"{source} is not a folder")
    if (source / "params_shapes.json").is_file():
        return convert_original_release(source, output_dir, **kwargs)
    kwargs.pop("n_head", None)
    return convert_transformers_checkpoint(source, output_dir, **kwargs)


@dataclass
class ConvertArguments:
    """Convert the authors' TensorFlow release or a transformers OpenAIGPT checkpoint to this package's format."""

    source: str = field(
        metadata={
            "help": "Folder: the authors' model/ (params_shapes.json, params_*.npy) or a transformers checkpoint."
        }
    )
    output_dir: str = field(metadata={"help": "Where to write model.safetensors, config.json and tokenizer files."})
    n_head: int = field(default=12, metadata={"help": "Attention heads (not recorded in the authors' release)."})
    vocab_file: str | None = field(
        default=None, metadata={"help": "encoder_bpe_40000.json / vocab.json (default: the source's, else bundled)."}
    )
    merges_file: str | None = field(default=None, metadata={"help": "vocab_40000.bpe / merges.txt."})
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Write into a non-empty output_dir (only the files a conversion writes are replaced)."},
    )


def main(argv: list[str] | None = None) -> int:
    (args,) = HfArgumentParser(ConvertArguments).parse_args_into_dataclasses(args=argv)
    try:
        report = convert(
            args.source,
            args.output_dir,
            overwrite_output_dir=args.overwrite_output_dir,
            n_head=args.n_head,
            vocab_file=args.vocab_file,
            merges_file=args.merges_file,
        )
    except (ValueError, FileNotFoundError) as e:  # ConversionError, OutputDirError, a config that cannot be built
        return user_error(e)
    print(report.format())
    return 0


__all__ = [
    "ConversionError",
    "ConversionReport",
    "OutputDirError",
    "Mapped",
    "convert",
    "convert_original_release",
    "convert_transformers_checkpoint",
    "original_layout",
    "read_original_params",
    "main",
]
