"""Conversion of released GPT-1 weights: transformers' OpenAIGPT checkpoints and the authors' TensorFlow arrays.

Parity is checked against references nobody here wrote: transformers' `OpenAIGPTLMHeadModel`/`DoubleHeadsModel`
for their checkpoints, and for the authors' arrays a numpy transcription of their TensorFlow graph (`model()` in
finetune-transformer-lm's train.py), which reads the arrays in their own layout. The real release's arrays are not
available, so a small model in exactly that layout (positions, tokens, then 12 arrays per block, convolutions
`[1, in, out]`, ten shards) is synthesised; the real `params_shapes.json` is checked to map onto the GPT-1 preset.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, OpenAIGPTConfig, OpenAIGPTDoubleHeadsModel, OpenAIGPTLMHeadModel

from gpt1.convert import (
    ConversionError,
    convert,
    convert_transformers_checkpoint,
    main,
    openai_gpt_config,
    original_layout,
)
from modeling_gpt1 import PRESETS, GPT1Config, GPT1DoubleHeads, GPT1ForCausalLM
from tests.conftest import SHARED_DATA, needs_shared
from tokenization.tokenization_gpt1 import bundled_files

VOCAB = 40478  # the authors' BPE vocabulary (bundled with `tokenization`)
TINY = dict(n_positions=32, n_embd=16, n_layer=2, n_head=2)


# -- transformers' OpenAIGPT checkpoints ---------------------------------------------------------------------------


def assert_no_partial_output(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if p.name.startswith(".")], "a temporary folder was left behind"


@pytest.mark.parametrize("source_class, weights", [(OpenAIGPTLMHeadModel, "safetensors"), (OpenAIGPTLMHeadModel, "bin"), (OpenAIGPTDoubleHeadsModel, "safetensors")])  # fmt: skip
def test_openai_gpt_checkpoint_converts_to_equal_outputs(tmp_path, source_class, weights):
    torch.manual_seed(0)
    source_model = source_class(OpenAIGPTConfig(vocab_size=VOCAB, **TINY)).eval()
    src = tmp_path / "openai-gpt"
    if weights == "safetensors":
        source_model.save_pretrained(src)
    else:  # the layout of the original Hub file: OpenAIGPTModel names (no prefix) and the old causal-mask buffers
        source_model.config.save_pretrained(src)
        state = {
            k.removeprefix("transformer."): v for k, v in source_model.state_dict().items() if k != "lm_head.weight"
        }
        state |= {f"h.{i}.attn.bias": torch.tril(torch.ones(1, 1, 32, 32)) for i in range(2)}
        torch.save(state, src / "pytorch_model.bin")
    report = convert(src, tmp_path / "converted")

    target_class = GPT1DoubleHeads if source_class is OpenAIGPTDoubleHeadsModel else GPT1ForCausalLM
    assert report.model_class == target_class.__name__
    assert sorted(p.name for p in (tmp_path / "converted").glob("*.safetensors")) == ["model.safetensors"]
    assert not list((tmp_path / "converted").glob("*.bin"))
    model = target_class.from_pretrained(tmp_path / "converted").eval()
    ids = torch.randint(0, VOCAB, (2, 2, 12))
    with torch.no_grad():
        if target_class is GPT1DoubleHeads:
            mc_token_ids = torch.tensor([[11, 7], [5, 11]])
            ref, got = source_model(ids, mc_token_ids=mc_token_ids), model(ids, mc_token_ids=mc_token_ids)
            torch.testing.assert_close(got.mc_logits, ref.mc_logits, rtol=1e-5, atol=1e-5)
        else:
            ref, got = source_model(ids[0]), model(ids[0])
    torch.testing.assert_close(got.logits, ref.logits, rtol=1e-5, atol=1e-5)
    text = report.format()
    assert "transformer.h.1.mlp.c_fc.weight" in text and "tied to the token embeddings" in text
    if weights == "bin":
        assert any("h.0.attn.bias" in s for s in report.skipped)
    saved = json.loads((tmp_path / "converted" / "conversion_report.json").read_text())
    assert saved["model_class"] == target_class.__name__ and len(saved["mapped"]) == len(report.mapped)
    assert (tmp_path / "converted" / "tokenizer.json").is_file()


def test_openai_gpt_checkpoint_with_a_wrong_shape_names_the_array(tmp_path):
    source_model = OpenAIGPTLMHeadModel(OpenAIGPTConfig(vocab_size=VOCAB, **TINY))
    source_model.save_pretrained(tmp_path / "src")
    state = {k: v for k, v in source_model.state_dict().items() if k != "lm_head.weight"}
    state["transformer.h.1.attn.c_proj.weight"] = torch.zeros(16, 8)
    save_file(state, tmp_path / "src" / "model.safetensors")
    with pytest.raises(ConversionError, match=r"transformer\.h\.1\.attn\.c_proj\.weight has shape \[16, 8\], expected \[16, 16\]"):  # fmt: skip
        convert_transformers_checkpoint(tmp_path / "src", tmp_path / "out")
    small_vocab = OpenAIGPTLMHeadModel(OpenAIGPTConfig(vocab_size=500, **TINY))
    small_vocab.save_pretrained(tmp_path / "src500")
    with pytest.raises(ConversionError, match=r"tokens_embed.weight has shape \[500, 16\].*expected \[40478, 16\]"):
        convert(tmp_path / "src500", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert_no_partial_output(tmp_path)


# -- the authors' TensorFlow release -------------------------------------------------------------------------------


def authors_shapes(n_layer: int, n_embd: int, n_inner: int, n_positions: int, vocab: int) -> list[list[int]]:
    """`params_shapes.json` of a model of this size, in the release's order."""
    C, I = n_embd, n_inner  # noqa: E741
    block = [[1, C, 3 * C], [3 * C], [1, C, C], [C], [C], [C], [1, C, I], [I], [1, I, C], [C], [C], [C]]
    return [[n_positions, C], [vocab, C]] + block * n_layer


def write_release(folder: Path, params: list[np.ndarray]) -> Path:
    """Write arrays as the authors did: shapes in params_shapes.json, values flattened into ten .npy shards."""
    folder.mkdir(parents=True)
    (folder / "params_shapes.json").write_text(json.dumps([list(p.shape) for p in params]))
    flat = np.concatenate([p.reshape(-1) for p in params])
    for n, shard in enumerate(np.array_split(flat, 10)):
        np.save(folder / f"params_{n}.npy", shard)
    return folder


def random_params(shapes: list[list[int]], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    params = []
    for i, shape in enumerate(shapes):
        is_gain = i >= 2 and (i - 2) % 12 in (4, 10)
        scale = 0.3 if len(shape) > 1 else 0.1
        params.append(((1.0 if is_gain else 0.0) + scale * rng.standard_normal(shape)).astype(np.float32))
    return params


def authors_forward(params: list[np.ndarray], tokens: np.ndarray, n_head: int) -> np.ndarray:
    """Next-token logits of the authors' graph (train.py: embed, block x n, `lm_h @ we.T`), in float64 numpy."""
    pe, we, *blocks = [p.astype(np.float64) for p in params]
    T = len(tokens)
    causal = np.tril(np.ones((T, T)))

    def norm(x, g, b, e=1e-5):
        u = x.mean(-1, keepdims=True)
        s = ((x - u) ** 2).mean(-1, keepdims=True)
        return (x - u) / np.sqrt(s + e) * g + b

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))

    def heads(x):  # (T, C) -> (n_head, T, C / n_head)
        return x.reshape(T, n_head, -1).transpose(1, 0, 2)

    h = we[tokens] + pe[np.arange(T)]
    for i in range(len(blocks) // 12):
        attn_w, attn_b, proj_w, proj_b, g1, b1, fc_w, fc_b, mproj_w, mproj_b, g2, b2 = blocks[12 * i : 12 * i + 12]
        q, k, v = map(heads, np.split(h @ attn_w[0] + attn_b, 3, axis=-1))  # conv1d with rf=1: x @ w[0] + b
        w = q @ k.transpose(0, 2, 1) / np.sqrt(v.shape[-1])
        w = w * causal - 1e9 * (1 - causal)
        w = np.exp(w - w.max(-1, keepdims=True))
        a = (w / w.sum(-1, keepdims=True)) @ v
        a = a.transpose(1, 0, 2).reshape(T, -1) @ proj_w[0] + proj_b
        n = norm(h + a, g1, b1)
        h = norm(n + gelu(n @ fc_w[0] + fc_b) @ mproj_w[0] + mproj_b, g2, b2)
    return h @ we.T


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    params = random_params(authors_shapes(n_layer=2, n_embd=16, n_inner=64, n_positions=32, vocab=VOCAB))
    return write_release(tmp_path_factory.mktemp("release") / "model", params), params


def test_original_release_converts_to_the_authors_outputs(release, tmp_path):
    source, params = release
    assert main(["--source", str(source), "--output_dir", str(tmp_path / "converted"), "--n_head", "2"]) == 0
    model = GPT1ForCausalLM.from_pretrained(tmp_path / "converted").eval()
    assert (model.config.n_layer, model.config.n_embd, model.config.n_inner, model.config.n_positions) == (
        2,
        16,
        64,
        32,
    )
    tokens = np.random.default_rng(1).integers(0, VOCAB, 20)
    with torch.no_grad():
        logits = model(torch.from_numpy(tokens)[None]).logits[0].numpy()
    np.testing.assert_allclose(logits, authors_forward(params, tokens, n_head=2), rtol=1e-5, atol=1e-5)
    # Conv weights were squeezed from [1, in, out]; the square ones would have passed a shape check transposed.
    torch.testing.assert_close(model.transformer.h[1].attn.c_proj.weight, torch.from_numpy(params[2 + 12 + 2][0]))
    report = json.loads((tmp_path / "converted" / "conversion_report.json").read_text())
    assert report["mapped"][0]["source"] == "model/pe" and report["mapped"][1]["source"] == "model/we"
    assert report["mapped"][2]["how"].startswith("squeezed") and len(report["mapped"]) == 2 + 24 + 1


def test_original_release_tokenizer_comes_from_the_release_folder(release, tmp_path):
    source = tmp_path / "model"
    shutil.copytree(release[0], source)
    for path in bundled_files():
        shutil.copy(path, source / path.name)
    report = convert(source, tmp_path / "converted", n_head=2)
    assert "encoder_bpe_40000.json" in report.tokenizer
    assert (tmp_path / "converted" / "tokenizer.json").is_file()


def broken_release(release: tuple[Path, list[np.ndarray]], tmp_path: Path, problem: str) -> Path:
    source, params = release
    if problem == "missing shard":
        folder = Path(shutil.copytree(source, tmp_path / "model"))
        (folder / "params_7.npy").unlink()
    elif problem == "truncated shard":
        folder = Path(shutil.copytree(source, tmp_path / "model"))
        np.save(folder / "params_9.npy", np.load(folder / "params_9.npy")[:-5])
    elif problem == "unexpected shape":
        shapes = authors_shapes(n_layer=2, n_embd=16, n_inner=64, n_positions=32, vocab=VOCAB)
        shapes[2 + 12 + 6] = [1, 16, 60]  # block 1's mlp.c_fc.w
        folder = write_release(tmp_path / "model", random_params(shapes))
    else:  # "wrong vocab size"
        folder = write_release(tmp_path / "model", random_params(authors_shapes(2, 16, 64, 32, vocab=40000)))
    return folder


@pytest.mark.parametrize(
    "problem, message",
    [
        ("missing shard", r"lacks params_7\.npy: the release is 10 shards"),
        ("truncated shard", r"hold 654,715 values, but params_shapes\.json describes 654,720"),
        ("unexpected shape", r"array 20 \(model/h1/mlp/c_fc/w\) has shape \[1, 16, 60\], expected \[1, 16, 64\]"),
        ("wrong vocab size", r"model/we \(array 1\) has shape \[40000, 16\], but the tokenizer has 40,478 tokens: expected \[40478, 16\]"),
    ],
)  # fmt: skip
def test_original_release_errors_name_the_array_and_expected_shape(release, tmp_path, problem, message, capsys):
    source = broken_release(release, tmp_path, problem)
    with pytest.raises(ConversionError, match=message):
        convert(source, tmp_path / "out", n_head=2)
    assert main(["--source", str(source), "--output_dir", str(tmp_path / "out"), "--n_head", "2"]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert_no_partial_output(tmp_path)


@needs_shared("openai-gpt/params_shapes.json", "the shapes of the authors' TensorFlow checkpoint")
def test_real_params_shapes_map_onto_the_gpt1_preset():
    shapes = json.loads((SHARED_DATA / "openai-gpt" / "params_shapes.json").read_text())
    assert len(shapes) == 146 and sum(int(np.prod(s)) for s in shapes) == 116_534_784
    config, layout = original_layout(shapes)
    assert config == {**PRESETS["gpt1"], "vocab_size": 40478}
    with torch.device("meta"):  # the shapes, without allocating 116M parameters
        expected = {k: list(v.shape) for k, v in GPT1ForCausalLM(GPT1Config(**config)).state_dict().items()}
    targets = {name: shape[1:] if len(shape) == 3 else shape for _, name, shape in layout}
    assert targets == {k: v for k, v in expected.items() if k != "lm_head.weight"}
    assert [tf_name for tf_name, _, _ in layout[:4]] == [
        "model/pe",
        "model/we",
        "model/h0/attn/c_attn/w",
        "model/h0/attn/c_attn/b",
    ]


# --- the output folder: nothing the user had is lost ---------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("spelling", ["plain", "dot"])
def test_a_non_empty_output_dir_is_refused_and_left_as_it_was(release, tmp_path, spelling, capsys):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "notes.txt").write_text("mine")
    (project / "data" / "train.csv").write_text("a,b\n")
    before = _tree(project)
    output_dir = project if spelling == "plain" else project / "."
    argv = ["--source", str(release[0]), "--output_dir", str(output_dir), "--n_head", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: output folder") and "--overwrite_output_dir" in err[0]
    assert _tree(project) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]  # nothing moved aside or left half-written


def test_overwrite_output_dir_replaces_only_the_converted_files(release, tmp_path):
    project = tmp_path / "project"
    assert main(["--source", str(release[0]), "--output_dir", str(project), "--n_head", "2"]) == 0
    (project / "notes.txt").write_text("mine")
    (project / "config.json").write_text("{}")  # ours: replaced
    argv = ["--source", str(release[0]), "--output_dir", str(project), "--n_head", "2", "--overwrite_output_dir"]
    assert main(argv) == 0
    assert (project / "notes.txt").read_text() == "mine"
    assert GPT1ForCausalLM.from_pretrained(project).config.n_layer == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_an_output_dir_that_is_a_file_is_refused(release, tmp_path, capsys):
    target = tmp_path / "model.bin"
    target.write_bytes(b"precious")
    assert main(["--source", str(release[0]), "--output_dir", str(target), "--n_head", "2"]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_bytes() == b"precious"


def test_an_empty_output_dir_is_filled(release, tmp_path):
    (tmp_path / "empty").mkdir()
    assert main(["--source", str(release[0]), "--output_dir", str(tmp_path / "empty"), "--n_head", "2"]) == 0
    assert (tmp_path / "empty" / "model.safetensors").is_file()


# --- damaged or unsafe sources and bad arguments: one `error:` line, exit 2, the output folder untouched ------------


class Planted:
    """A pickled object that creates a file when unpickled: what a malicious `pytorch_model.bin` can carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def bad_source(tmp_path: Path, release: tuple[Path, list[np.ndarray]], problem: str) -> tuple[Path, list[str]]:
    """A source folder with `problem`, and the extra CLI arguments that trigger it."""
    if problem.startswith("n_head"):
        return release[0], ["--n_head", problem.split("=")[1]]
    src = tmp_path / "src"
    OpenAIGPTLMHeadModel(OpenAIGPTConfig(vocab_size=VOCAB, **TINY)).save_pretrained(src)
    weights = src / "model.safetensors"
    if problem == "truncated safetensors":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif problem == "safetensors header only":
        weights.write_bytes(weights.read_bytes()[:5])
    else:
        state = load_file(weights)
        weights.unlink()
        if problem == "planted pickle":
            state["transformer.h.0.ln_1.weight"] = Planted(tmp_path / "pwned")
            torch.save(state, src / "pytorch_model.bin")
        elif problem == "truncated bin":
            torch.save(state, src / "pytorch_model.bin")
            data = (src / "pytorch_model.bin").read_bytes()
            (src / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
        else:  # "bin without a state dict": a list of tensors, which torch.load(weights_only=True) accepts
            torch.save(list(state.values()), src / "pytorch_model.bin")
    return src, []


@pytest.mark.parametrize(
    "problem, message",
    [
        ("truncated safetensors", r"src/model\.safetensors is not a readable safetensors file \(.*\): it is truncated or damaged"),
        ("safetensors header only", r"src/model\.safetensors is not a readable safetensors file \(.*(header too small|HeaderTooSmall)"),
        ("planted pickle", r"src/pytorch_model\.bin was refused by torch\.load\(weights_only=True\) \(Unsupported global: GLOBAL io\.open.*\): .*not loaded"),
        ("truncated bin", r"src/pytorch_model\.bin cannot be read as a PyTorch checkpoint \(.*\): it is truncated or damaged"),
        ("bin without a state dict", r"src/pytorch_model\.bin holds a list, not a state dict"),
        ("n_head=5", r"--n_head 5 does not divide n_embd=16 \(from .*model/params_shapes\.json\)"),
        ("n_head=0", r"--n_head must be a positive integer, got 0"),
        ("n_head=-2", r"--n_head must be a positive integer, got -2"),
    ],
)  # fmt: skip
def test_a_bad_source_or_n_head_is_one_error_line_and_the_output_dir_is_untouched(
    release, tmp_path, problem, message, capsys
):
    source, extra = bad_source(tmp_path, release, problem)
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    (project / "config.json").write_text('{"mine": true}')  # a file a conversion would replace, had it succeeded
    before = _tree(project)
    capsys.readouterr()  # drop save_pretrained's progress bar
    argv = ["--source", str(source), "--output_dir", str(project), "--overwrite_output_dir", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert re.search(message, err[0]), err[0]
    assert not (tmp_path / "pwned").exists(), "the planted pickle ran"
    assert _tree(project) == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary folder was left behind"
    with pytest.raises(ConversionError, match=message):
        convert(source, project, overwrite_output_dir=True, n_head=int(extra[1]) if extra else 12)
    assert not (tmp_path / "pwned").exists() and _tree(project) == before


def test_a_bad_config_json_is_one_error_line_naming_it(tmp_path, capsys):
    src = tmp_path / "src"
    OpenAIGPTLMHeadModel(OpenAIGPTConfig(vocab_size=VOCAB, **TINY)).save_pretrained(src)
    config = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**config, "n_head": 3}))
    capsys.readouterr()  # drop save_pretrained's progress bar
    assert main(["--source", str(src), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(r"src/config\.json: .*n_embd \(16\) must be divisible by n_head \(3\)", err[0])
    assert not (tmp_path / "out").exists()


def test_openai_gpt_config_describes_the_same_network():
    """The reference built from `openai_gpt_config` holds our weights name for name and computes the same logits."""
    config = GPT1Config(vocab_size=500, **TINY, afn="gelu", layer_norm_epsilon=1e-6)
    ours = GPT1ForCausalLM(config).eval()
    reference = OpenAIGPTLMHeadModel(openai_gpt_config(config)).eval()
    assert reference.config.afn == "gelu" and reference.config.layer_norm_epsilon == 1e-6
    reference.load_state_dict(ours.state_dict())
    ids = torch.randint(0, 500, (2, 12))
    torch.testing.assert_close(reference(ids).logits, ours(ids).logits)
    with pytest.raises(ValueError, match="n_inner=37: .* 4 x n_embd"):
        openai_gpt_config(GPT1Config.from_preset("tiny"))


# --- --vocab_file / --merges_file ------------------------------------------------------------------------------------

# A 10-token BPE in the authors' format: words end in `</w>`; "abc" merges to one token, "cab" does not.
CUSTOM_VOCAB = {
    "<unk>": 0,
    "a": 1,
    "b": 2,
    "c": 3,
    "a</w>": 4,
    "b</w>": 5,
    "c</w>": 6,
    "ab": 7,
    "abc</w>": 8,
    "\n</w>": 9,
}
CUSTOM_MERGES = "#version: 0.2\na b\nab c</w>\n"


@pytest.mark.parametrize("source_format", ["original", "openai-gpt"])
def test_vocab_and_merges_files_are_the_converted_tokenizer(tmp_path, source_format, capsys):
    """`--vocab_file/--merges_file` make the converted folder's tokenizer: exactly that vocabulary, those merges
    (the ids below follow from them by hand). They win over the source folder's own files, which here hold the same
    tokens under other ids, as a vocabulary of the same size from another release would."""
    files = tmp_path / "custom"
    files.mkdir()
    (files / "my_vocab.json").write_text(json.dumps(CUSTOM_VOCAB))
    (files / "my_merges.bpe").write_text(CUSTOM_MERGES)
    n = len(CUSTOM_VOCAB)
    if source_format == "original":
        source = write_release(tmp_path / "model", random_params(authors_shapes(1, 16, 64, 32, vocab=n)))
        extra = ["--n_head", "2"]
    else:
        source = tmp_path / "openai-gpt"
        OpenAIGPTLMHeadModel(OpenAIGPTConfig(vocab_size=n, **TINY)).save_pretrained(source)
        extra = []
    shuffled = dict(zip(CUSTOM_VOCAB, reversed(range(n))))
    (source / "encoder_bpe_40000.json").write_text(json.dumps(shuffled))
    (source / "vocab_40000.bpe").write_text(CUSTOM_MERGES)
    out = tmp_path / "converted"
    argv = ["--source", str(source), "--output_dir", str(out), *extra]
    argv += ["--vocab_file", str(files / "my_vocab.json"), "--merges_file", str(files / "my_merges.bpe")]
    capsys.readouterr()
    assert main(argv) == 0
    assert f"tokenizer: {files / 'my_vocab.json'} + {files / 'my_merges.bpe'}" in capsys.readouterr().out

    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(tokenizer).__name__ == "GPT1Tokenizer" and tokenizer.get_vocab() == CUSTOM_VOCAB
    assert json.loads((out / "vocab.json").read_text()) == CUSTOM_VOCAB
    assert (out / "merges.txt").read_text().split("\n")[1:3] == ["a b", "ab c</w>"]
    # "abc" -> a b c</w> -> ab c</w> -> abc</w>; "cab" -> c a b</w> (no merge of a and b</w>); "d" is unknown.
    assert tokenizer("Abc cab d")["input_ids"] == [8, 3, 1, 5, 0]
    model = GPT1ForCausalLM.from_pretrained(out)
    assert model.config.vocab_size == n == model.transformer.tokens_embed.weight.shape[0]


def test_a_full_disk_is_one_error_line_and_nothing_is_left(release, small_disk, capsys):
    """The converted model (~3 MB with the 40,478-token vocabulary) on a 1 MB filesystem: one `error:` line naming
    the folder and the free space, exit 2, no partial folder."""
    disk = small_disk(1)
    assert main(["--source", str(release[0]), "--output_dir", str(disk / "converted"), "--n_head", "2"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: cannot save to {disk}: No space left on device (it needs more than ")
    assert list(disk.iterdir()) == []
