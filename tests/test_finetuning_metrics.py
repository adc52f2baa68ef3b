"""What a fine-tuning run reports, checked against values worked out by hand in this file.

- Each task row's metrics: `compute_metrics_fn(task)` on an `EvalPrediction` shaped as `Trainer` gathers it (the
  logits array, or a tuple when the model returns hidden states too), from fixed logits and labels whose metrics are
  written here as fractions of a confusion matrix: accuracy, F1 with class 1 as the positive class (binary, never
  macro), Matthews correlation, Pearson and Spearman (chosen to differ).
- The split each task is scored on (MNLI-m on dev_matched, MNLI-mm on dev_mismatched), and the reported figures
  recomputed from the saved predictions, which are recomputed from the model's own logits.
- The objective `L_task + lambda * L_lm`: `lm_loss` against plain `cross_entropy` over the shifted tokens of padded
  batches of every transform, with the authors' masking rule written out (`lm_loss_by_hand`).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import EvalPrediction

from gpt1 import finetuning
from gpt1.finetune_args import FinetuneArguments, PaperTrainingArguments
from gpt1.finetune_runs import Run
from gpt1.finetuning import compute_metrics_fn, finetune, task_predictions
from gpt1.task_data import load_task_data, with_index
from gpt1.tasks import TASKS, TaskSpec, custom_task
from gpt1.transforms import encode_batch, pad_collate
from tests.test_task_model import task_model

# --- the metric of every task row, by hand ---------------------------------------------------------------------------

# Two classes, eight examples: TP 3 (class 1 predicted for a 1), FN 2, FP 1, TN 2.
BINARY_LABELS = [1, 0, 1, 1, 0, 1, 0, 1]
BINARY_PREDS = [1, 0, 0, 1, 1, 1, 0, 0]
ACCURACY_5_8 = 5 / 8
F1_POSITIVE_1 = 2 * 3 / (2 * 3 + 1 + 2)  # 2/3; with class 0 as the positive class: 2*2/(2*2+2+1) = 4/7
MCC = (3 * 2 - 1 * 2) / math.sqrt((3 + 1) * (3 + 2) * (2 + 1) * (2 + 2))  # (TP TN - FP FN) / sqrt(...) = 4/sqrt(240)
# Three classes, five examples (not three, so an argmax over the wrong axis cannot line up): 3 right.
NLI_LABELS, NLI_PREDS = [0, 1, 2, 2, 1], [0, 2, 2, 1, 1]
# Four answers, five questions: 3 right.
RACE_LABELS, RACE_PREDS = [0, 1, 2, 3, 3], [0, 1, 3, 3, 1]
# STS-B: predictions 0,1,2,3,10 against gold 0,2,1,4,3. Deviations from the means (3.2 and 2): (-3.2,-2.2,-1.2,-0.2,6.8)
# and (-2,0,-1,2,1); sum of products 14, sums of squares 62.8 and 10: Pearson 14/sqrt(628). Ranks 1..5 against
# 1,3,2,5,4: d^2 = 0,1,1,1,1, Spearman 1 - 6*4/(5*24) = 0.8.
STSB_PREDS, STSB_LABELS = [0.0, 1.0, 2.0, 3.0, 10.0], [0.0, 2.0, 1.0, 4.0, 3.0]
PEARSON, SPEARMAN = 14 / math.sqrt(628), 0.8

BINARY = (BINARY_PREDS, BINARY_LABELS)
CLASS_METRICS = {
    "accuracy": {"accuracy": ACCURACY_5_8},
    "cola": {"matthews_correlation": MCC, "accuracy": ACCURACY_5_8},
    "f1": {"f1": F1_POSITIVE_1, "accuracy": ACCURACY_5_8},
}

# Per task row: the split it is scored on, its classes in id order (GLUE's own order on the Hub, where it has one),
# the predictions and labels of the case, and what the task's compute_metrics must report for them.
CASES: dict[str, dict[str, Any]] = {
    "sst2": dict(split="validation", classes=("negative", "positive"), case=BINARY,
                 expected=CLASS_METRICS["accuracy"]),
    "cola": dict(split="validation", classes=("unacceptable", "acceptable"), case=BINARY,
                 expected=CLASS_METRICS["cola"]),
    "mrpc": dict(split="validation", classes=("not_equivalent", "equivalent"), case=BINARY,
                 expected=CLASS_METRICS["f1"]),
    "qqp": dict(split="validation", classes=("not_duplicate", "duplicate"), case=BINARY,
                expected=CLASS_METRICS["f1"]),
    "stsb": dict(split="validation", classes=None, case=(STSB_PREDS, STSB_LABELS),
                 expected={"pearsonr": PEARSON, "spearmanr": SPEARMAN}),
    "mnli_m": dict(split="validation_matched", classes=("entailment", "neutral", "contradiction"),
                   case=(NLI_PREDS, NLI_LABELS), expected={"accuracy": 3 / 5}),
    "mnli_mm": dict(split="validation_mismatched", classes=("entailment", "neutral", "contradiction"),
                    case=(NLI_PREDS, NLI_LABELS), expected={"accuracy": 3 / 5}),
    "rte": dict(split="validation", classes=("entailment", "not_entailment"), case=BINARY,
                expected=CLASS_METRICS["accuracy"]),
    "wnli": dict(split="validation", classes=("not_entailment", "entailment"), case=BINARY,
                 expected=CLASS_METRICS["accuracy"]),
    "qnli": dict(split="validation", classes=("entailment", "not_entailment"), case=BINARY,
                 expected=CLASS_METRICS["accuracy"]),
    "snli": dict(split="validation", classes=("entailment", "neutral", "contradiction"), case=(NLI_PREDS, NLI_LABELS),
                 expected={"accuracy": 3 / 5}),
    "scitail": dict(split="validation", classes=("entails", "neutral"), case=BINARY,
                    expected=CLASS_METRICS["accuracy"]),
    "story_cloze": dict(split="validation", classes=None, case=BINARY, expected=CLASS_METRICS["accuracy"]),
    "race_m": dict(split="validation", classes=("A", "B", "C", "D"), case=(RACE_PREDS, RACE_LABELS),
                   expected={"accuracy": 3 / 5}),
    "race_h": dict(split="validation", classes=("A", "B", "C", "D"), case=(RACE_PREDS, RACE_LABELS),
                   expected={"accuracy": 3 / 5}),
    "race": dict(split="validation", classes=("A", "B", "C", "D"), case=(RACE_PREDS, RACE_LABELS),
                 expected={"accuracy": 3 / 5}),
    "demo": dict(split="validation", classes=("negative", "positive"), case=BINARY,
                 expected=CLASS_METRICS["accuracy"]),
}  # fmt: skip


def model_logits(task: TaskSpec, predictions: list, seed: int = 0) -> np.ndarray:
    """What the task's head returns for these predictions: `(N, num_labels)` class logits (or `(N, num_choices)`
    answer scores) whose largest entry is the prediction, or the `(N, 1)` output of a regression head."""
    if task.is_regression:
        return np.array(predictions, dtype=np.float32)[:, None]
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.0, (len(predictions), task.num_labels)).astype(np.float32)
    for row, winner in enumerate(predictions):
        logits[row, winner] = logits[row].max() + 0.5  # the prediction, by a margin
    return logits


def label_ids(task: TaskSpec, labels: list) -> np.ndarray:
    """The gathered labels, as `Trainer` gives them: float32 for regression, int64 class or answer ids."""
    return np.array(labels, dtype=np.float32 if task.is_regression else np.int64)


def test_every_task_row_has_a_case():
    assert set(CASES) == set(TASKS)


@pytest.mark.parametrize("name", list(CASES))
def test_each_task_is_scored_on_its_split_with_its_classes(name):
    """The evaluation split and the class order (a class id is a column of the logits: a swapped order would score
    every prediction as the other class); the metrics are the paper's for the task, headline first."""
    task, case = TASKS[name], CASES[name]
    assert task.source.eval_split == case["split"]
    assert task.columns.label_names == case["classes"]
    assert task.scoring.metrics == tuple(case["expected"])
    assert task.num_labels == (1 if task.is_regression else max(max(case["case"][1]) + 1, 2))


@pytest.mark.parametrize("name", list(CASES))
def test_compute_metrics_of_each_task_by_hand(name):
    """`compute_metrics` on the predictions `task_predictions` makes of a batch's outputs as `Trainer` hands them
    over (the logits tensor alone, or with the hidden states: a tuple), gathered into an array."""
    task, case = TASKS[name], CASES[name]
    predictions, labels = case["case"]
    logits = torch.from_numpy(model_logits(task, predictions))
    hidden = tuple(torch.zeros((len(labels), 4, 8)) for _ in range(3))
    compute = compute_metrics_fn(task)
    for outputs in (logits, (logits, hidden)):
        gathered = task_predictions(task, outputs).numpy()
        got = compute(EvalPrediction(predictions=gathered, label_ids=label_ids(task, labels)))
        assert got == pytest.approx(case["expected"], abs=1e-6), type(outputs)


def test_stsb_case_tells_pearson_from_spearman_and_takes_a_flat_output():
    """The case separates the two correlations; a head returning `(N,)` scores is read the same as `(N, 1)`."""
    assert abs(PEARSON - SPEARMAN) > 0.2
    compute = compute_metrics_fn(TASKS["stsb"])
    predictions = task_predictions(TASKS["stsb"], torch.tensor(STSB_PREDS)).numpy()
    flat = compute(EvalPrediction(predictions=predictions, label_ids=label_ids(TASKS["stsb"], STSB_LABELS)))
    assert flat == pytest.approx({"pearsonr": PEARSON, "spearmanr": SPEARMAN}, abs=1e-6)


def test_binary_case_tells_the_positive_class_and_the_averaging_apart():
    """F1 of class 1 (MRPC's `equivalent`, QQP's `duplicate`) is 2/3; class 0's is 4/7 and the macro mean 13/21, so
    the case catches the wrong positive class and macro averaging."""
    f1_of_0 = 2 * 2 / (2 * 2 + 2 + 1)
    assert len({round(F1_POSITIVE_1, 6), round(f1_of_0, 6), round((F1_POSITIVE_1 + f1_of_0) / 2, 6)}) == 3
    for name in ("mrpc", "qqp"):
        assert TASKS[name].columns.label_names[1] in ("equivalent", "duplicate")  # class 1 is the one F1 is about


# --- reported figures = the saved predictions scored by hand = the model's own logits --------------------------------


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank (Spearman's)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def metrics_by_hand(task: TaskSpec, predictions: list, labels: list) -> dict[str, float]:
    """Every metric of `task` from predictions and labels (class ids, or scores): counts and formulas, no library."""
    if task.is_regression:
        return {"pearsonr": pearson(predictions, labels), "spearmanr": pearson(ranks(predictions), ranks(labels))}
    pairs = list(zip(predictions, labels))
    tp = sum(p == 1 and y == 1 for p, y in pairs)
    fp = sum(p == 1 and y != 1 for p, y in pairs)
    fn = sum(p != 1 and y == 1 for p, y in pairs)
    tn = len(pairs) - tp - fp - fn
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    by_name = {
        "accuracy": sum(p == y for p, y in pairs) / len(pairs),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,  # class 1 positive
        "matthews_correlation": (tp * tn - fp * fn) / denominator if denominator else 0.0,
    }
    return {name: by_name[name] for name in task.scoring.metrics}


def read_predictions(task: TaskSpec, path: Path) -> dict[str, tuple[Any, Any]]:
    """`predictions_<split>.tsv` as `index -> (prediction, label)`, classes as ids (the file spells names or ids)."""

    def value(text: str) -> Any:
        if task.is_regression:
            return float(text)
        names = task.columns.label_names
        return names.index(text) if names and text in names else int(text)

    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {row["index"]: (value(row["prediction"]), value(row["label"])) for row in rows}


def check_reported_metrics(task: TaskSpec, results: dict[str, Any], output_dir: Path) -> dict[str, tuple[Any, Any]]:
    """The run's figures are its saved predictions scored by hand, one row per scored example; returns the rows."""
    saved = read_predictions(task, output_dir / f"predictions_{task.source.eval_split}.tsv")
    assert len(saved) == results["eval_examples"]
    predictions, labels = zip(*saved.values())
    expected = metrics_by_hand(task, list(predictions), list(labels))
    assert results["metrics"] == pytest.approx(expected, abs=1e-5)
    stored = json.loads((output_dir / "results.json").read_text())["runs"][0]["metrics"]
    assert stored == pytest.approx(expected, abs=1e-5)
    return saved


def write_glue(folder: Path, header: list[str], rows: list[list[str]], name: str = "dev.tsv") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join("\t".join(r) + "\n" for r in [header, *rows]), encoding="utf-8")


MNLI_HEADER = ["index", "promptID", "pairID", "genre", "sentence1", "sentence2", "label1", "gold_label"]


def write_mnli_dev(folder: Path) -> None:
    """`dev_matched.tsv` (3 pairs, indices m0..) and `dev_mismatched.tsv` (5 pairs, mm0..): different sets."""
    labels = ["entailment", "neutral", "contradiction", "neutral", "entailment"]
    for name, prefix, n in (("dev_matched.tsv", "m", 3), ("dev_mismatched.tsv", "mm", 5)):
        rows = [[f"{prefix}{i}", str(i), f"{i}e", "fiction", f"A man {i} walks .", f"{prefix} pair {i} .",
                 labels[i], labels[i]] for i in range(n)]  # fmt: skip
        write_glue(folder, MNLI_HEADER, rows, name)


def write_stsb_dev(folder: Path) -> None:
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
              "score"]  # fmt: skip
    scores = ["5.000", "0.500", "3.200", "1.750", "4.000", "2.600"]
    rows = [[str(i), "main-captions", "MSRvid", "2012test", str(i), "none", "none", f"A dog runs {i} .",
             f"A {'dog' if i % 2 else 'cat'} sleeps {i} .", s] for i, s in enumerate(scores)]  # fmt: skip
    write_glue(folder, header, rows)


def write_qqp_dev(folder: Path) -> None:
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    rows = [[str(i), str(2 * i), str(2 * i + 1), f"How do I learn {i} ?", f"How do I {'learn' if i % 3 else 'cook'} "
             f"{i} ?", str(int(i % 3 != 0))] for i in range(7)]  # fmt: skip
    write_glue(folder, header, rows)


def write_cola_dev(folder: Path) -> None:
    """CoLA's dev.tsv has no header: source, label, original label (empty when acceptable), sentence."""
    sentences = ["The sailors rode the breeze clear of the rocks .", "Rocks the clear rode .", "She sang .",
                 "Who did you say that left ?", "Bill ate the peaches , and Harry the grapes .", "Him saw she .",
                 "The more you read , the less you understand ."]  # fmt: skip
    rows = [["gj04", str(i % 2), "" if i % 2 else "*", text] for i, text in enumerate(sentences)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dev.tsv").write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


def write_race_dev(folder: Path) -> None:
    for i in range(3):
        article = {"answers": ["ABCD"[(i + q) % 4] for q in range(2)],
                   "options": [[f"option {c} {q}" for c in "abcd"] for q in range(2)],
                   "questions": [f"What is said in part {q} ?" for q in range(2)],
                   "article": " ".join(f"word{k}" for k in range(20 + i)), "id": f"{i}.txt"}  # fmt: skip
        for split in ("train", "dev"):  # the loader reads both
            (folder / split / "middle").mkdir(parents=True, exist_ok=True)
            (folder / split / "middle" / f"{i}.txt").write_text(json.dumps(article), encoding="utf-8")


@pytest.fixture(scope="module")
def wide_lm(tmp_path_factory) -> Path:
    """A tiny GPT-1 LM over the authors' vocabulary whose weight matrices are drawn wide (N(0, 0.5)): its final
    states, and so a fresh head's predictions, differ from example to example (the default init predicts one class
    for every example, where a swapped class order or a wrong axis could give the same figure)."""
    from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
    from tokenization import GPT1Tokenizer

    folder = tmp_path_factory.mktemp("wide_lm")
    torch.manual_seed(0)
    model = GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478))
    with torch.no_grad():
        for weight in (p for p in model.parameters() if p.dim() == 2):
            weight.normal_(0.0, 0.5)
    model.save_pretrained(folder)
    GPT1Tokenizer().save_pretrained(folder)
    return folder


WRITERS = {
    "demo": None,  # the bundled sample
    "cola": lambda root: write_cola_dev(root / "glue" / "CoLA"),
    "stsb": lambda root: write_stsb_dev(root / "glue" / "STS-B"),
    "qqp": lambda root: write_qqp_dev(root / "glue" / "QQP"),
    "mnli_m": lambda root: write_mnli_dev(root / "glue" / "MNLI"),
    "mnli_mm": lambda root: write_mnli_dev(root / "glue" / "MNLI"),
    "race_m": lambda root: write_race_dev(root / "RACE"),
}


def evaluate_only(tiny_lm: Path, tmp_path: Path, name: str, monkeypatch) -> tuple[dict, torch.nn.Module, Any, Path]:
    """`finetune --do_train false` of `name` on files written in its release format; returns the results, the model
    and tokenizer it scored with (caught on their way to the Trainer) and the data root."""
    data_dir = None
    if WRITERS[name] is not None:
        data_dir = tmp_path / "data"
        WRITERS[name](data_dir)
    seen: dict[str, Any] = {}
    make_trainer = finetuning.make_trainer

    def catch(run, model, tokenizer, *rest):
        seen.update(model=model, tokenizer=tokenizer)
        return make_trainer(run, model, tokenizer, *rest)

    monkeypatch.setattr(finetuning, "make_trainer", catch)
    args = FinetuneArguments(
        task=name, model_name_or_path=str(tiny_lm), add_special_tokens=True, max_length=32, max_eval_samples=8,
        data_dir=None if data_dir is None else str(data_dir),
    )  # fmt: skip
    training_args = PaperTrainingArguments(output_dir=str(tmp_path / "out"), do_train=False, report_to="none")
    return finetune(args, training_args), seen["model"], seen["tokenizer"], data_dir


def own_predictions(task: TaskSpec, model: torch.nn.Module, tokenizer: Any, rows: dict[str, list]) -> np.ndarray:
    """The model's predictions for `rows`, from one forward pass here: the argmax over the class (or answer) axis
    of the `(N, num_labels)` logits, or the regression head's one output."""
    encoded = encode_batch(task, tokenizer, rows, max_length=32)
    features = [{"input_ids": ids} for ids in encoded["input_ids"]]
    batch = pad_collate(features, pad_token_id=tokenizer.pad_token_id)
    model.eval()
    with torch.no_grad():
        logits = model(**batch).logits.numpy()
    assert logits.shape == (len(features), task.num_labels)
    return logits[:, 0] if task.is_regression else logits.argmax(axis=1)


@pytest.mark.parametrize("name", list(WRITERS))
def test_reported_metrics_are_the_models_predictions_scored_by_hand(wide_lm, tmp_path, monkeypatch, name):
    """results.json's figures = `predictions_<split>.tsv` scored by hand, and the file's predictions = the model's
    own logits on the split the task is scored on."""
    task = TASKS[name]
    results, model, tokenizer, data_dir = evaluate_only(wide_lm, tmp_path, name, monkeypatch)
    saved = check_reported_metrics(task, results, tmp_path / "out")
    split = with_index(load_task_data(task, data_dir)[task.source.eval_split])
    position = {key: i for i, key in enumerate(split["index"])}
    rows = split.select([position[key] for key in saved]).to_dict()  # the scored rows, in the file's order
    ours = own_predictions(task, model, tokenizer, rows)
    for i, key in enumerate(saved):
        prediction, label = saved[key]
        assert label == pytest.approx(rows[task.columns.label][i])
        assert prediction == pytest.approx(float(ours[i]), rel=1e-5, abs=1e-6), key
    if task.is_regression:
        assert results["metrics"]["pearsonr"] != pytest.approx(results["metrics"]["spearmanr"], abs=1e-4)


def test_mnli_matched_and_mismatched_are_scored_on_their_own_dev_sets(tiny_lm, tmp_path, monkeypatch):
    """MNLI-m is dev_matched (3 pairs here), MNLI-mm dev_mismatched (5): the indices in the saved predictions say
    which file each run scored."""
    matched, *_ = evaluate_only(tiny_lm, tmp_path / "m", "mnli_m", monkeypatch)
    mismatched, *_ = evaluate_only(tiny_lm, tmp_path / "mm", "mnli_mm", monkeypatch)
    assert (matched["eval_examples"], mismatched["eval_examples"]) == (3, 5)
    m = read_predictions(TASKS["mnli_m"], tmp_path / "m" / "out" / "predictions_validation_matched.tsv")
    mm = read_predictions(TASKS["mnli_mm"], tmp_path / "mm" / "out" / "predictions_validation_mismatched.tsv")
    assert list(m) == ["m0", "m1", "m2"] and list(mm) == [f"mm{i}" for i in range(5)]


# --- the objective: L_task + lambda * L_lm ----------------------------------------------------------------------------

# A task of each transform, with three examples whose texts are long enough for any `max_length` used below. The
# first text starts with an unknown character: a real `<unk>` (id 0, also the padding id), which only the attention
# mask tells from padding.
LONG = "in the warm sun of a long and lazy afternoon by the river"
OBJECTIVE_ROWS: dict[str, dict[str, list]] = {
    "sst2": {"sentence": [f"a ☃ snowman melts {LONG}", "the film is slow and dull from its first scene to its last",
                          f"fine fun for the whole family , with songs {LONG}"], "label": [1, 0, 1]},
    "rte": {"sentence1": [f"a ☃ snowman stood {LONG}", f"the cat slept {LONG}", "a man sells cars and boats in town"],
            "sentence2": ["a snowman stood somewhere warm for a while today", "a dog slept", f"a man sells {LONG}"],
            "label": [0, 1, 0]},
    "stsb": {"sentence1": [f"a ☃ dog runs {LONG}", "a woman is slicing an onion in a small kitchen", f"kids play {LONG}"],
             "sentence2": ["a dog is running", f"a woman cuts an onion {LONG}", "children are playing outside now"],
             "label": [0.5, 3.0, 4.2]},
    "story_cloze": {"story": [f"a ☃ snowman stood {LONG} .", f"tom went to the shop {LONG} .", f"ann ran {LONG} ."],
                    "ending1": ["it melted slowly in the warm sun", "he bought milk and bread", f"she won the race {LONG}"],
                    "ending2": [f"it flew to the moon {LONG}", "he ate a car for lunch on monday", "she slept all day"],
                    "label": [0, 0, 1]},
    "race_m": {"article": [f"a ☃ snowman stood {LONG} .", f"the school has a big library {LONG} .", f"we met {LONG}"],
               "question": ["where did it stand ?", "what does the school have ?", f"when did we meet {LONG} ?"],
               "option1": ["by the river", "a pool", "at noon"], "option2": [f"in the sea {LONG}", "a library", "never"],
               "option3": ["on a roof", f"a farm {LONG}", "in the morning after a long walk"],
               "option4": ["nowhere at all", "a zoo", "at night"], "label": [0, 1, 2]},
}  # fmt: skip


def objective_model(wide_lm: Path, name: str, **options: Any) -> tuple[torch.nn.Module, Any]:
    """The task's head on the wide tiny LM (per-token losses far apart), through the fine-tuning code path, without
    dropout."""
    args = FinetuneArguments(task=name, model_name_or_path=str(wide_lm), add_special_tokens=True, **options)
    model, tokenizer = task_model(args, TASKS[name])
    return model.eval(), tokenizer


def objective_batch(name: str, tokenizer: Any, max_length: int, extra_padding: int) -> dict[str, torch.Tensor]:
    """The task's rows framed by its transform and collated as `Trainer` feeds them (right padding), with
    `extra_padding` more padding columns, so that every sequence is padded."""
    task = TASKS[name]
    encoded = encode_batch(task, tokenizer, OBJECTIVE_ROWS[name], max_length=max_length)
    features = [{"input_ids": ids, "labels": y} for ids, y in zip(encoded["input_ids"], encoded["labels"])]
    batch = pad_collate(features, pad_token_id=tokenizer.pad_token_id)
    pad = (0, extra_padding)
    batch["input_ids"] = F.pad(batch["input_ids"], pad, value=tokenizer.pad_token_id)
    batch["attention_mask"] = F.pad(batch["attention_mask"], pad, value=0)
    return batch


def check_framing(tokenizer: Any, name: str, batch: dict[str, torch.Tensor]) -> None:
    """Each sequence is `_start_ ... [_delimiter_ ...] _classify_` then padding; one holds a real `<unk>` (id 0)."""
    ids = batch["input_ids"].reshape(-1, batch["input_ids"].size(-1))
    mask = batch["attention_mask"].reshape(ids.shape)
    lengths = mask.sum(-1)
    for row, m, n in zip(ids, mask, lengths.tolist()):
        assert m.tolist() == [1] * n + [0] * (len(m) - n)
        assert row[0] == tokenizer.start_token_id and row[n - 1] == tokenizer.classify_token_id
        assert (row[:n] == tokenizer.delimiter_token_id).any() == (name != "sst2")
    assert ((ids == 0) & (mask == 1)).any(), "no real <unk> in the batch"


def lm_loss_by_hand(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
    """The auxiliary LM loss as the authors' `train.py` computes it, on each sequence alone (no padding at all):
    the logits at positions 0..n-2 (the LM head is the transposed token embedding) predict the tokens x[1:] of the
    n real ones, i.e. the targets are `x[:, 1:]` masked by `M[:, 1:]`: `_start_` is never a target, every text
    token, `_delimiter_` and `_classify_` are, padding is not. Returns the mean over sequences of each sequence's
    mean (the authors') and the mean over all predicted tokens of the batch."""
    ids = batch["input_ids"].reshape(-1, batch["input_ids"].size(-1))
    lengths = batch["attention_mask"].reshape(ids.shape).sum(-1).tolist()
    embedding = model.transformer.tokens_embed.weight
    means, total, count = [], 0.0, 0
    with torch.no_grad():
        for row, n in zip(ids, lengths):
            real = row[:n]
            logits = model.transformer(real[None]).last_hidden_state[0] @ embedding.T  # (n, V)
            losses = F.cross_entropy(logits[:-1], real[1:], reduction="none")  # n - 1 predictions
            means.append(losses.mean().item())
            total, count = total + losses.sum().item(), count + len(losses)
    return sum(means) / len(means), total / count


def task_loss_by_hand(name: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """MSE of the single output for regression (STS-B), else cross-entropy over the classes or answers."""
    if TASKS[name].is_regression:
        return F.mse_loss(logits.squeeze(-1), labels)
    return F.cross_entropy(logits, labels)


@pytest.mark.parametrize("name", list(OBJECTIVE_ROWS))
def test_lm_loss_is_the_shifted_cross_entropy_with_the_authors_mask(wide_lm, name):
    """Padded batches of every transform whose sequences are cut to one length (so any mean over the predicted
    tokens gives the same figure): `lm_loss` is the hand computation, padding excluded, framing tokens predicted."""
    assert TASKS[name].transform.name in {"classification", "entailment", "similarity", "multiple_choice"}
    model, tokenizer = objective_model(wide_lm, name)
    batch = objective_batch(name, tokenizer, max_length=12, extra_padding=3)
    check_framing(tokenizer, name, batch)
    lengths = set(batch["attention_mask"].sum(-1).flatten().tolist())
    assert len(lengths) == 1 and lengths.pop() <= 12  # one length, then at least three padding columns
    per_sequence, per_token = lm_loss_by_hand(model, batch)
    assert per_sequence == pytest.approx(per_token, rel=1e-6)
    with torch.no_grad():
        out = model(**batch)
    assert out.lm_loss.item() == pytest.approx(per_token, rel=1e-5)


@pytest.mark.parametrize("name", list(OBJECTIVE_ROWS))
def test_objective_is_task_loss_plus_lambda_times_lm_loss(wide_lm, name):
    """`loss = L_task + lambda * L_lm` with lambda = `--lm_coef`: the paper's 0.5 by default, 2 when asked, and
    no LM term at 0; each part against its own hand computation."""
    for lm_coef, options in ((0.5, {}), (2.0, {"lm_coef": 2.0}), (0.0, {"lm_coef": 0.0})):
        model, tokenizer = objective_model(wide_lm, name, **options)
        assert model.config.lm_coef == lm_coef
        batch = objective_batch(name, tokenizer, max_length=12, extra_padding=2)
        with torch.no_grad():
            out = model(**batch)
        task_loss = task_loss_by_hand(name, out.logits, batch["labels"]).item()
        assert out.task_loss.item() == pytest.approx(task_loss, rel=1e-5)
        if lm_coef == 0:
            assert out.lm_loss is None and out.loss.item() == pytest.approx(task_loss, rel=1e-6)
            continue
        lm_loss = lm_loss_by_hand(model, batch)[0]
        assert out.loss.item() == pytest.approx(task_loss + lm_coef * lm_loss, rel=1e-5)


@pytest.mark.parametrize("name", list(OBJECTIVE_ROWS))
def test_lm_loss_averages_each_sequence_first_as_the_authors_code(wide_lm, name):
    """Sequences of different lengths: the authors' `lm_losses.sum(1) / M[:, 1:].sum(1)` then the batch mean."""
    model, tokenizer = objective_model(wide_lm, name)
    batch = objective_batch(name, tokenizer, max_length=64, extra_padding=0)
    check_framing(tokenizer, name, batch)
    per_sequence, per_token = lm_loss_by_hand(model, batch)
    assert per_sequence != pytest.approx(per_token, rel=1e-4)  # the lengths differ enough to tell them apart
    with torch.no_grad():
        out = model(**batch)
    assert out.lm_loss.item() == pytest.approx(per_sequence, rel=1e-5)


def _stub_trainer(losses: list[float], outputs: dict[str, Any] | None = None) -> SimpleNamespace:
    """What `summarize` and `evaluate_and_predict` read of a `Trainer`: its log, step, arguments, model size, and a
    `predict` that returns fixed outputs per metric prefix."""
    logged: list[dict] = []

    def predict(dataset, metric_key_prefix: str):
        return outputs[metric_key_prefix]

    return SimpleNamespace(
        state=SimpleNamespace(log_history=[{"loss": x} for x in losses] + [{"eval_loss": 9.0}], global_step=7),
        args=SimpleNamespace(to_dict=lambda: {"learning_rate": 6.25e-5, "seed": 3, "not_recorded": 1}),
        model=SimpleNamespace(num_parameters=lambda: 1234),
        predict=predict, log=logged.append, logged=logged,
    )  # fmt: skip


@pytest.mark.parametrize("trained", [True, False])
def test_results_row_by_hand(trained):
    """`summarize`: the row `results.json` and the tables are made of, every field checked against its source."""
    run = Run(FinetuneArguments(task="rte"), SimpleNamespace(run_name=None), TASKS["rte"])
    metrics = {"eval_accuracy": 0.75, "eval_loss": 0.5}
    splits = {"train": [0] * 5, "validation": [0] * 4}
    row = finetuning.summarize(
        run, _stub_trainer([2.5, 1.5, 0.5]), metrics, splits, Path("m") if trained else None, 64, 12.34
    )
    assert (row["run"], row["task"], row["transform"], row["main_metric"]) == ("rte", "rte", "entailment", "accuracy")
    assert row["metrics"] == {"accuracy": 0.75} and row["eval"] == metrics and "test_metrics" not in row
    assert (row["paper"], row["paper_metric"]) == (56.0, "accuracy")
    assert (row["train_examples"], row["eval_examples"], row["test_examples"]) == (5 if trained else 0, 4, 0)
    assert (row["train_loss_first"], row["train_loss_last"], row["train_losses"]) == (2.5, 0.5, [2.5, 1.5, 0.5])
    assert (row["global_step"], row["model_dir"], row["seconds"]) == (7, "m" if trained else None, 12.3)
    settings = row["settings"]
    assert (settings["learning_rate"], settings["seed"], settings["max_length"], settings["parameters"]) == (
        6.25e-5, 3, 64, 1234,
    )  # fmt: skip
    assert settings["task"] == "rte" and "not_recorded" not in settings


def test_a_test_file_is_scored_and_predicted_without_a_validation_split(tmp_path):
    """`evaluate_and_predict` with only a labelled test split: its `test_*` metrics and predictions file; an
    unlabelled one of a GLUE task also gets the submission file (class names, as GLUE's server reads them)."""
    from datasets import Dataset
    from transformers.trainer_utils import PredictionOutput

    test = Dataset.from_dict({"index": ["a", "b"], "labels": [1, 0]})
    outputs = {"test": PredictionOutput(np.array([1, 1]), None, {"test_accuracy": 0.5})}
    trainer = _stub_trainer([], outputs)
    assert finetuning.evaluate_and_predict(trainer, TASKS["rte"], {"test": test}, tmp_path) == {"test_accuracy": 0.5}
    assert trainer.logged == [{"test_accuracy": 0.5}]
    assert (tmp_path / "predictions_test.tsv").read_text() == (
        "index\tprediction\tlabel\na\tnot_entailment\tnot_entailment\nb\tnot_entailment\tentailment\n"
    )
    assert not (tmp_path / "RTE.tsv").exists()
    finetuning.evaluate_and_predict(trainer, TASKS["rte"], {"test": test.remove_columns("labels")}, tmp_path)
    assert (tmp_path / "RTE.tsv").read_text() == "index\tprediction\na\tnot_entailment\nb\tnot_entailment\n"


def test_f1_of_a_task_with_more_than_two_classes_is_the_macro_mean():
    """A custom 3-class task scored by F1: per-class F1 by hand (class 0: 2/3, class 1: 2/3, class 2: 0), macro mean
    4/9 (binary F1 of class 1 would be 2/3, a weighted mean 2/3 x 3/5 + 2/3 x 1/5 = 8/15)."""
    task = custom_task("classification", ["a"], label_names=["x", "y", "z"], metrics=["f1"])
    logits = np.eye(3)[[0, 0, 1, 1, 0]]  # predictions 0 0 1 1 0
    labels = np.array([0, 2, 1, 0, 0])
    f1 = compute_metrics_fn(task)(EvalPrediction(task_predictions(task, logits), labels))["f1"]
    by_class = [2 * 2 / (2 * 2 + 1 + 1), 2 * 1 / (2 * 1 + 1 + 0), 0.0]  # TP, FP, FN: (2, 1, 1), (1, 1, 0), (0, 0, 1)
    assert f1 == pytest.approx(sum(by_class) / 3)


def test_a_results_row_with_a_labelled_test_file():
    run = Run(FinetuneArguments(task="rte"), SimpleNamespace(run_name="mine"), TASKS["rte"])
    metrics = {"eval_accuracy": 0.75, "test_accuracy": 0.5, "test_loss": 0.7}
    splits = {"validation": [0] * 4, "test": [0] * 3}
    row = finetuning.summarize(run, _stub_trainer([]), metrics, splits, None, 64, 1.0)
    assert row["run"] == "mine" and row["test_metrics"] == {"accuracy": 0.5}
    assert row["test"] == {"test_accuracy": 0.5, "test_loss": 0.7} and row["test_examples"] == 3
    assert (row["train_loss_first"], row["train_loss_last"]) == (None, None)


RTE_ROWS = {"sentence1": ["a b", "c", "d"], "sentence2": ["d", "e f", "g"], "label": [0, 1, 1]}


def _encode_rte_splits(splits: dict[str, dict], do_train: bool = True, **options) -> dict:
    """`encode_splits` of an RTE run with these options on these splits (split -> columns)."""
    from datasets import Dataset, DatasetDict

    from tokenization import GPT1Tokenizer

    data = DatasetDict({split: Dataset.from_dict(columns) for split, columns in splits.items()})
    run = Run(FinetuneArguments(task="rte", **options), SimpleNamespace(data_seed=None, do_train=do_train),
              TASKS["rte"])  # fmt: skip
    return finetuning.encode_splits(run, data, GPT1Tokenizer(add_fine_tuning_framing=True), 16)


@pytest.mark.parametrize("do_train", [True, False])
def test_encode_splits_takes_the_splits_there_are(do_train):
    """Training split only when training; a task folder without a validation split is no error here."""
    splits = _encode_rte_splits({"train": RTE_ROWS}, do_train)
    assert set(splits) == ({"train"} if do_train else set())
    if do_train:
        assert splits["train"].column_names == ["index", "input_ids", "labels"]


@pytest.mark.parametrize("test_file", [None, "test.tsv"])
def test_encode_splits_scores_a_test_split_only_from_a_test_file(test_file):
    """A Hub copy's test split (GLUE's, labelled -1) is not scored unasked; a `--test_file` is, whole (no
    `--max_eval_samples`), without the -1 labels."""
    data = {"train": RTE_ROWS, "validation": RTE_ROWS, "test": {**RTE_ROWS, "label": [-1, -1, -1]}}
    splits = _encode_rte_splits(data, test_file=test_file, max_eval_samples=2)
    assert set(splits) == ({"train", "validation"} if test_file is None else {"train", "validation", "test"})
    assert (len(splits["train"]), len(splits["validation"])) == (3, 2)
    if test_file is not None:
        assert len(splits["test"]) == 3 and splits["test"].column_names == ["index", "input_ids"]
