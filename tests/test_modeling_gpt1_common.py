"""transformers' own common model tests (`ModelTesterMixin`, `ConfigTester`) on GPT-1's classes, as transformers'
`tests/models/openai/test_modeling_openai.py` runs them on `OpenAIGPT*`.

The test files are those of the installed transformers release, fetched into a cache by `python3 -m
tests.hf_common` (a `.ci/run` step; see that module). Without them this module is skipped, saying so: the suite
never touches the network. Common tests that do not apply to GPT-1 are skipped below with the reason.
"""

from __future__ import annotations

import sys
import tempfile
import unittest
from unittest import mock

import pytest
import torch
import transformers
from transformers.models.auto import modeling_auto

from tests.hf_common import PACKAGE, folder_for

_FOLDER = folder_for(transformers.__version__)
if not (_FOLDER / PACKAGE).is_dir():
    pytest.skip(
        f"transformers {transformers.__version__}'s common model tests are not in {_FOLDER}: "
        "fetch them with `python3 -m tests.hf_common` (downloads its source distribution once)",
        allow_module_level=True,
    )
sys.path.insert(0, str(_FOLDER))
from hf_tests.test_configuration_common import ConfigTester  # noqa: E402
from hf_tests.test_modeling_common import ModelTesterMixin, ids_tensor  # noqa: E402

from modeling_gpt1 import (  # noqa: E402
    GPT1Config,
    GPT1DoubleHeads,
    GPT1ForCausalLM,
    GPT1ForMultipleChoice,
    GPT1ForSequenceClassification,
    GPT1Model,
)


class GPT1ModelTester:
    """Tiny configs and inputs for the common tests (the sizes of transformers' `OpenAIGPTModelTester`)."""

    def __init__(self, parent, batch_size: int = 13, seq_length: int = 7, num_choices: int = 4, num_labels: int = 3):
        self.parent = parent
        self.batch_size, self.seq_length = batch_size, seq_length
        self.num_choices, self.num_labels = num_choices, num_labels
        self.vocab_size, self.hidden_size, self.num_hidden_layers = 99, 32, 2
        self.num_attention_heads = 4
        self.is_training = True

    def get_config(self) -> GPT1Config:
        return GPT1Config(
            vocab_size=self.vocab_size,
            n_embd=self.hidden_size,
            n_layer=self.num_hidden_layers,
            n_head=self.num_attention_heads,
            n_inner=37,
            n_positions=512,
            pad_token_id=self.vocab_size - 1,
            num_labels=self.num_labels,
        )

    def prepare_config_and_inputs_for_common(self) -> tuple[GPT1Config, dict]:
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        return self.get_config(), {"input_ids": input_ids, "token_type_ids": ids_tensor(input_ids.shape, 16)}


# The common tests record the deprecation warnings they test for (`test_bc_cache_name_forward`); the suite-wide
# "FutureWarning is an error" (pyproject.toml) would turn the expected warning into an exception here.
@pytest.mark.filterwarnings("default::FutureWarning")
class GPT1CommonModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (GPT1Model, GPT1ForCausalLM, GPT1DoubleHeads, GPT1ForSequenceClassification)
    # Not GenerationTesterMixin: it lives in transformers' tests/generation/, which the source distribution leaves out
    # (tests/hf_common.py). GPT-1's generation is compared step by step with OpenAIGPTLMHeadModel instead
    # (tests/test_modeling_gpt1_generation.py).

    def setUp(self):
        # The common tests pick labels and skip base models by looking a class's name up in transformers' built-in
        # task mappings, where an in-library model is listed; GPT-1 registers with the Auto classes instead.
        for mapping, name in (
            (modeling_auto.MODEL_MAPPING_NAMES, "GPT1Model"),
            (modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, "GPT1ForCausalLM"),
            (modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES, "GPT1ForSequenceClassification"),
            (modeling_auto.MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES, "GPT1ForMultipleChoice"),
        ):
            patch = mock.patch.dict(mapping, {"gpt1": name})
            patch.start()
            self.addCleanup(patch.stop)
        self.model_tester = GPT1ModelTester(self)
        self.config_tester = ConfigTester(self, config_class=GPT1Config, n_embd=37, n_head=1)

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if return_labels and model_class is GPT1DoubleHeads:  # as transformers' OpenAIGPT tests do
            t = self.model_tester
            zeros = torch.zeros((t.batch_size, t.num_choices, t.seq_length), dtype=torch.long)
            inputs_dict.update(labels=zeros, input_ids=zeros, token_type_ids=zeros)
            inputs_dict["mc_token_ids"] = torch.zeros((t.batch_size, t.num_choices), dtype=torch.long)
            inputs_dict["mc_labels"] = torch.zeros(t.batch_size, dtype=torch.long)
        return inputs_dict

    # --- the config: each of ConfigTester.run_common_tests' checks on its own, so one can be skipped ---------------

    def run_config_check(self, name: str, *args) -> None:
        check = getattr(self.config_tester, name, None)
        if check is None:
            self.skipTest(f"ConfigTester.{name} is not in transformers {transformers.__version__}")
        check(*args)

    def test_config_common_properties(self):
        self.run_config_check("create_and_test_config_common_properties")

    def test_config_to_json(self):
        self.run_config_check("create_and_test_config_to_json_string")
        self.run_config_check("create_and_test_config_to_json_file")

    def test_config_save_and_load(self):
        self.run_config_check("create_and_test_config_from_and_save_pretrained")
        self.run_config_check("create_and_test_config_from_and_save_pretrained_subfolder")
        self.run_config_check("create_and_test_config_from_and_save_pretrained_composite")
        self.run_config_check("create_and_test_config_from_pretrained_custom_kwargs")

    def test_config_num_labels(self):
        self.run_config_check("create_and_test_config_with_num_labels")

    def test_config_init_without_params(self):
        self.run_config_check("check_config_can_be_init_without_params")

    @unittest.skip(
        "reads `config_common_kwargs` from transformers' tests/utils/test_configuration_utils.py, which the source "
        "distribution leaves out (tests/hf_common.py)"
    )
    def test_config_arguments_init(self):
        pass

    # --- GPT-1's own heads ---------------------------------------------------------------------------------------

    def test_multiple_choice_head(self):
        """`GPT1ForMultipleChoice` is not in `all_model_classes` (its inputs are (batch, choices, seq)): its shape
        contract is checked here, its values against OpenAIGPTDoubleHeadsModel in test_modeling_gpt1.py."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        t = self.model_tester
        model = GPT1ForMultipleChoice(config).eval()
        ids = inputs["input_ids"][:, None].expand(-1, t.num_choices, -1)
        out = model(input_ids=ids, labels=torch.zeros(t.batch_size, dtype=torch.long))
        self.assertEqual(out.logits.shape, (t.batch_size, t.num_choices))
        self.assertEqual(out.loss.shape, ())

    def test_can_load_ignoring_mismatched_shapes(self):
        """The common test finds the classifier as the model's top-level `nn.Linear`, which in GPT-1's classifier
        is the tied LM head of the auxiliary loss; the classifier is `score.summary`. The same check, on it."""
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        config.num_labels = 3
        model = GPT1ForSequenceClassification(config)
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)
            with self.assertRaises(RuntimeError):
                GPT1ForSequenceClassification.from_pretrained(folder, num_labels=42)
            new = GPT1ForSequenceClassification.from_pretrained(folder, num_labels=42, ignore_mismatched_sizes=True)
        self.assertEqual(new.score.summary.weight.shape, (42, config.n_embd))
        old = dict(model.named_parameters())
        for name, value in new.named_parameters():
            if not name.startswith("score.summary."):
                torch.testing.assert_close(value, old[name], msg=name)

    # --- common tests that do not apply ----------------------------------------------------------------------------

    @unittest.skip(
        "asserts that a model which can generate inherits GenerationTesterMixin, which is not in the source "
        "distribution; GPT-1's generation is tested against OpenAIGPTLMHeadModel in test_modeling_gpt1_generation.py"
    )
    def test_generation_tester_mixin_inheritance(self):
        pass
