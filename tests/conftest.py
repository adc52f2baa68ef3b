"""Shared test setup: offline Hub, the shared real-data folder, tiny configs.

Tests never touch the network: the Hub, datasets and evaluate are forced offline before anything imports them,
and subprocesses started by tests inherit the same environment.
"""

from __future__ import annotations

import os
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real data staged beside the checkout (see ../shared/data/README.md); absent on a user's clone.
SHARED_DATA = Path(os.environ.get("GPT1_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """One intra-op thread for the whole suite: its models are tiny, and two threads on a busy 2-core machine only
    wait on each other (measured 13-100x slower). Subprocesses started by tests choose their own."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The `../shared/data` folder, or skip the test with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set GPT1_SHARED_DATA to point at it)")
    return SHARED_DATA


def needs_shared(corpus: str, why: str) -> pytest.MarkDecorator:
    """Mark a test (or a parameter) that truly needs the real `../shared/data/<corpus>`: skipped when it is absent,
    with a reason naming the corpus and why. The test reads it under `SHARED_DATA`."""
    path = SHARED_DATA / corpus
    reason = f"needs ../shared/data/{corpus} ({why}); absent at {path} (set GPT1_SHARED_DATA to point at it)"
    return pytest.mark.skipif(not path.exists(), reason=reason)


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """A data root laid out like `../shared/data`, holding small samples of every task in its release's format
    (`tests/samples.py`): what tests that do not need the real corpora read. Shared by the session: do not write."""
    from tests.samples import write_samples

    return write_samples(tmp_path_factory.mktemp("sample_data"))


# The authors' release files (openai/finetune-transformer-lm, model/): their SHA-256, so the bundled copies are
# checked against the release itself, not against a copy of themselves.
ORIGINAL_VOCAB_SHA256 = {
    "encoder_bpe_40000.json": "fdf49b19e7de236852091da09b84a7a3cd5e7b0e79916376cf45f6b8127b8078",
    "vocab_40000.bpe": "0ea9b51ae695073cd871e0358f7016311d671a7ff3963e367d5236522f294725",
}


@pytest.fixture(scope="session")
def original_vocab() -> tuple[Path, Path]:
    """The authors' `encoder_bpe_40000.json` and `vocab_40000.bpe`: from `../shared/data/openai-gpt` when present,
    else the copies bundled in `tokenization/data`; either way checked byte for byte against the release's hashes."""
    import hashlib

    folder = SHARED_DATA / "openai-gpt"
    if not (folder / "encoder_bpe_40000.json").is_file():
        folder = REPO_ROOT / "tokenization" / "data"
    files = folder / "encoder_bpe_40000.json", folder / "vocab_40000.bpe"
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == ORIGINAL_VOCAB_SHA256[path.name], path
    return files


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """A tiny GPT-1 language model over the authors' 40,478-token vocabulary, saved with its tokenizer: the shape
    of a checkpoint from `scripts/pretrain.py` (no fine-tuning tokens yet)."""
    import torch

    from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
    from tokenization import GPT1Tokenizer

    folder = tmp_path_factory.mktemp("tiny_lm")
    torch.manual_seed(0)
    GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478)).save_pretrained(folder)
    GPT1Tokenizer().save_pretrained(folder)
    return folder


def cli_error(cli_main, argv: list[str], capsys) -> str:
    """Run a CLI that must refuse `argv`: exit status 2, one `error: ...` line on stderr, no traceback."""
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.fixture
def small_disk(tmp_path: Path):
    """`small_disk(megabytes)` -> a folder on a filesystem of that size: a real tmpfs mounted for the test (as root),
    unmounted after it. Skips, saying why, where mounting is not allowed."""
    import subprocess

    mounted: list[Path] = []

    def make(megabytes: float) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        size = f"{int(megabytes * 1024)}k"
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# The write token of the loopback Hub's one user.
HUB_TOKEN = "hf_alice_write_token"


@pytest.fixture
def loopback_hub(monkeypatch, tmp_path: Path):
    """The suite's loopback Hub (tests/hub_server.py) with one write token, which the client finds in HF_TOKEN as a
    logged-in user's would be; this process's Hub client points at it (as tests/test_hub.py's `online`)."""
    import huggingface_hub
    import transformers.utils.hub
    from huggingface_hub import constants

    from tests.hub_server import HubServer

    with HubServer(tokens={HUB_TOKEN: "alice"}) as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        template = hub.url + "/{repo_id}/resolve/{revision}/{filename}"
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", hub.url)
        monkeypatch.setattr(transformers.utils.hub, "_hf_api", None, raising=False)
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-token"))
        monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
        monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
        yield hub
