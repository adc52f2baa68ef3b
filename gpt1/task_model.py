"""A checkpoint loaded under a task's head: the checkpoint's config with the head's settings, its tokenizer, its
weights (only the task head may be new), and the fine-tuning tokens added (`tokenization.prepare_for_finetuning`).

`load_config_and_tokenizer` is the cheap half, run before any data is read; `build_task_model` loads the weights.
A checkpoint that does not fit (no tokenizer, a vocabulary its embedding does not hold, weights its config does not
describe) is a `FinetuneError` naming what to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from modeling_gpt1 import GPT1Config
from modeling_gpt1.modeling_gpt1 import GPT1ChoiceHead
from tokenization import FINE_TUNING_TOKENS, GPT1Tokenizer, prepare_for_finetuning
from tokenization.tokenization_gpt1 import HUB_ID

from .cli import one_line
from .finetune_args import FinetuneArguments, FinetuneError
from .hub import HubError, MissingTokenizerError, is_local_path, load_tokenizer
from .tasks import TaskSpec


def _checkpoint_tokenizer(args: FinetuneArguments) -> GPT1Tokenizer:
    """`--tokenizer_name`, else the tokenizer saved with the checkpoint (`gpt1.hub.load_tokenizer`): a place without
    tokenizer files is an error, since guessing the bundled vocabulary for it would silently pair the embeddings
    with another vocabulary (the original GPT-1's own vocabulary is the one exception)."""
    source = args.tokenizer_name or args.model_name_or_path
    try:
        return load_tokenizer(source)
    except MissingTokenizerError:
        if args.tokenizer_name is not None:
            raise FinetuneError(
                f"--tokenizer_name {source}: no tokenizer files there (tokenizer.json, or vocab.json + merges.txt)"
            ) from None
        raise FinetuneError(
            f"the checkpoint {source} has no tokenizer files (tokenizer.json, or vocab.json + merges.txt): pass "
            f"--tokenizer_name with the tokenizer it was trained with (a folder, or {HUB_ID} for the original "
            "vocabulary)"
        ) from None
    except (HubError, OSError, ValueError) as err:
        raise FinetuneError(f"cannot load the tokenizer in {source}: {one_line(err)}") from None


def load_config(args: FinetuneArguments, task: TaskSpec) -> GPT1Config:
    """The checkpoint's config with the task's head settings (labels, problem type, dropout, lm_coef)."""
    source = args.model_name_or_path
    if is_local_path(source) and not Path(source).expanduser().is_dir():
        raise FinetuneError(f"--model_name_or_path {source}: no such checkpoint folder")
    try:
        config = GPT1Config.from_pretrained(source)
    except (OSError, ValueError) as err:  # no such folder or repo, no config.json, an invalid config
        raise FinetuneError(
            f"cannot load a GPT-1 checkpoint from {args.model_name_or_path!r} ({one_line(err)}); pass "
            "--model_name_or_path a local folder from scripts/pretrain.py or scripts/convert.py when the Hub is "
            "unreachable"
        ) from None
    config.lm_coef = args.lm_coef
    config.summary_first_dropout = args.classifier_dropout
    for name, value in task.transform.head_config(task.columns).items():
        setattr(config, name, value)
    if args.n_transfer_layers is not None and args.n_transfer_layers > config.n_layer:
        raise FinetuneError(f"--n_transfer_layers must be in 0..{config.n_layer}, got {args.n_transfer_layers}")
    return config


def check_vocabulary(args: FinetuneArguments, config: GPT1Config, tokenizer: GPT1Tokenizer) -> None:
    """The tokenizer must fit the checkpoint's embedding; only the fine-tuning tokens may be added to it."""
    vocab = tokenizer.get_vocab()
    has_tokens = all(t in vocab for t in FINE_TUNING_TOKENS)
    base = len(tokenizer) - sum(t in vocab for t in FINE_TUNING_TOKENS)
    if base > config.vocab_size and not args.from_scratch:
        raise FinetuneError(
            f"the tokenizer ({args.tokenizer_name or args.model_name_or_path}) has {base} tokens but the checkpoint "
            f"{args.model_name_or_path} embeds only {config.vocab_size} (vocab_size): they were not trained together; "
            "pass --tokenizer_name with the checkpoint's own tokenizer"
        )
    if not (has_tokens and config.vocab_size >= len(tokenizer)) and not (args.add_special_tokens or args.from_scratch):
        raise FinetuneError(
            f"the checkpoint {args.model_name_or_path} has no embeddings for the fine-tuning tokens "
            f"{', '.join(FINE_TUNING_TOKENS)} (vocab_size {config.vocab_size}, tokenizer {len(tokenizer)} tokens); "
            "pass --add_special_tokens to append them (new rows drawn from N(0, 0.02), as the paper)"
        )


def load_config_and_tokenizer(args: FinetuneArguments, task: TaskSpec) -> tuple[GPT1Config, GPT1Tokenizer]:
    """The checkpoint's config (with the task's head settings) and its tokenizer, checked to fit each other: everything
    that can be wrong with the checkpoint short of its weights (`build_task_model` loads those)."""
    config = load_config(args, task)
    tokenizer = _checkpoint_tokenizer(args)
    check_vocabulary(args, config, tokenizer)
    return config, tokenizer


# Every fine-tuning head's weights: a checkpoint fine-tuned under another transform holds one, which is dropped.
FINETUNING_HEADS = ("score.", "multiple_choice_head.")


def head_prefixes(model: torch.nn.Module) -> tuple[str, ...]:
    """The model's task head (the paper's linear layer): the only weights a checkpoint may lack or hold in another
    shape (a head trained for another label count)."""
    return tuple(f"{name}." for name, module in model.named_modules() if isinstance(module, GPT1ChoiceHead))


def _names(keys: list[str], shapes: dict[str, str] | None = None, most: int = 4) -> str:
    shown = [f"{k} {shapes[k]}" if shapes else k for k in keys[:most]]
    return ", ".join(shown) + (f" and {len(keys) - most} more" if len(keys) > most else "")


def check_loading_info(model: torch.nn.Module, info: dict[str, Any], source: str) -> None:
    """Refuse a checkpoint whose weights do not fill the model: only the task head may be initialised afresh.

    `from_pretrained(..., ignore_mismatched_sizes=True)` re-initialises EVERY tensor of another shape, so a
    config.json that does not describe its weights (no `n_embd`, a wrong `vocab_size` or `n_layer`) would
    otherwise train a random model and report it as fine-tuned.
    """
    head = head_prefixes(model)
    order = {k: i for i, k in enumerate(model.state_dict())}  # embeddings first, then the blocks in order

    def in_order(k: str) -> tuple[int, str]:
        return order.get(k, len(order)), k

    shapes = {k: f"(checkpoint {list(ckpt)}, config {list(mine)})" for k, ckpt, mine in info["mismatched_keys"]}
    mismatched = sorted((k for k in shapes if not k.startswith(head)), key=in_order)
    missing = sorted((k for k in info["missing_keys"] if not k.startswith(head)), key=in_order)
    unexpected = sorted(k for k in info["unexpected_keys"] if not k.startswith(FINETUNING_HEADS))
    problems = [
        f"{len(mismatched)} tensor(s) of another shape: {_names(mismatched, shapes)}" if mismatched else "",
        f"{len(missing)} tensor(s) missing: {_names(missing)}" if missing else "",
        f"{len(unexpected)} tensor(s) the config has no place for: {_names(unexpected)}" if unexpected else "",
    ]
    if any(problems):
        raise FinetuneError(
            f"the checkpoint {source} does not match its config.json ({'; '.join(p for p in problems if p)}); only "
            f"the task head ({', '.join(p + '*' for p in head)}) may be initialised afresh: fix config.json "
            "(n_embd, n_layer, n_head, vocab_size, n_positions) to describe the weights"
        )


def build_task_model(
    args: FinetuneArguments, task: TaskSpec, config: GPT1Config, tokenizer: GPT1Tokenizer
) -> tuple[torch.nn.Module, GPT1Tokenizer]:
    """The task's head on the checkpoint's weights (or a random init), with the fine-tuning tokens in place."""
    model_class = task.transform.model_class
    if args.from_scratch:
        model = model_class(config)
    else:
        # A head trained for another task (other label count) is dropped and re-initialised, never reused; the
        # loading report shows that nothing else was.
        model, info = model_class.from_pretrained(
            args.model_name_or_path, config=config, ignore_mismatched_sizes=True, output_loading_info=True
        )
        check_loading_info(model, info, args.model_name_or_path)
        if args.n_transfer_layers is not None:
            reinit_layers(model, args.n_transfer_layers)
    # The embedding grows here (after loading) for the fine-tuning tokens when the checkpoint lacks them.
    return prepare_for_finetuning(model, tokenizer)


def reinit_layers(model: torch.nn.Module, n_transfer_layers: int) -> None:
    """Keep the embeddings and the first `n_transfer_layers` blocks; draw the others afresh (the paper's Fig. 2)."""
    blocks = model.transformer.h
    if not 0 <= n_transfer_layers <= len(blocks):
        raise FinetuneError(f"n_transfer_layers must be in 0..{len(blocks)}, got {n_transfer_layers}")
    # The blocks of a freshly built model carry the model's own init (transformers 5 skips re-initialising
    # weights it has already loaded, so `_init_weights` on loaded blocks would be a no-op).
    fresh = type(model)(model.config).transformer.h
    for i in range(n_transfer_layers, len(blocks)):
        blocks[i].load_state_dict(fresh[i].state_dict())


__all__ = [
    "FINETUNING_HEADS",
    "build_task_model",
    "check_loading_info",
    "check_vocabulary",
    "head_prefixes",
    "load_config",
    "load_config_and_tokenizer",
    "reinit_layers",
]
