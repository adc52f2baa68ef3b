"""lm-evaluation-harness on a saved GPT-1 checkpoint with no user-side arguments (issue 12).

`lm_eval --model hf --model_args pretrained=DIR,trust_remote_code=True` works because the tokenizer declares an
end-of-text token, the newline (docs/tokenizer.md, "lm-evaluation-harness"): the harness conditions empty contexts and
`loglikelihood_rolling` on it and adds it to `generate_until`'s stop strings. The harness runs local tasks (a task
YAML over a JSONL file of real text: it cannot reach the Hub here), and its per-example log-likelihoods are checked
against `gpt1.zero_shot.continuation_logprobs`, its generations against `model.generate` one row at a time.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from gpt1.zero_shot import continuation_logprobs
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
from tokenization import GPT1Tokenizer

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is a development extra: pip install -e '.[dev]'")
from lm_eval.tasks import TaskManager  # noqa: E402

ROWS = 4
MAX_GEN_TOKS = 6
# A word the seeded model generates in one row (another row stops at a newline, another at MAX_GEN_TOKS).
UNTIL = ["barbarian"]
# A local task is a YAML over a JSON Lines file: `dataset_path: json` and its `data_files` need no Hub.
TASKS = {
    "gpt1_story_cloze": """\
output_type: multiple_choice
doc_to_text: "{{context}}"
doc_to_choice: "{{choices}}"
doc_to_target: label
metric_list:
  - metric: acc
""",
    "gpt1_paragraphs": """\
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{text}}"
metric_list:
  - metric: word_perplexity
""",
    "gpt1_continue": f"""\
output_type: generate_until
doc_to_text: "{{{{context}}}}"
doc_to_target: ""
generation_kwargs:
  until: {json.dumps(UNTIL)}
  max_gen_toks: {MAX_GEN_TOKS}
  do_sample: false
metric_list:
  - metric: exact_match
""",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, GPT1ForCausalLM, GPT1Tokenizer]:
    """A tiny GPT-1 LM saved with its tokenizer (what `save_pretrained` gives a user: remote code, `auto_map`)."""
    torch.manual_seed(0)
    # Wider init than the preset's: outputs that clearly depend on the context, so equal numbers mean something.
    config = GPT1Config.from_preset("tiny", vocab_size=40478, n_positions=128, initializer_range=0.3)
    model = GPT1ForCausalLM(config).eval()
    tokenizer = GPT1Tokenizer()
    with torch.no_grad():  # (tied head) a larger newline logit: greedy decoding ends some lines, for the newline stop
        model.get_input_embeddings().weight[tokenizer.eos_token_id] *= 3
    folder = tmp_path_factory.mktemp("lm_eval") / "lm"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


@pytest.fixture(scope="module")
def docs(sample_data: Path) -> dict[str, list[dict]]:
    """A few rows of text per task, from the samples (tests/samples.py): Story Cloze stories (their two endings),
    a play's first paragraphs (with a line break inside each) and the stories' first sentences to continue."""
    with open(sample_data / "storycloze" / "storycloze_val_2016.csv", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        stories = [next(reader) for _ in range(ROWS)]
    text = (sample_data / "corpus" / "plays" / "input.txt").read_text(encoding="utf-8")
    paragraphs = text.split("\n\n")[:ROWS]
    return {
        "gpt1_story_cloze": [
            {
                "context": " ".join(s[f"InputSentence{i}"] for i in range(1, 5)),
                "choices": [s["RandomFifthSentenceQuiz1"], s["RandomFifthSentenceQuiz2"]],
                "label": int(s["AnswerRightEnding"]) - 1,
            }
            for s in stories
        ],
        "gpt1_paragraphs": [{"text": p} for p in paragraphs],
        "gpt1_continue": [{"context": s["InputSentence1"]} for s in stories],
    }


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory, docs) -> Path:
    """The three local tasks: `<name>.yaml` over `<name>.jsonl`."""
    folder = tmp_path_factory.mktemp("tasks")
    for name, header in TASKS.items():
        data = folder / f"{name}.jsonl"
        data.write_text("".join(json.dumps(doc) + "\n" for doc in docs[name]), encoding="utf-8")
        source = f"task: {name}\ndataset_path: json\ndataset_kwargs:\n  data_files: {json.dumps(str(data))}\n"
        (folder / f"{name}.yaml").write_text(source + "test_split: train\n" + header, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def harness(checkpoint, task_dir) -> dict:
    """One in-process run of the three tasks, as `lm_eval --model hf --model_args pretrained=DIR,...` runs them."""
    folder, _, _ = checkpoint
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={folder},trust_remote_code=True",  # nothing GPT-1-specific
        tasks=list(TASKS),
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        batch_size=ROWS,  # padded batches, as users run it
        device="cpu",
        log_samples=True,
        bootstrap_iters=0,
    )
    return {name: sorted(samples, key=lambda s: s["doc_id"]) for name, samples in out["samples"].items()}


def test_tokenizer_declares_the_newline_as_end_of_text(checkpoint):
    folder, _, tokenizer = checkpoint
    remote = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)  # the copied module, as the harness loads
    assert type(remote).__module__.startswith("transformers_modules")
    for tok in (tokenizer, remote, GPT1Tokenizer.from_pretrained(folder)):
        assert (tok.eos_token, tok.eos_token_id, tok.bos_token_id, len(tok)) == ("\n</w>", 40477, None, 40478)
        ids = tok("To be.\nOr not")["input_ids"]
        words = ["to</w>", "be</w>", ".</w>", "\n</w>", "or</w>", "not</w>"]
        assert ids == tok.convert_tokens_to_ids(words)  # the vocabulary's ids: the newline is ordinary text
        assert tok.decode(ids, skip_special_tokens=True) == "to be . \n or not"  # and decoding keeps it


def test_no_eos_token_survives_saving(tmp_path):
    GPT1Tokenizer(eos_token=None).save_pretrained(tmp_path)  # None is saved, not replaced by the default on loading
    assert GPT1Tokenizer.from_pretrained(tmp_path).eos_token_id is None
    with pytest.raises(ValueError, match="eos_token '<eos>' is not in the vocabulary"):
        GPT1Tokenizer(eos_token="<eos>")  # adding it would grow the vocabulary past the embedding


def test_multiple_choice_loglikelihoods_equal_zero_shot(checkpoint, docs, harness):
    _, model, tokenizer = checkpoint
    samples = harness["gpt1_story_cloze"]
    assert [s["doc_id"] for s in samples] == list(range(ROWS))
    got, expected = [], []
    for doc, sample in zip(docs["gpt1_story_cloze"], samples):
        got += [ll for ll, _ in sample["filtered_resps"]]
        scored = continuation_logprobs(model, tokenizer, [doc["context"]] * 2, doc["choices"])
        expected += [total for total, _ in scored]
    assert got == pytest.approx(expected, abs=1e-4)
    assert len({round(v, 2) for v in expected}) == len(expected)  # every row differs: the comparison means something
    # The context matters to the model: the same endings score differently after another story.
    other = continuation_logprobs(model, tokenizer, [docs["gpt1_story_cloze"][1]["context"]] * 2,
                                  docs["gpt1_story_cloze"][0]["choices"])  # fmt: skip
    assert abs(other[0][0] - expected[0]) > 1e-2 and abs(other[1][0] - expected[1]) > 1e-2


def test_rolling_loglikelihoods_equal_zero_shot_after_the_newline(checkpoint, docs, harness):
    """The harness scores every token of a text, the first one after the end-of-text token: the newline, as if the
    text began a paragraph. `continuation_logprobs` without a context leaves the first token unscored (its CoLA
    heuristic); with `prefix_token_id=tokenizer.eos_token_id` it is the harness's number."""
    _, model, tokenizer = checkpoint
    texts = [doc["text"] for doc in docs["gpt1_paragraphs"]]
    ids = tokenizer(texts)["input_ids"]
    assert all(40477 in row and len(row) < model.config.n_positions for row in ids)  # one window, a newline inside
    got = [sample["filtered_resps"][0] for sample in harness["gpt1_paragraphs"]]
    scored = continuation_logprobs(model, tokenizer, [None] * ROWS, texts, prefix_token_id=tokenizer.eos_token_id)
    assert [n for _, n in scored] == [len(row) for row in ids]
    assert got == pytest.approx([total for total, _ in scored], abs=1e-4)
    unprefixed = continuation_logprobs(model, tokenizer, [None] * ROWS, texts)
    assert all(abs(a - b) > 1e-2 for (a, _), (b, _) in zip(scored, unprefixed))


def test_generate_until_stops_at_until_the_newline_and_max_gen_toks(checkpoint, docs, harness):
    _, model, tokenizer = checkpoint
    stops = {"until": 0, "newline": 0, "max_gen_toks": 0}
    for doc, sample in zip(docs["gpt1_continue"], harness["gpt1_continue"]):
        inputs = tokenizer(doc["context"], return_tensors="pt")
        with torch.no_grad():  # one row, no padding: greedy, as the harness's `do_sample: false`
            out = model.generate(**inputs, max_new_tokens=MAX_GEN_TOKS, do_sample=False, pad_token_id=0)
        new = out[0, inputs["input_ids"].shape[1] :].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True)
        for stop, kind in [*((s, "until") for s in UNTIL), ("\n", "newline")]:
            if stop in text:
                text = text.split(stop)[0]
                stops[kind] += 1
                break
        else:
            stops["max_gen_toks"] += 1
        assert sample["filtered_resps"][0] == text
    assert all(stops.values()), stops  # each way of stopping was exercised
