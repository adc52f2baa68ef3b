"""Small samples of every task's data, written in each release's exact file format, so every loader and every end-to-end
path runs in a clone without `../shared/data`.

The formats are copied from the real files (`../shared/data/README.md`): GLUE as its download script leaves it (CoLA's
train/dev without a header, MRPC's byte-order mark and its `msr_paraphrase_*.txt` + `dev_ids.tsv`, QNLI dev only,
STS-B's ten columns and its scores as the files spell them, quotes that are literal text and may be unbalanced, the
files that end without a newline), Story Cloze 2016's CSV, and the MNLI, QQP, SNLI, SciTail and RACE releases. The
sentences are written for these tests (no row is copied from the corpora).

`GLUE_SAMPLES` holds each GLUE task's rows as the files spell them; `expected_rows` is what a loader must make of them,
written here independently of `gpt1.tasks`.
"""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

BOM = "\ufeff"  # MRPC's files (all but test.tsv) start with a UTF-8 byte-order mark


def write_tsv(path: Path, header: list[str] | None, rows: list[list[str]], final_newline: bool = True) -> None:
    """Tab-separated lines, cells verbatim (no quoting: quotes are text in these releases)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ([header] if header else []) + rows
    text = "\n".join("\t".join(map(str, row)) for row in lines) + ("\n" if final_newline else "")
    path.write_text(text, encoding="utf-8")


# --- GLUE: the rows of each file -----------------------------------------------------------------------------------

# SST-2: lower-cased, tokenized phrases, most with a space before the tab (as the release); labels 0/1.
SST2 = {
    "train": [
        ("a warm , funny and wholly winning film ", "1"),
        ("the plot never gets off the ground ", "0"),
        ("it 's the kind of movie you want to see twice ", "1"),
        ("dull , lifeless and far too long ", "0"),
        ("an honest portrait of a family that earns every tear ", "1"),
        ("the jokes land with a thud", "0"),
        ("beautifully shot and smartly acted ", "1"),
        ("nothing here you have n't seen done better elsewhere ", "0"),
    ],
    "dev": [
        ("a gentle , clever delight from start to finish . ", "1"),
        ("the characters are as flat as the script . ", "0"),
        ("one of the year 's most surprising pleasures . ", "1"),
        ("i kept checking my watch . ", "0"),
        ("the cast seems to be having a great time , and so do we . ", "1"),
        ("a tedious mess that wastes a fine cast . ", "0"),
    ],
    "test": [("a small film with a big heart .",), ("` fun ' is not the word for it .",), ("the ending drags .",)],
}

# CoLA: source, label, the author's mark ("" acceptable, "*", "?*" ...), sentence; no header in train/dev.
COLA = {
    "train": [
        ("gj04", "1", "", "The children laughed at the clown."),
        ("gj04", "0", "*", "The children laughed the clown."),
        ("cj99", "1", "", "She gave the book to her brother."),
        ("cj99", "0", "*", "She gave her brother to the book the."),
        ("bc01", "1", "", "Which house did you say they bought?"),
        ("bc01", "0", "*", "Which house did you say that bought they?"),
        ("ad03", "1", "", "Kim seems to like the new teacher."),
        ("ad03", "0", "*", "Kim seems likes the new teacher."),
    ],
    "dev": [
        ("clc95", "1", "", "The dog chased the cat up the tree."),
        ("clc95", "0", "*", "Dog the chased cat the up tree."),
        ("w_80", "1", "", "Mary thinks that John is tall."),
        ("w_80", "0", "*", "Mary thinks John that is tall."),
        ("c_13", "1", "", "It rained all day yesterday, didn't it?"),
        ("c_13", "0", "?*", "It rained the garden all day."),
    ],
    "test": [("Bill sent a letter to his aunt.",), ("The cake was eaten by.",), ("Who did you meet?",)],
}

# MRPC: the MSR corpus files (Quality, #1 ID, #2 ID, #1 String, #2 String); `dev_ids.tsv` names the dev pairs.
MRPC_TRAIN = [
    ("1", "1390995", "1391183", "The company said its profit rose 12 percent in the third quarter .",
     "Third-quarter profit climbed 12 percent , the company said ."),
    ("0", "2046630", "2046644", "The mayor will visit the flooded towns on Monday .",
     "The mayor cancelled a trip planned for Monday because of the rain ."),
    ("1", "487951", "488007", '" We are very pleased with the result , " the coach said .',
     "The coach said he was very pleased with the result ."),
    ("0", "3055914", "3055751", "Shares of the bank fell 3 cents to $ 4.10 .",
     "The bank 's shares have doubled since January ."),
    ("1", "1661381", "1661317", "The storm knocked out power to 40,000 homes .",
     'About 40,000 homes lost power in the storm , officials said " late Tuesday .'),
    ("0", "2221603", "2221633", "Police arrested two men on Tuesday night .",
     "Two men were questioned by police and released ."),
    ("1", "917965", "918315", "The museum will reopen in the spring after a $ 2 million renovation .",
     "After a renovation costing $ 2 million , the museum reopens this spring ."),
    ("0", "1549586", "1549609", "The senator voted against the bill .", "The bill passed the Senate by a wide margin ."),
]  # fmt: skip
MRPC_DEV_IDS = [("917965", "918315"), ("2046630", "2046644"), ("1661381", "1661317")]  # not in the files' order
MRPC_GLUE_TRAIN_LACKS = ("3055914", "3055751")  # the GLUE script's train.tsv lacks a pair; the loader rebuilds it
MRPC_TEST = [
    ("1", "1089874", "1089925", "The airline will add four daily flights to Denver .",
     "Four more daily flights to Denver will be added by the airline ."),
    ("0", "3019446", "3019327", "Sales fell 2 percent last month .", "Sales are expected to rise next year ."),
]  # fmt: skip
MRPC_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]

STSB_HEADER = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2"]
# STS-B: scores as the release spells them (5.000, 4.2, 3, 2.40, 0.000).
STSB = {
    "train": [
        ("main-captions", "MSRvid", "2012test", "0001", "A woman is slicing an onion.", "A woman is cutting an onion.",
         "4.800"),
        ("main-captions", "MSRvid", "2012test", "0006", "A man is riding a bicycle.", "A boy is playing the piano.",
         "0.000"),
        ("main-captions", "images", "2015", "0042", "Two dogs run across a snowy field.",
         "Two dogs are running in the snow.", "4.2"),
        ("main-news", "headlines", "2013", "0107", "Storm closes schools across the state",
         "Schools shut as storm hits state", "3.6"),
        ("main-forums", "answers-forums", "2015", "0013", "You can use either method; both work.",
         "There is only one way to do this.", "1"),
        ("main-news", "MSRpar", "2012train", "0210", "The bill was signed into law on Friday.",
         "The governor signed the bill on Friday.", "3.750"),
        ("main-captions", "track5.en-en", "2017", "0008", "A child is flying a kite on the beach.",
         "A kid flies a kite by the sea.", "5.000"),
        ("main-forums", "answers-forums", "2015", "0031", 'He called it a "quick fix", nothing more.',
         "It is a lasting solution.", "2.40"),
    ],
    "dev": [
        ("main-captions", "MSRvid", "2012test", "0000", "A man is playing a guitar.", "A man plays the guitar.",
         "5.000"),
        ("main-captions", "MSRvid", "2012test", "0002", "A cat is sleeping on a sofa.", "A dog is barking.", "0.250"),
        ("main-captions", "images", "2014", "0097", 'A sign reads "closed" on the door.',
         "The door has a closed sign.", "4.4"),
        ("main-news", "headlines", "2014", "0301", "Prices rise for third month", "Prices fall sharply", "1.8"),
        ("main-forums", "answers-forums", "2015", "0027", "It depends on the size of the room.",
         "The size of the room matters.", "3"),
        ("main-news", "MSRpar", "2012test", "0415", "The talks ended without a deal.",
         "No agreement was reached in the talks.", "4.000"),
    ],
    "test": [
        ("main-captions", "MSRvid", "2012test", "0024", "A girl is brushing her hair.", "A girl is styling her hair."),
        ("main-news", "headlines", "2015", "0033", "Floods hit the coast", "A flood warning is issued for the coast"),
    ],
}  # fmt: skip

# RTE: index, sentence1, sentence2, label (entailment / not_entailment); a stray quote as in the release.
RTE = {
    "train": [
        ("The library opened a new branch in the north of the city in 2009.", "The library has a branch in the north.",
         "entailment"),
        ("Heavy rain forced the organisers to cancel the concert.", "The concert took place as planned.",
         "not_entailment"),
        ("Maria Lopez, the team's captain, scored twice in the final.", "Maria Lopez plays for the team.",
         "entailment"),
        ("The factory, which employs 300 people, will close next year.", "The factory employs 3,000 people.",
         "not_entailment"),
        ('"We will not raise taxes," the minister said on Monday.', "The minister promised not to raise taxes.",
         "entailment"),
        ("The bridge was built by Roman engineers.", "The bridge was built in the 20th century.", "not_entailment"),
        ("Scientists found water ice in a crater near the moon's south pole.", "There is ice on the moon.",
         "entailment"),
        ("The author's first novel sold poorly, but her second became a bestseller.", "Her first novel was a bestseller.",
         "not_entailment"),
    ],
    "dev": [
        ("The court cited irreconcilable differences\" as the reason for the divorce.", "The couple divorced.",
         "entailment"),
        ("A fire destroyed the old mill on the river last week.", "The mill is still standing.", "not_entailment"),
        ("Oslo is the capital and largest city of Norway.", "Oslo is in Norway.", "entailment"),
        ("The company denied that it had laid off any workers.", "The company laid off 50 workers.", "not_entailment"),
        ("After years of delays, the new stadium opened in May.", "The stadium opened in May.", "entailment"),
        ("The vaccine was tested on 200 volunteers.", "The vaccine was tested on animals only.", "not_entailment"),
    ],
    "test": [
        ("The ship sank off the coast in 1912.", "A ship sank."),
        ("The mayor resigned after the vote.", "The mayor won the vote."),
    ],
}  # fmt: skip

# WNLI: index, sentence1, sentence2, label (1: the pronoun's reading is entailed, 0: not).
WNLI = {
    "train": [
        ("The trophy doesn't fit in the suitcase because it is too big.", "The trophy is too big.", "1"),
        ("The trophy doesn't fit in the suitcase because it is too big.", "The suitcase is too big.", "0"),
        ("Anna thanked Lucy for her help because she had been kind.", "Lucy had been kind.", "1"),
        ("Anna thanked Lucy for her help because she had been kind.", "Anna had been kind.", "0"),
        ("The fish ate the worm. It was hungry.", "The fish was hungry.", "1"),
        ("The fish ate the worm. It was tasty.", "The fish was tasty.", "0"),
        ("Tom lent Sam his bike because he needed it.", "Sam needed it.", "1"),
        ("Tom lent Sam his bike because he needed it.", "Tom needed it.", "0"),
    ],
    "dev": [
        ("The drain is blocked with leaves. It has to be cleared.", "The drain has to be cleared.", "1"),
        ("The drain is blocked with leaves. They have to be removed.", "The drain has to be removed.", "0"),
        ("Paul tried to call George, but he wasn't available.", "George wasn't available.", "1"),
        ("Paul tried to call George, but he wasn't available.", "Paul wasn't available.", "0"),
        ("The man lifted the boy onto his shoulders.", "The man lifted the boy onto the man's shoulders.", "1"),
        ("The cat chased the mouse until it was tired.", "The mouse was tired.", "0"),
    ],
    "test": [("Joan made sure to thank Susan for the help she had given.", "Susan had given help.")],
}  # fmt: skip

# QNLI: only the dev set is staged (index, question, sentence, label); 8 rows, so 8 can be evaluated.
QNLI = {
    "dev": [
        ("When did the bridge open to traffic?", "The bridge opened to traffic in June 1937, after four years of work.",
         "entailment"),
        ("Who wrote the national anthem?", 'The anthem, known as "Land of Hope", is sung at every match.',
         "not_entailment"),
        ("What is the largest lake in the region?", "Lake Vanda is the largest lake in the region by area.",
         "entailment"),
        ("How many people live in the capital?", "The capital is known for its parks and its old harbour.",
         "not_entailment"),
        ("What does the enzyme break down?", "The enzyme breaks down starch into simple sugars.", "entailment"),
        ("Which river flows through the town?", '"A quiet place", one visitor wrote of the town in 1890.',
         "not_entailment"),
        ("Who designed the cathedral's dome?", "The dome was designed by the architect Ana Ruiz in 1702.",
         "entailment"),
        ("What language is spoken on the island?", "The island's beaches attract many visitors each summer.",
         "not_entailment"),
    ],
}  # fmt: skip


def write_sst2(folder: Path) -> None:
    """`SST-2/{train,dev,test}.tsv`: `sentence label`; the test file `index sentence`."""
    for split in ("train", "dev"):
        write_tsv(folder / f"{split}.tsv", ["sentence", "label"], [list(r) for r in SST2[split]])
    write_tsv(folder / "test.tsv", ["index", "sentence"], [[str(i), *r] for i, r in enumerate(SST2["test"])])


def write_cola(folder: Path) -> None:
    """`CoLA/`: train and dev with no header (dev ends without a newline, as the release); test `index sentence`."""
    write_tsv(folder / "train.tsv", None, [list(r) for r in COLA["train"]])
    write_tsv(folder / "dev.tsv", None, [list(r) for r in COLA["dev"]], final_newline=False)
    write_tsv(folder / "test.tsv", ["index", "sentence"], [[str(i), *r] for i, r in enumerate(COLA["test"])])


def write_mrpc(folder: Path) -> None:
    """`MRPC/` as the GLUE script leaves it: the MSR files, `dev_ids.tsv`, and its own train/dev/test TSVs (train
    lacking one pair)."""
    dev_ids = set(MRPC_DEV_IDS)
    dev = [list(r) for r in MRPC_TRAIN if r[1:3] in dev_ids]
    glue_train = [list(r) for r in MRPC_TRAIN if r[1:3] not in dev_ids and r[1:3] != MRPC_GLUE_TRAIN_LACKS]
    header = [BOM + MRPC_HEADER[0], *MRPC_HEADER[1:]]
    write_tsv(folder / "msr_paraphrase_train.txt", header, [list(r) for r in MRPC_TRAIN])
    write_tsv(folder / "msr_paraphrase_test.txt", header, [list(r) for r in MRPC_TEST])
    write_tsv(folder / "dev_ids.tsv", None, [list(pair) for pair in MRPC_DEV_IDS])
    write_tsv(folder / "train.tsv", header, glue_train)
    write_tsv(folder / "dev.tsv", header, dev)
    write_tsv(folder / "test.tsv", ["index", *MRPC_HEADER[1:]], [[str(i), *r[1:]] for i, r in enumerate(MRPC_TEST)])


def write_stsb(folder: Path) -> None:
    """`STS-B/`: ten columns (`score` last); the test file without `score`."""
    for split in ("train", "dev"):
        rows = [[str(i), *r[:4], "none", "none", *r[4:]] for i, r in enumerate(STSB[split])]
        write_tsv(folder / f"{split}.tsv", [*STSB_HEADER, "score"], rows)
    write_tsv(folder / "test.tsv", STSB_HEADER, [[str(i), *r[:4], "none", "none", *r[4:]]
                                                 for i, r in enumerate(STSB["test"])])  # fmt: skip


def _write_pair_task(folder: Path, rows: dict[str, list[tuple[str, ...]]], columns: list[str]) -> None:
    """RTE, WNLI, QNLI: `index <columns> label`; the test file without `label`."""
    for split in ("train", "dev"):
        if split in rows:
            write_tsv(folder / f"{split}.tsv", ["index", *columns, "label"],
                      [[str(i), *r] for i, r in enumerate(rows[split])])  # fmt: skip
    if "test" in rows:
        write_tsv(folder / "test.tsv", ["index", *columns], [[str(i), *r] for i, r in enumerate(rows["test"])])


def write_glue(glue: Path) -> None:
    """Every GLUE folder the tests read: the seven staged in `../shared/data/glue` and MNLI and QQP."""
    write_sst2(glue / "SST-2")
    write_cola(glue / "CoLA")
    write_mrpc(glue / "MRPC")
    write_stsb(glue / "STS-B")
    _write_pair_task(glue / "RTE", RTE, ["sentence1", "sentence2"])
    _write_pair_task(glue / "WNLI", WNLI, ["sentence1", "sentence2"])
    _write_pair_task(glue / "QNLI", QNLI, ["question", "sentence"])
    write_mnli(glue / "MNLI")
    write_qqp(glue / "QQP")


GLUE_SAMPLES = {"sst2": SST2, "cola": COLA, "stsb": STSB, "rte": RTE, "wnli": WNLI, "qnli": QNLI}
GLUE_SPLITS = {"train": "train", "dev": "validation"}


def expected_rows(name: str) -> dict[str, list[dict]]:
    """What the loader of GLUE task `name` must make of the sample: per split, rows of text columns and the label
    (a class id, or STS-B's score as a float), in the files' order; MRPC's train rebuilt from the MSR file."""
    ent = {"entailment": 0, "not_entailment": 1}
    if name == "mrpc":
        dev = set(MRPC_DEV_IDS)
        rows = {
            "train": [r for r in MRPC_TRAIN if r[1:3] not in dev],  # the pair train.tsv lacks included
            "validation": [r for r in MRPC_TRAIN if r[1:3] in dev],
        }
        return {s: [{"sentence1": a, "sentence2": b, "label": int(q)} for q, _, _, a, b in r] for s, r in rows.items()}
    out = {}
    for split, rows in GLUE_SAMPLES[name].items():
        if split == "test":
            continue
        if name == "sst2":
            made = [{"sentence": s, "label": int(y)} for s, y in rows]
        elif name == "cola":
            made = [{"sentence": s, "label": int(y)} for _, y, _, s in rows]
        elif name == "stsb":
            made = [{"sentence1": a, "sentence2": b, "label": float(y)} for *_, a, b, y in rows]
        elif name == "wnli":
            made = [{"sentence1": a, "sentence2": b, "label": int(y)} for a, b, y in rows]
        elif name == "rte":
            made = [{"sentence1": a, "sentence2": b, "label": ent[y]} for a, b, y in rows]
        else:  # qnli
            made = [{"question": q, "sentence": s, "label": ent[y]} for q, s, y in rows]
        out[GLUE_SPLITS[split]] = made
    return out


# --- MNLI, QQP, SNLI, SciTail, RACE: templated rows whose hypothesis says its label -------------------------------

NLI = ("entailment", "neutral", "contradiction")
PARSE = "( ( A man ) ( sleeps . ) )"


def nli_pairs(n: int, labels: tuple[str, ...] = NLI) -> list[tuple[str, str, str]]:
    """`n` (premise, hypothesis, label) rows whose hypothesis says its label, so a tiny model can learn them."""
    return [(f"A man {i} walks in the park .", f"The man {i} is {labels[i % len(labels)]} .", labels[i % len(labels)])
            for i in range(n)]  # fmt: skip


MNLI_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
               "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]  # fmt: skip


def write_mnli(folder: Path, n: int = 12) -> None:
    """`MNLI/` as the GLUE download script leaves it: train (label1, gold_label), the two dev sets (label1..5,
    gold_label) and the two unlabelled test sets."""

    def rows(labels: int, test: bool = False) -> list[list[str]]:
        out = []
        for i, (p, h, y) in enumerate(nli_pairs(n)):
            row = [str(i), str(100 + i), f"{100 + i}e", "fiction", PARSE, PARSE, PARSE, PARSE, p, h]
            out.append(row if test else [*row, *[y] * labels, y])
        return out

    write_tsv(folder / "train.tsv", [*MNLI_HEADER, "label1", "gold_label"], rows(1))
    dev_header = [*MNLI_HEADER, *[f"label{i}" for i in range(1, 6)], "gold_label"]
    for name in ("dev_matched", "dev_mismatched"):
        write_tsv(folder / f"{name}.tsv", dev_header, rows(5))
    for name in ("test_matched", "test_mismatched"):
        write_tsv(folder / f"{name}.tsv", MNLI_HEADER, rows(0, test=True))


def write_qqp(folder: Path, n: int = 12) -> None:
    """`QQP/`: `id qid1 qid2 question1 question2 is_duplicate`; the test set `id question1 question2`."""
    rows = [[str(i), str(2 * i), str(2 * i + 1), f"How do I learn {i} ?", f"How do I {'learn' if i % 2 else 'cook'} "
             f"{i} ?", str(i % 2)] for i in range(n)]  # fmt: skip
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    write_tsv(folder / "train.tsv", header, rows)
    write_tsv(folder / "dev.tsv", header, rows)
    write_tsv(folder / "test.tsv", ["id", "question1", "question2"], [[r[0], r[3], r[4]] for r in rows])


SNLI_TXT_HEADER = ["gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
                   "sentence2_parse", "sentence1", "sentence2", "captionID", "pairID", "label1", "label2", "label3",
                   "label4", "label5"]  # fmt: skip


def snli_records(n: int, unlabelled: int) -> list[dict]:
    """SNLI 1.0 records; the last `unlabelled` have no annotator majority (`gold_label` "-")."""
    records = []
    for i, (p, h, y) in enumerate(nli_pairs(n)):
        gold = "-" if i >= n - unlabelled else y
        votes = [y, "neutral", "contradiction"] if gold == "-" else [y] * 5
        records.append({"annotator_labels": votes, "captionID": f"{i}.jpg#0", "gold_label": gold,
                        "pairID": f"{i}.jpg#0r1{gold[0]}", "sentence1": p, "sentence1_binary_parse": PARSE,
                        "sentence1_parse": PARSE, "sentence2": h, "sentence2_binary_parse": PARSE,
                        "sentence2_parse": PARSE})  # fmt: skip
    return records


def write_snli(folder: Path, n: int = 12, unlabelled: int = 2, fmt: str = "jsonl") -> None:
    """`snli_1.0/snli_1.0_{train,dev,test}.{jsonl,txt}` in the release's formats."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        records = snli_records(n, unlabelled)
        if fmt == "jsonl":
            text = "".join(json.dumps(r) + "\n" for r in records)
            (folder / f"snli_1.0_{split}.jsonl").write_text(text, encoding="utf-8")
        else:
            rows = [[r["gold_label"], PARSE, PARSE, PARSE, PARSE, r["sentence1"], r["sentence2"], r["captionID"],
                     r["pairID"], *r["annotator_labels"], *[""] * (5 - len(r["annotator_labels"]))]
                    for r in records]  # fmt: skip
            write_tsv(folder / f"snli_1.0_{split}.txt", SNLI_TXT_HEADER, rows)


def write_scitail(folder: Path, n: int = 12) -> None:
    """`SciTailV1.1/tsv_format/scitail_1.0_{train,dev,test}.tsv`: premise, hypothesis, label; no header."""
    rows = [[p, h, y] for p, h, y in nli_pairs(n, ("entails", "neutral"))]
    for split in ("train", "dev", "test"):
        write_tsv(folder / "tsv_format" / f"scitail_1.0_{split}.tsv", None, rows)


def race_article(i: int, words: int = 40, questions: int = 2) -> dict:
    """One RACE article as its release file holds it."""
    return {
        "answers": ["ABCD"[(i + q) % 4] for q in range(questions)],
        "options": [[f"option {c} of question {q}" for c in "abcd"] for q in range(questions)],
        "questions": [f"What is said in part {q} ?" for q in range(questions)],
        "article": " ".join(f"word{k}" for k in range(words)),
        "id": f"{i}.txt",
    }


def write_race(folder: Path, per_level: int = 3) -> None:
    """`RACE/{train,dev,test}/{middle,high}/<n>.txt`: one JSON article per file."""
    for split in ("train", "dev", "test"):
        for level in ("middle", "high"):
            (folder / split / level).mkdir(parents=True, exist_ok=True)
            for i in range(per_level):
                (folder / split / level / f"{i}.txt").write_text(json.dumps(race_article(i)), encoding="utf-8")


# --- Story Cloze 2016 --------------------------------------------------------------------------------------------

STORY_CLOZE_HEADER = ["InputStoryid", *[f"InputSentence{i}" for i in range(1, 5)], "RandomFifthSentenceQuiz1",
                      "RandomFifthSentenceQuiz2", "AnswerRightEnding"]  # fmt: skip
# Four sentences, the right ending, the wrong one. `{name}` is filled in to make more stories from these.
STORIES = [
    ("{name} wanted to learn to bake bread.", "She bought flour, yeast and a big bowl.",
     "Her first loaf came out flat and hard.", "She tried again the next weekend, more patiently.",
     "This time the bread rose beautifully.", "{name} decided she hated flour."),
    ("{name} had a big exam on Monday.", "He spent the whole weekend studying.", "On Sunday night he slept early.",
     "He walked into the exam feeling calm.", "{name} passed the exam easily.", "{name} forgot how to read."),
    ("{name} found a stray kitten in the rain.", "It was shivering and very thin.",
     "She wrapped it in a towel and brought it inside.", "She gave it some warm milk.",
     "The kitten fell asleep on her lap.", "The kitten drove her to the store."),
    ("{name}'s car would not start one cold morning.", 'His neighbour said, "Let me help."',
     "They connected the batteries with cables.", "After a few tries the engine turned over.",
     "{name} thanked his neighbour and drove to work.", "{name} sold the neighbour's house."),
    ("{name} planted tomatoes in the spring.", "She watered them every evening.", "By July the plants were tall.",
     "Red tomatoes hung from every branch.", "She made a big salad for her family.", "The tomatoes turned into fish."),
    ("{name} wanted to run a marathon.", "He started training in January.", "Every week he ran a little farther.",
     "In October he stood at the starting line.", "He finished the race, tired but proud.",
     "He had never heard of running."),
    ("{name} lost her keys at the park.", "She searched the grass for an hour.", "A boy asked what she was looking for.",
     "He pointed to a bench where something shiny lay.", "{name} found her keys on the bench.",
     "{name} bought the park."),
    ("{name} was nervous about his first day at a new job.", "He ironed his shirt the night before.",
     "At the office, a colleague showed him around.", "By lunch he had made two friends.",
     "{name} felt much better about the job.", "{name} quit before he arrived."),
]  # fmt: skip
NAMES = ["Anna", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonah", "Kemi", "Liam", "Maya",
         "Nico", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
         "Ada", "Bruno", "Chloe", "Diego", "Eve", "Felix", "Gina", "Hassan", "Ivy", "Jack", "Kira", "Leo", "Mila",
         "Noah", "Omar", "Pia", "Rafael", "Sofia", "Theo", "Vera", "Will", "Yara", "Zack", "Lena"]  # fmt: skip


def story_cloze_rows(n: int, answers: list[str] | None = None) -> list[list[str]]:
    """`n` rows of the validation CSV (story id, four sentences, two endings, the right one's number 1 or 2); the
    first four are `STORIES[:4]` with `NAMES[:4]`. `answers` overrides `AnswerRightEnding` (as text)."""
    rows = []
    for i in range(n):
        story = STORIES[i % len(STORIES)]
        name = NAMES[(i // len(STORIES) + i) % len(NAMES)] if i >= 4 else NAMES[i]
        *sentences, right, wrong = (s.format(name=name) for s in story)
        first = (i * 7) % 3 != 0  # the right ending first in two stories of three
        endings = [right, wrong] if first else [wrong, right]
        answer = answers[i] if answers is not None else ("1" if first else "2")
        rows.append([str(uuid.uuid5(uuid.NAMESPACE_URL, f"story-{i}")), *sentences, *endings, answer])
    return rows


def write_story_cloze(folder: Path, n: int = 400, answers: list[str] | None = None, name: str | None = None) -> Path:
    """`storycloze_val_2016.csv` (or `name`) in the release's exact format: a header, cells quoted only where needed,
    LF line ends and no newline after the last row; `n` rows, by default 400 so the authors' 374-row validation split
    fits."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = story_cloze_rows(len(answers) if answers is not None else n, answers)
    path = folder / (name or "storycloze_val_2016.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([STORY_CLOZE_HEADER, *rows])
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    return path


# --- plain text for language-model evaluation ------------------------------------------------------------------------

# Short paragraphs, each with a line break inside (the shape of a play's speeches).
PARAGRAPHS = [
    "First Sailor:\nThe wind is rising, and the sails are torn.",
    "Second Sailor:\nThen mend them quickly, for the harbour is far.",
    "Captain:\nHold the rope, and do not let it go until I call.",
    "First Sailor:\nAye, captain, we hold it fast against the storm.",
]


def write_samples(root: Path) -> Path:
    """A data root laid out like `../shared/data`: `glue/` (SST-2, CoLA, MRPC, STS-B, RTE, WNLI, QNLI, MNLI, QQP),
    `storycloze/`, `snli_1.0/`, `SciTailV1.1/`, `RACE/` and `corpus/plays/input.txt`."""
    write_glue(root / "glue")
    write_story_cloze(root / "storycloze")
    write_snli(root / "snli_1.0")
    write_scitail(root / "SciTailV1.1")
    write_race(root / "RACE")
    (root / "corpus" / "plays").mkdir(parents=True, exist_ok=True)
    (root / "corpus" / "plays" / "input.txt").write_text("\n\n".join(PARAGRAPHS) + "\n", encoding="utf-8")
    return root
