"""Push and pull GPT-1 checkpoints with the real `huggingface_hub` client, over HTTP, on loopback.

The Hub is `tests/hub_server.py` (create repo, branch, preupload, commit, model info, tree, resolve, YAML check);
pulls without the package also go through `olah`, a third-party Hub mirror, with that server as its upstream.
Nothing leaves the machine: in this process the client's endpoint is pointed at the loopback server (and the
offline switch, which guards the real Hub, is lifted for that test only); child processes get `HF_ENDPOINT`.
"""

from __future__ import annotations

import csv
import json
import re
import socket
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
import transformers.utils.hub
from huggingface_hub import HfApi, ModelCard, constants

from gpt1.hub import HubError, download_file, load_model, load_tokenizer, main, push_folder
from gpt1.model_card import card_for_folder, load_results, make_model_card
from modeling_gpt1 import GPT1Config, GPT1DoubleHeads, GPT1ForCausalLM
from tests.hub_server import HubServer, olah_mirror, validate_card_metadata
from tests.isolation import run_without_package
from tokenization import GPT1Tokenizer, prepare_for_finetuning

ALICE, BOB = "hf_alice_write_token", "hf_bob_token"


@pytest.fixture(scope="module")
def hub():
    with HubServer(tokens={ALICE: "alice", BOB: "bob"}) as server:
        yield server


@pytest.fixture
def online(hub, monkeypatch, tmp_path):
    """Point this process's Hub client (and transformers' shared one) at the loopback server; a private cache."""
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", hub.url)
    monkeypatch.setattr(transformers.utils.hub, "_hf_api", None, raising=False)  # a cached client (newer releases)
    # Only the tokens a test passes reach the server, never a token saved on this machine.
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-token"))
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(var, raising=False)
    return hub


def story_choices(data_root: Path, n: int) -> tuple[list[str], list[str], list[int]]:
    """The first `n` Story Cloze stories under `data_root` (the samples): contexts and endings flattened per choice,
    and the right choice."""
    with open(data_root / "storycloze" / "storycloze_val_2016.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    stories = [" ".join(r[f"InputSentence{i}"] for i in range(1, 5)) for r in rows]
    contexts = [s for s in stories for _ in range(2)]
    endings = [r[f"RandomFifthSentenceQuiz{c}"] for r in rows for c in (1, 2)]
    return contexts, endings, [int(r["AnswerRightEnding"]) - 1 for r in rows]


def encode(tokenizer, contexts: list[str], endings: list[str]) -> dict[str, torch.Tensor]:
    batch = tokenizer(contexts, endings, padding=True, return_tensors="pt")
    return {k: v.view(len(contexts) // 2, 2, -1) for k, v in batch.items() if k in ("input_ids", "attention_mask")}


def train_steps(model, batch: dict[str, torch.Tensor], labels: torch.Tensor, steps: int) -> None:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    lm_labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=lm_labels, mc_labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


@torch.no_grad()
def outputs(model, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    out = model(**batch)
    return {"mc_logits": out.mc_logits.numpy(), "logits": out.logits[..., :50].numpy()}


CHILD = """
import json, sys
import numpy as np, torch
from transformers import AutoModelForMultipleChoice, AutoTokenizer
from transformers.dynamic_module_utils import get_class_from_dynamic_module

for name in ("modeling_gpt1", "tokenization", "gpt1"):
    try:
        __import__(name)
    except ModuleNotFoundError:
        continue
    raise AssertionError(f"{name} is importable in the child")

args = json.load(open("child_args.json"))
repo = args["repo"]
tokenizer = AutoTokenizer.from_pretrained(repo, trust_remote_code=True)
assert type(tokenizer).__module__.startswith("transformers_modules"), type(tokenizer).__module__
batch = tokenizer(args["contexts"], args["endings"], padding=True, return_tensors="pt")
batch = {k: batch[k].view(-1, 2, batch[k].shape[-1]) for k in ("input_ids", "attention_mask")}
results = {"input_ids": batch["input_ids"].tolist()}
for revision in ("main", args["pinned"]):
    DoubleHeads = get_class_from_dynamic_module("modeling_gpt1.GPT1DoubleHeads", repo, revision=revision)
    assert DoubleHeads.__module__.startswith("transformers_modules"), DoubleHeads.__module__
    with torch.no_grad():
        out = DoubleHeads.from_pretrained(repo, revision=revision).eval()(**batch)
    results[revision] = {"mc_logits": out.mc_logits.tolist(), "logits": out.logits[..., :50].tolist()}
# GPT1DoubleHeads has no Auto class; AutoModelForMultipleChoice reads the same weights, scores choices the same.
choice = AutoModelForMultipleChoice.from_pretrained(repo, trust_remote_code=True).eval()
with torch.no_grad():
    results["choice"] = {"class": type(choice).__name__, "logits": choice(**batch).logits.tolist()}
json.dump(results, open("child_out.json", "w"))
"""


def test_push_then_pull_by_repo_id_with_and_without_the_package(sample_data, online, tmp_path):
    hub, repo = online, "alice/gpt1-story-cloze-tiny"
    contexts, endings, answers = story_choices(sample_data, 2)
    torch.manual_seed(0)
    tokenizer = GPT1Tokenizer()
    model, tokenizer = prepare_for_finetuning(
        GPT1DoubleHeads(GPT1Config.from_preset("tiny", vocab_size=len(tokenizer), n_positions=128)), tokenizer
    )
    batch, labels = encode(tokenizer, contexts, endings), torch.tensor(answers)
    train_steps(model, batch, labels, steps=2)
    expected = {"v1": outputs(model, batch)}

    # Version 1 with transformers' own push_to_hub (the card is added separately, as a user would).
    model.push_to_hub(repo, token=ALICE, commit_message="fine-tuned, 2 steps")
    tokenizer.push_to_hub(repo, token=ALICE)
    card = make_model_card(repo, model.config.to_dict() | {"architectures": ["GPT1DoubleHeads"]})
    card.push_to_hub(repo, token=ALICE)
    pinned = HfApi(token=ALICE).model_info(repo).sha

    # Version 2 with the CLI, from a saved folder with a results file: the card then carries the results.
    train_steps(model, batch, labels, steps=1)
    expected["v2"] = outputs(model, batch)
    folder = tmp_path / "v2"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    results = {"eval_accuracy": 0.75, "eval_loss": 0.69, "epoch": 1.0}
    (tmp_path / "eval_results.json").write_text(json.dumps(results))
    argv = ["--folder", str(folder), "--repo_id", repo, "--token", ALICE, "--commit_message", "one more step"]
    argv += ["--results_file", str(tmp_path / "eval_results.json"), "--task_type", "multiple-choice"]
    argv += ["--dataset_type", "story_cloze", "--dataset_name", "Story Cloze 2016", "--dataset_split", "validation"]
    assert main(argv) == 0
    info = HfApi(token=ALICE).model_info(repo)
    assert info.sha != pinned
    assert {"config.json", "model.safetensors", "modeling_gpt1.py", "configuration_gpt1.py", "README.md"} <= {
        s.rfilename for s in info.siblings
    }
    assert {"tokenizer.json", "tokenizer_config.json", "tokenization_gpt1.py"} <= {s.rfilename for s in info.siblings}
    readme = download_file(repo, "README.md", token=ALICE).read_text()
    assert "| multiple-choice | Story Cloze 2016 | validation | accuracy | 0.75 |" in readme

    # With the package: our classes, no remote code; `main` is version 2, the pinned sha version 1.
    for revision, version in ((None, "v2"), (pinned, "v1")):
        loaded = load_model(repo, revision=revision)
        assert type(loaded) is GPT1DoubleHeads
        got = outputs(loaded.eval(), encode(load_tokenizer(repo, revision=revision), contexts, endings))
        for key, value in expected[version].items():
            np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-6, err_msg=f"{key} of {version}")

    # Without the package, through the olah mirror: the repo's own code, the same numbers.
    (tmp_path / "child").mkdir()
    args = {"repo": repo, "pinned": pinned, "contexts": contexts, "endings": endings}
    (tmp_path / "child" / "child_args.json").write_text(json.dumps(args))
    with olah_mirror(hub.url, tmp_path / "olah") as mirror:
        hub.requests.clear()
        env = {"HF_ENDPOINT": mirror, "HF_HOME": str(tmp_path / "child-hf"), "HF_HUB_OFFLINE": "0"}
        run_without_package(CHILD, cwd=tmp_path / "child", env={**env, "TRANSFORMERS_OFFLINE": "0"})
    assert f"GET /{repo}/resolve/{pinned}/model.safetensors" in hub.requests  # olah fetched it from upstream
    child = json.loads((tmp_path / "child" / "child_out.json").read_text())
    assert child["input_ids"] == batch["input_ids"].tolist()
    for revision, version in (("main", "v2"), (pinned, "v1")):
        for key, value in expected[version].items():
            np.testing.assert_allclose(child[revision][key], value, rtol=0, atol=1e-6, err_msg=f"{key} of {version}")
    assert child["choice"]["class"] == "GPT1ForMultipleChoice"
    np.testing.assert_allclose(child["choice"]["logits"], expected["v2"]["mc_logits"], rtol=0, atol=1e-6)


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    torch.manual_seed(0)
    folder = tmp_path / "tiny"
    GPT1ForCausalLM(GPT1Config.from_preset("tiny")).save_pretrained(folder)
    return folder


def test_model_card_metadata_results_and_loading_instructions(tiny_folder, online):
    (tiny_folder / "eval_results.json").write_text(json.dumps({"eval_accuracy": 0.5612, "eval_runtime": 3.0}))
    rte = {"type": "nyu-mll/glue", "name": "GLUE RTE", "config": "rte", "split": "validation"}
    card = card_for_folder(tiny_folder, "alice/gpt1-rte", dataset=rte, task_name="RTE", datasets=["nyu-mll/glue"])
    text = str(card)
    assert "| RTE | GLUE RTE | validation | accuracy | 0.5612 |" in text
    assert 'AutoModelForCausalLM.from_pretrained("alice/gpt1-rte", trust_remote_code=True)' in text
    assert 'GPT1ForCausalLM.from_pretrained("alice/gpt1-rte")' in text
    data = ModelCard(text).data
    assert data.library_name == "transformers" and data.base_model == "openai-community/openai-gpt"
    assert data.datasets == ["nyu-mll/glue"] and "gpt1" in data.tags
    [result] = data.eval_results
    assert (result.metric_type, result.metric_value, result.dataset_config) == ("accuracy", 0.5612, "rte")
    # The server's YAML check accepts it, and rejects metadata the Hub would reject.
    HfApi()._validate_yaml(text)
    assert validate_card_metadata(text) == []
    broken = text.replace("value: 0.5612", "valu: 0.5612")
    with pytest.raises(ValueError, match=r"metrics\[0\]"):
        HfApi()._validate_yaml(broken)


def test_results_from_a_finetuning_run_file(tmp_path):
    runs = {"title": "x", "runs": [{"task": "rte", "metrics": {"accuracy": 0.56}, "model_dir": str(tmp_path / "m")}]}
    (tmp_path / "results.json").write_text(json.dumps(runs))
    [result] = load_results(tmp_path / "results.json", model_dir=tmp_path / "m")
    assert (result.dataset_type, result.dataset_config, result.dataset_split) == ("nyu-mll/glue", "rte", "validation")
    assert load_results(tmp_path / "results.json", model_dir=tmp_path / "other") == []
    (tmp_path / "bad.json").write_text(json.dumps({"eval_accuracy": 0.5}))
    with pytest.raises(ValueError, match="does not say which dataset"):
        load_results(tmp_path / "bad.json")


def test_private_missing_and_bad_token_give_clear_errors(tiny_folder, online, capsys):
    repo = "alice/private-gpt1"
    (tiny_folder / "optimizer.pt").write_bytes(b"training state")
    (tiny_folder / ".config.json.x1.tmp").write_text("an interrupted write")
    url = push_folder(tiny_folder, repo, private=True, token=ALICE, revision="experiment", commit_message="first")
    assert "/commit/" in url
    files = {s.rfilename for s in HfApi(token=ALICE).model_info(repo, revision="experiment").siblings}
    assert files == {".gitattributes", "README.md", "config.json", "generation_config.json", "model.safetensors",
                     "modeling_gpt1.py", "configuration_gpt1.py"}  # fmt: skip
    assert {b.name for b in HfApi(token=ALICE).list_repo_refs(repo).branches} == {"main", "experiment"}

    with pytest.raises(HubError, match="not found.*private or gated, no token was given"):
        load_model(repo, token=False, revision="experiment")
    with pytest.raises(HubError, match="not found.*the token given cannot read it"):
        load_model(repo, token=BOB, revision="experiment")
    with pytest.raises(HubError, match="repository 'alice/no-such-model' .* was not found"):
        load_model("alice/no-such-model", token=ALICE)
    with pytest.raises(HubError, match="has no revision 'v9'"):
        load_model(repo, token=ALICE, revision="v9")
    with pytest.raises(HubError, match="has no file 'results.json'"):
        download_file(repo, "results.json", token=ALICE, revision="experiment")
    with pytest.raises(HubError, match="rejected the token"):
        push_folder(tiny_folder, "alice/other", token="hf_not_a_token")
    with pytest.raises(HubError, match="no write access"):
        push_folder(tiny_folder, "alice/private-gpt1", token=BOB)
    assert main(["--folder", str(tiny_folder), "--repo_id", "alice/x", "--token", "hf_not_a_token"]) == 2
    assert "rejected the token" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        push_folder(tiny_folder.parent / "nothing-here", repo, token=ALICE)
    (tiny_folder.parent / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        push_folder(tiny_folder.parent / "empty", repo, token=ALICE)
    # (Last: once the files are cached, transformers may serve them from the cache.)
    assert type(load_model(repo, token=ALICE, revision="experiment")) is GPT1ForCausalLM


def test_model_card_escapes_text_from_the_results_file():
    """A results file is user data: `|`, newlines and HTML in it must stay inside their cell, as text."""
    from huggingface_hub import EvalResult

    nasty = EvalResult(
        task_type="text-classification",
        task_name="a|b\n\n## not a heading",
        dataset_type="x",
        dataset_name="<script>alert(1)</script>",
        metric_type="accuracy",
        metric_value=0.5,
    )
    config = {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "vocab_size": 99}
    body = str(make_model_card("you/gpt1", config, results=[nasty]))
    rows = [line for line in body.splitlines() if line.startswith("| ") and "accuracy" in line]
    assert rows == ["| a\\|b ## not a heading | &lt;script&gt;alert(1)&lt;/script&gt; |  | accuracy | 0.5 |"]
    assert "<script>" not in body.split("---", 2)[-1] and "\n## not a heading" not in body


def cli_error(argv: list[str], capsys) -> str:
    """`scripts/hub.py` refusing `argv`: exit status 2, one `error: ...` line on stderr, no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_cli_refuses_bad_input_with_exit_2(tiny_folder, tmp_path, capsys):
    """Each of these exited 1 (a broken config.json with a bare JSON message, a non-URL --endpoint with the
    offline-cache message); all are found before anything is sent."""
    push = ["--repo_id", "alice/x", "--token", ALICE]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text('{"n_embd": 32,')
    (tmp_path / "empty").mkdir()
    cases = [
        (["--folder", str(tmp_path / "nothing")], "nothing is not a folder"),
        (["--folder", str(tmp_path / "empty")], "empty has no config.json"),
        (["--folder", str(tmp_path / "broken")], r"broken/config\.json is not valid JSON \(line 1, column 15:"),
        (
            ["--folder", str(tiny_folder), "--results_file", str(tmp_path / "no.json")],
            "results file .*no.json does not",
        ),
        (["--folder", str(tiny_folder), "--endpoint", "hub.example"], "--endpoint 'hub.example' is not an http"),
        (["--folder", str(tiny_folder), "--repo_id", "two//slashes"], "two//slashes"),
    ]
    for argv, message in cases:
        assert re.search(message, cli_error([*push, *argv], capsys)), argv


def test_cli_without_a_reachable_hub_is_one_error_line(tiny_folder, online, capsys):
    """An endpoint nothing listens on used to end in an httpx.ConnectError traceback; offline mode said the repo
    was 'not in the local cache', which means nothing for a push."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once the socket is closed
    argv = ["--folder", str(tiny_folder), "--repo_id", "alice/x", "--token", ALICE]
    assert re.search(f"cannot reach {closed}", cli_error([*argv, "--endpoint", closed], capsys))
    constants.HF_HUB_OFFLINE = True  # undone by the fixture's monkeypatch
    assert "HF_HUB_OFFLINE is set" in cli_error(argv, capsys)
