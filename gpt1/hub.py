"""Sharing GPT-1 checkpoints on the Hugging Face Hub: push a saved folder with its model card, load by repo id.

Pushing is one commit of the folder's files plus a generated `README.md` (see `gpt1.model_card`) unless the folder
has its own; the repo is created (public or private) if needed and a `--revision` branch is created from `main`.
A saved model folder already holds everything a user needs: the weights (safetensors), `config.json` with an
`auto_map` for every Auto class, `modeling_gpt1.py`/`configuration_gpt1.py`, and the tokenizer's files with its
code (`tokenization_gpt1.py` and the modules it imports), so the repo loads with `trust_remote_code=True` where this package is not installed.

Every Hub call goes through `hub_errors`, which turns the client's exceptions (also when `transformers` wraps them
in an `OSError`) into one `HubError` saying what is wrong and what to do: a missing or private repo, a missing
revision or file, a rejected token, no write access, or no connection.

CLI: `python scripts/hub.py --folder runs/rte --repo_id you/gpt1-rte [--private] [--revision BRANCH]
[--commit_message MSG] [--results_file eval_results.json --dataset_type nyu-mll/glue --dataset_name "GLUE RTE"]`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, constants, get_token, hf_hub_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from transformers import AutoConfig, HfArgumentParser
from transformers.utils import cached_file

import modeling_gpt1
from tokenization import GPT1Tokenizer
from tokenization.tokenization_gpt1 import HUB_ID

from .cli import user_error
from .model_card import card_for_folder

# Never pushed: temporary files of interrupted writes (gpt1.io), and training state that only resuming needs.
IGNORE_PATTERNS = [".*", "*.tmp", "optimizer.pt", "scheduler.pt", "rng_state*.pth", "scaler.pt", "training_args.bin"]


class HubError(RuntimeError):
    """A Hub operation failed; the message says why and what to do about it."""


class MissingTokenizerError(ValueError):
    """A checkpoint (folder or repo) without tokenizer files, where a tokenizer was expected."""


class PushError(ValueError):
    """The folder or an option given to push cannot be used; the message names it and says why."""


def _transport_errors() -> tuple[type[BaseException], ...]:
    # The client's HTTP library fails to connect with its own exceptions, not OSErrors: `httpx2` in
    # huggingface_hub 2.x, `httpx` in 1.x.
    found = []
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            found.append(importlib.import_module(module).TransportError)
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()


def _explain(error: BaseException, repo_id: str, revision: str | None, token: str | bool | None, endpoint: str) -> str:
    where = f"{repo_id!r} on {endpoint}"
    if isinstance(error, RevisionNotFoundError):
        return f"{where} has no revision {revision!r}: pass an existing branch, tag or commit sha."
    if isinstance(error, GatedRepoError):
        return f"{where} is gated: request access on its page, then use a token of the account that was granted it."
    if isinstance(error, RepositoryNotFoundError):
        if token is False or (token is None and not get_token()):
            access = "no token was given (log in with `hf auth login`, or pass a token)"
        else:
            access = "the token given cannot read it"
        return f"repository {where} was not found. Check the name; if it is private or gated, {access}."
    if isinstance(error, RemoteEntryNotFoundError):
        url = str(getattr(getattr(error, "response", None), "url", "") or "")
        missing = url.split("/resolve/", 1)[-1].split("/", 1)[-1] if "/resolve/" in url else "a file"
        return (
            f"{where} (revision {revision or 'main'!r}) has no file {missing!r}: is it a GPT-1 model repo "
            "(config.json, model.safetensors, tokenizer files), pushed completely?"
        )
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        server = error.response.headers.get("X-Error-Message") or ""
        if status == 401 and "Invalid credentials" in server:
            return (
                f"{endpoint} rejected the token (invalid, expired or revoked). Create a new one at "
                f"{endpoint}/settings/tokens and log in with `hf auth login`, or pass it (--token; --hub_token when training)."
            )
        if status == 401:
            return f"{where}: this needs a token with write access (log in with `hf auth login`, or pass one: --token; --hub_token when training)."
        if status == 403:
            return f"{where}: the token has no write access here ({server or 'forbidden'}); use a write token or a namespace you own."
    if isinstance(error, TRANSPORT_ERRORS):
        reason = str(error) or type(error).__name__
        return f"cannot reach {endpoint} ({reason}): check the network and --endpoint/HF_ENDPOINT."
    if isinstance(error, OfflineModeIsEnabled):
        return f"{where} cannot be reached: HF_HUB_OFFLINE is set (unset it to use the Hub)."
    if isinstance(error, LocalEntryNotFoundError):
        return (
            f"{where} is not in the local cache and the Hub cannot be reached (HF_HUB_OFFLINE is "
            f"{'set' if constants.HF_HUB_OFFLINE else 'not set'}): connect, or pass a local folder."
        )
    return ""


@contextlib.contextmanager
def hub_errors(
    repo_id: str, *, revision: str | None = None, token: str | bool | None = None, endpoint: str | None = None
) -> Iterator[None]:
    """Turn a Hub client error raised inside the block (directly or wrapped by transformers) into a `HubError`."""
    try:
        yield
    except (OSError, *TRANSPORT_ERRORS) as e:  # the client's errors, also re-raised by transformers as OSError(...)
        cause: BaseException | None = e
        while cause is not None:
            message = _explain(cause, repo_id, revision, token, endpoint or constants.ENDPOINT)
            if message:
                raise HubError(message) from e
            cause = cause.__cause__ or cause.__context__
        raise


def _files(folder: Path, ignore_patterns: list[str]) -> list[str]:
    paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return [
        p
        for p in paths
        if not any(fnmatch.fnmatch(part, pat) for pat in ignore_patterns for part in Path(p).parts)
        and "__pycache__" not in p
    ]


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    card: ModelCard | None = None,
    endpoint: str | None = None,
) -> str:
    """Push a saved model folder to `repo_id` in one commit and return the commit's URL.

    The repo is created if needed (`private` applies then), the branch `revision` too (from `main`). The folder's
    `README.md` is pushed as is; without one, `card` (a `huggingface_hub.ModelCard`) or a card generated from the
    folder (`gpt1.model_card.card_for_folder`) is added. Training state (optimizer, scheduler, RNG) is not pushed.
    """
    folder = check_model_folder(folder)
    files = _files(folder, IGNORE_PATTERNS)
    operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(folder / p)) for p in files]
    if "README.md" not in files:
        card = card if card is not None else card_for_folder(folder, repo_id)
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode()))
    api = HfApi(endpoint=endpoint, token=token)
    with hub_errors(repo_id, revision=revision, token=token, endpoint=api.endpoint):
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        if revision not in (None, constants.DEFAULT_REVISION):
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        commit = api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message or f"Upload {_architecture(folder)}",
            revision=revision,
        )
    return str(commit.commit_url)


def check_model_folder(folder: str | Path) -> Path:
    """`folder` if it is a saved model's folder: a missing folder or config.json is a `FileNotFoundError`, a
    config.json that is no JSON object a `PushError` (checked before a card is written or anything is sent)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: pass the directory a model was saved to")
    config = folder / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{folder} has no config.json: not a saved model (save it with save_pretrained)")
    try:
        parsed = json.loads(config.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise PushError(
            f"{config} is not UTF-8 text (invalid byte at offset {e.start}): not a config from save_pretrained"
        ) from None
    except json.JSONDecodeError as e:
        raise PushError(f"{config} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(parsed, dict):
        raise PushError(f"{config} holds a JSON {type(parsed).__name__}, not an object of settings")
    return folder


def check_endpoint(endpoint: str | None) -> None:
    """Refuse an `--endpoint` that is no http(s) URL, which the client would only reject mid-push."""
    if endpoint is None:
        return
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise PushError(f"--endpoint {endpoint!r} is not an http(s) URL (e.g. https://huggingface.co)")


def _architecture(folder: Path) -> str:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return (config.get("architectures") or ["model"])[0]


def load_model(
    repo_id: str,
    model_class: type | None = None,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    **kwargs: Any,
):
    """`from_pretrained` of a GPT-1 checkpoint by repo id (or folder), with clear errors.

    `model_class` defaults to the class the checkpoint was saved from (`config.json`'s `architectures`), looked up
    in this package, so no remote code runs. Other keyword arguments go to `from_pretrained`.
    """

    with hub_errors(repo_id, revision=revision, token=token):
        if model_class is None:
            config = AutoConfig.from_pretrained(
                repo_id, revision=revision, token=token, cache_dir=kwargs.get("cache_dir")
            )
            name = (config.architectures or ["GPT1ForCausalLM"])[0]
            model_class = getattr(modeling_gpt1, name, None)
            if model_class is None:
                raise HubError(f"{repo_id!r} holds a {name}, which is not a GPT-1 model class")
        return model_class.from_pretrained(repo_id, revision=revision, token=token, **kwargs)


def is_local_path(name: str | Path) -> bool:
    """Whether a model name means a folder on this machine rather than a Hub repo id (`name` or `owner/name`)."""
    name = str(name)
    return Path(name).expanduser().exists() or name.startswith(("/", ".", "~")) or name.count("/") > 1


def has_tokenizer_files(source: str | Path, *, revision: str | None = None, token: str | bool | None = None) -> bool:
    """Whether `source` (a folder or repo id) holds a tokenizer: `tokenizer.json`, or `vocab.json` + `merges.txt`."""

    def found(name: str) -> bool:
        quiet = {"_raise_exceptions_for_missing_entries": False, "_raise_exceptions_for_connection_errors": False}
        try:
            return cached_file(str(source), name, revision=revision, token=token, **quiet) is not None
        except (OSError, ValueError):  # an unreachable Hub; a path that is neither a folder nor a valid repo id
            return False

    return found("tokenizer.json") or (found("vocab.json") and found("merges.txt"))


def load_tokenizer(
    repo_id: str | Path,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    tokenizer_class: Any = GPT1Tokenizer,
    **kwargs: Any,
):
    """The tokenizer saved in a folder or repo (`tokenizer_class.from_pretrained`), with clear errors: the one way
    every command loads a checkpoint's tokenizer.

    A place without tokenizer files is a `MissingTokenizerError`, never the bundled vocabulary in disguise (which
    `GPT1Tokenizer.from_pretrained` would give, pairing the embeddings with another vocabulary). The one exception
    is the original GPT-1 (`openai-community/openai-gpt`) when the Hub is out of reach: the bundled vocabulary is
    its own.
    """
    with hub_errors(str(repo_id), revision=revision, token=token):
        if has_tokenizer_files(repo_id, revision=revision, token=token):
            return tokenizer_class.from_pretrained(repo_id, revision=revision, token=token, **kwargs)
    if str(repo_id) == HUB_ID and not Path(repo_id).exists():
        return GPT1Tokenizer()
    offline = " (HF_HUB_OFFLINE is set)" if constants.HF_HUB_OFFLINE and not Path(repo_id).exists() else ""
    raise MissingTokenizerError(
        f"{repo_id} has no tokenizer files (tokenizer.json, or vocab.json + merges.txt){offline}"
    )


def download_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """One file of a repo (e.g. its results), downloaded into the cache; its local path."""
    with hub_errors(repo_id, revision=revision, token=token, endpoint=endpoint):
        path = hf_hub_download(
            repo_id, filename, revision=revision, token=token, endpoint=endpoint, cache_dir=cache_dir
        )
    return Path(path)


@dataclass
class HubArguments:
    """Push a saved GPT-1 model folder (weights, config, code, tokenizer) with a model card to the Hub."""

    folder: str = field(metadata={"help": "A folder written by save_pretrained (model and tokenizer)."})
    repo_id: str = field(metadata={"help": "Target repo, `namespace/name`."})
    private: bool = field(default=False, metadata={"help": "Create the repo private (if it does not exist yet)."})
    revision: str | None = field(default=None, metadata={"help": "Branch to push to (created from main if needed)."})
    commit_message: str | None = field(default=None, metadata={"help": "Commit message."})
    token: str | None = field(default=None, metadata={"help": "Hub token (default: the one `hf auth login` saved)."})
    endpoint: str | None = field(default=None, metadata={"help": "Hub URL (default: $HF_ENDPOINT or huggingface.co)."})
    results_file: str | None = field(default=None, metadata={"help": "Evaluation results JSON for the card."})
    task_type: str = field(default="text-classification", metadata={"help": "Hub task type of the results."})
    task_name: str | None = field(default=None, metadata={"help": "Task name shown in the results table."})
    dataset_type: str | None = field(default=None, metadata={"help": "Hub id of the evaluation dataset."})
    dataset_name: str | None = field(default=None, metadata={"help": "Readable name of the evaluation dataset."})
    dataset_config: str | None = field(default=None, metadata={"help": "Dataset configuration (e.g. `rte`)."})
    dataset_split: str | None = field(default=None, metadata={"help": "Split the results are on."})
    datasets: list[str] = field(default_factory=list, metadata={"help": "Training datasets (Hub ids) for the card."})
    base_model: str | None = field(default="openai-community/openai-gpt", metadata={"help": "Base model for the card."})
    tags: list[str] = field(default_factory=list, metadata={"help": "Extra tags for the card."})


def main(argv: list[str] | None = None) -> int:
    """`scripts/hub.py`: push a folder, print the commit URL. Every refusal (a bad folder, results file or option, or
    the Hub's: a rejected token, no write access, no connection) exits 2 with one `error:` line."""
    (args,) = HfArgumentParser(HubArguments).parse_args_into_dataclasses(args=argv)
    dataset = None
    if args.dataset_type or args.dataset_name:
        dataset = {"type": args.dataset_type or args.dataset_name, "name": args.dataset_name or args.dataset_type}
        dataset |= {k: v for k, v in (("config", args.dataset_config), ("split", args.dataset_split)) if v}
    try:
        check_endpoint(args.endpoint)
        check_model_folder(args.folder)  # before the card, which reads config.json too
        card = None
        if not (Path(args.folder) / "README.md").is_file():
            card = card_for_folder(
                args.folder,
                args.repo_id,
                results_file=args.results_file,
                task_type=args.task_type,
                task_name=args.task_name,
                dataset=dataset,
                datasets=args.datasets or ([dataset["type"]] if dataset else None),
                base_model=args.base_model or None,
                tags=args.tags,
            )
        url = push_folder(
            args.folder,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
            token=args.token,
            card=card,
            endpoint=args.endpoint,
        )
    except (HubError, FileNotFoundError, ValueError) as e:  # ValueError: PushError, a bad results file or repo id
        return user_error(e)
    print(url)
    return 0


__all__ = [
    "HubError",
    "PushError",
    "check_endpoint",
    "check_model_folder",
    "download_file",
    "hub_errors",
    "MissingTokenizerError",
    "has_tokenizer_files",
    "is_local_path",
    "load_model",
    "load_tokenizer",
    "main",
    "push_folder",
]
