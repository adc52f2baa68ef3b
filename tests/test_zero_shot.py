"""The zero-shot heuristics: LM scores checked against a direct computation, and each task's heuristic end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict

from gpt1.task_data import load_task_data, subsample
from gpt1.tasks import TASKS
from gpt1.zero_shot import (
    best_threshold,
    continuation_logprobs,
    main,
    multiple_choice_scores,
    next_token_logprobs,
    zero_shot,
)
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
from tests.conftest import cli_error
from tokenization import GPT1Tokenizer


@pytest.fixture(scope="module")
def lm() -> tuple[GPT1ForCausalLM, GPT1Tokenizer]:
    torch.manual_seed(0)
    return GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478)).eval(), GPT1Tokenizer()


def direct_logprob(model, ids: list[int], start: int) -> float:
    """log p(ids[start:] | ids[:start]) from one unbatched forward pass."""
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1)
    return float(sum(logprobs[t - 1, ids[t]] for t in range(start, len(ids))))


def test_continuation_logprobs_match_a_direct_computation(lm):
    model, tokenizer = lm
    contexts = ["the cat sat on the mat .", None, "a much longer context that pads the other rows of the batch"]
    continuations = ["it purred .", "colorless green ideas sleep furiously", "yes"]
    scored = continuation_logprobs(model, tokenizer, contexts, continuations, batch_size=3)
    for ctx, cont, (total, n) in zip(contexts, continuations, scored):
        ctx_ids = tokenizer(ctx, add_special_tokens=False)["input_ids"] if ctx else []
        cont_ids = tokenizer(cont, add_special_tokens=False)["input_ids"]
        start = max(len(ctx_ids), 1)
        assert n == len(ctx_ids + cont_ids) - start
        assert total == pytest.approx(direct_logprob(model, ctx_ids + cont_ids, start), abs=1e-4)


def test_next_token_and_choice_scores(lm):
    model, tokenizer = lm
    texts = ["a fine film , very", "dull"]
    got = next_token_logprobs(model, tokenizer, texts, ["negative", "positive"], batch_size=2)
    for row, text in zip(got, texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            last = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1], -1)
        words = [tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in ("negative", "positive")]
        assert row == pytest.approx(last[words].numpy(), abs=1e-4)
    scores = multiple_choice_scores(model, tokenizer, ["he went home ."], [["he slept .", "it flew away ."]])
    assert scores.shape == (1, 2)
    totals = continuation_logprobs(model, tokenizer, ["he went home ."] * 2, ["he slept .", "it flew away ."])
    assert scores[0] == pytest.approx([t / n for t, n in totals])


def test_best_threshold_separates_scores():
    scores = np.array([-5.0, -4.0, -3.5, -1.0, -0.5, -0.2])
    labels = np.array([0, 0, 0, 1, 1, 1])
    t = best_threshold(scores, labels)
    assert -3.5 <= t < -1.0


def first_token(tokenizer, word: str) -> int:
    return tokenizer(word, add_special_tokens=False)["input_ids"][0]


def heuristic_by_hand(model, tokenizer, task, evaluation: dict, result: dict) -> dict[str, float]:
    """The task's figures recomputed here from one unbatched forward pass per text, as the paper describes each
    heuristic (Fig. 2 right), and scored from the confusion counts (`tests.test_finetuning_metrics`):
    SST-2: class 1 when p("positive") > p("negative") right after `text very`; CoLA: class 1 when the average
    log-probability of the sentence's tokens after the first is above the run's threshold; multiple choice: the
    answer with the highest average log-probability of its tokens after the context."""
    from tests.test_finetuning_metrics import metrics_by_hand

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    if task.heuristic == "very":
        positive, negative = first_token(tokenizer, "positive"), first_token(tokenizer, "negative")
        predictions = []
        for text in evaluation[task.columns.text[0]]:
            with torch.no_grad():
                last = model(torch.tensor([ids(f"{text.strip()} very")])).logits[0, -1]
            predictions.append(int(last[positive] > last[negative]))
    elif task.heuristic == "threshold":
        predictions = []
        for text in evaluation[task.columns.text[0]]:
            sentence = ids(text)
            average = direct_logprob(model, sentence, 1) / (len(sentence) - 1)
            # The threshold is one of the fitted scores (that sentence is below it): 1e-4 absorbs float noise.
            predictions.append(int(average > result["threshold"] + 1e-4))
    else:
        contexts = zip(*(evaluation[c] for c in task.columns.text[: task.columns.context]))
        answers = zip(*(evaluation[c] for c in task.columns.text[task.columns.context :]))
        predictions = []
        for context, options in zip(contexts, answers):
            before = ids(" ".join(context))
            scores = [direct_logprob(model, before + ids(o), len(before)) / len(ids(o)) for o in options]
            predictions.append(int(np.argmax(scores)))
    return metrics_by_hand(task, predictions, list(evaluation[task.columns.label]))


@pytest.fixture(scope="module")
def wide_lm() -> tuple[GPT1ForCausalLM, GPT1Tokenizer]:
    """The tiny LM with its weight matrices drawn wide (N(0, 0.5)): its next-token distribution depends on the
    context, so the heuristics' predictions differ from text to text (the default init gives one class to all)."""
    torch.manual_seed(0)
    model = GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478)).eval()
    with torch.no_grad():
        for weight in (p for p in model.parameters() if p.dim() == 2):
            weight.normal_(0.0, 0.5)
    return model, GPT1Tokenizer()


SENTENCES = ["a warm , funny film", "dull and lifeless", "the plot never gets off the ground", "wholly winning",
             "far too long", "a joy to watch from start to end", "flat"]  # fmt: skip
HEURISTIC_DATA = {
    "sst2": {"sentence": SENTENCES, "label": [1, 0, 0, 1, 0, 1, 0]},
    "cola": {"sentence": ["She sang .", "Him saw she .", "Who did you say left ?", "Rocks the clear rode .",
                          "The more you read , the less you know .", "The sailors rode the breeze .", "Sang she ."],
             "label": [0, 1, 0, 0, 1, 1, 1]},  # not the grammar: a split this random LM's scores half follow
    "story_cloze": {"story": [f"{s} . we went home ." for s in SENTENCES],
                    "ending1": ["it was fun", "we slept all through the long night", "yes", "it rained", "no",
                                "we laughed and laughed until we cried", "ok"],
                    "ending2": ["we never went back to that place again", "good", "the end came", "fine", "we cried",
                                "it was over", "nobody ever talked about it again"],
                    "label": [0, 1, 1, 0, 1, 0, 1]},
}  # fmt: skip


@pytest.mark.parametrize("name", list(HEURISTIC_DATA))
def test_each_heuristics_figures_by_hand(wide_lm, name):
    """Seven examples given in memory (no data folder), the same rows as the training sentences CoLA's threshold is
    fitted on: the reported metrics are the heuristic recomputed by hand, and predictions are not all one class."""
    model, tokenizer = wide_lm
    task = TASKS[name]
    split = Dataset.from_dict(HEURISTIC_DATA[name])
    result = zero_shot(
        model, tokenizer, task, data=DatasetDict({task.source.train_split: split, task.source.eval_split: split})
    )
    expected = heuristic_by_hand(model, tokenizer, task, HEURISTIC_DATA[name], result)
    assert result["metrics"] == pytest.approx(expected, abs=1e-6) and result["eval_examples"] == 7
    assert 0 < expected["accuracy"] < 1 and expected["accuracy"] != pytest.approx(0.5)
    if name == "cola":
        assert expected["matthews_correlation"] > 0  # the threshold was fitted on these very sentences


@pytest.mark.parametrize("name", ["sst2", "cola", "story_cloze"])
def test_each_heuristic_scores_a_task(sample_data, lm, name):
    model, tokenizer = lm
    task = TASKS[name]
    result = zero_shot(model, tokenizer, task, sample_data, max_eval_samples=6, max_train_samples=8)
    assert set(result["metrics"]) == set(task.scoring.metrics)
    assert result["eval_examples"] == 6  # the sample's dev: 6 rows
    evaluation = subsample(load_task_data(task, sample_data)[task.source.eval_split], 6).to_dict()  # the rows it scored
    assert result["metrics"] == pytest.approx(heuristic_by_hand(model, tokenizer, task, evaluation, result), abs=1e-6)
    assert ("threshold" in result) == (name == "cola")


def test_cli_writes_the_results_table(sample_data, tmp_path: Path, lm, capsys):
    model, tokenizer = lm
    model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    argv = ["--model_name_or_path", str(tmp_path / "lm"), "--data_dir", str(sample_data), "--tasks", "sst2",
            "--max_eval_samples", "16", "--output_dir", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    assert "| sst2 (zero-shot) | sst2 | accuracy |" in capsys.readouterr().out
    runs = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    assert runs[0]["heuristic"].startswith("text + ")
    with pytest.raises(ValueError, match="no zero-shot heuristic for task 'rte'"):
        zero_shot(model, tokenizer, TASKS["rte"], sample_data, max_eval_samples=4)


# --- user mistakes at the command line: one `error:` line and exit 2, before any model or data is loaded -----------


@pytest.fixture(scope="module")
def saved_lm(lm, tmp_path_factory) -> Path:
    """The tiny LM saved with its tokenizer; beside it a file, a folder holding only its config (no weights), a
    99-token model saved with the 40,478-token tokenizer (which does not fit it), and the LM without a tokenizer."""
    model, tokenizer = lm
    folder = tmp_path_factory.mktemp("saved") / "lm"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder.parent / "config_only").mkdir()
    (folder.parent / "config_only" / "config.json").write_text((folder / "config.json").read_text())
    (folder.parent / "a_file").write_text("not a folder")
    GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=99)).save_pretrained(folder.parent / "small_vocab")
    tokenizer.save_pretrained(folder.parent / "small_vocab")  # 40,478 tokens for 99 embeddings
    model.save_pretrained(folder.parent / "no_tokenizer")
    return folder


ZERO_SHOT_MISTAKES = [
    (["--tasks", "nope"], "unknown task 'nope'; choose from"),
    (["--tasks", "sst2", "rte"], "no zero-shot heuristic for task 'rte'"),
    (["--batch_size", "0"], "--batch_size must be a positive integer, got 0"),
    (["--batch_size", "-2"], "--batch_size must be a positive integer, got -2"),
    (["--max_eval_samples", "0"], "--max_eval_samples must be a positive integer, got 0"),
    (["--max_train_samples", "-1"], "--max_train_samples must be a positive integer, got -1"),
    (["--output_dir", "{a_file}/out"], "output folder .*a_file/out cannot be created: .*a_file is a file"),
    (["--model_name_or_path", "{tmp}/nothing"], "no such model folder: '.*nothing'"),
    (["--model_name_or_path", "{a_file}"], "a_file' is a file, not a model folder"),
    (["--model_name_or_path", "{tmp}"], "has no config.json: not a saved model folder"),
    (
        ["--model_name_or_path", "{config_only}"],
        "cannot load a GPT-1 language model from '.*config_only': .*model.safetensors",
    ),
    (["--model_name_or_path", "nobody/no-such-lm"], "'nobody/no-such-lm' on .*HF_HUB_OFFLINE is set"),
    (["--model_name_or_path", "{small_vocab}"], "tokenizer used with .* has 40478 tokens but the model embeds only 99"),
    (["--model_name_or_path", "{no_tokenizer}"], r"no_tokenizer has no tokenizer files \(tokenizer.json"),
    (["--data_dir", "{tmp}/no-data"], "task 'sst2': data folder .*no-data does not exist"),
    (["--data_dir", "{tmp}"], "task 'sst2': missing data file"),
]


@pytest.mark.parametrize(("extra", "message"), ZERO_SHOT_MISTAKES, ids=[" ".join(m[0]) for m in ZERO_SHOT_MISTAKES])
def test_zero_shot_cli_refuses_user_mistakes(saved_lm, tmp_path: Path, capsys, extra, message):
    """Each of these used to end in a traceback (or, for --batch_size -2, in a metric computed on nothing)."""
    places = {
        "tmp": tmp_path,
        **{name: saved_lm.parent / name for name in ("a_file", "config_only", "small_vocab", "no_tokenizer")},
    }
    extra = [arg.format(**places) for arg in extra]
    base = ["--model_name_or_path", str(saved_lm), "--data_dir", str(tmp_path / "data"), "--tasks", "sst2"]
    base += ["--max_eval_samples", "4", "--output_dir", str(tmp_path / "out")]  # a later flag wins: `extra` overrides
    (tmp_path / "data" / "glue" / "SST-2").mkdir(parents=True)  # data that gets as far as the model
    (tmp_path / "data" / "glue" / "SST-2" / "dev.tsv").write_text("sentence\tlabel\na fine film\t1\n")
    assert re.search(message, cli_error(main, [*base, *extra], capsys))
    assert not (tmp_path / "out").exists()


def test_race_is_scored_by_the_answer_given_passage_and_question(tmp_path, lm):
    """RACE's heuristic (Fig. 2 right): the option with the highest average token log-probability given the passage
    followed by the question; entailment tasks such as MNLI and SNLI have none."""
    from tests.samples import write_race

    model, tokenizer = lm
    write_race(tmp_path / "RACE", per_level=2)
    result = zero_shot(model, tokenizer, TASKS["race_m"], tmp_path)
    assert result["eval_examples"] == 4 and result["heuristic"].startswith("highest average log-probability")
    data = load_task_data(TASKS["race_m"], tmp_path)["validation"]
    contexts = [f"{a} {q}" for a, q in zip(data["article"], data["question"])]
    choices = list(zip(*(data[f"option{i}"] for i in range(1, 5))))
    preds = multiple_choice_scores(model, tokenizer, contexts, choices).argmax(-1)
    assert result["metrics"]["accuracy"] == pytest.approx(np.mean(preds == np.array(data["label"])))
    for name in ("mnli_m", "snli", "qqp"):
        with pytest.raises(ValueError, match=f"no zero-shot heuristic for task '{name}'"):
            zero_shot(model, tokenizer, TASKS[name], tmp_path)
