"""GPT-1 as a Transformers model: `GPT1Config`, `GPT1Model`, `GPT1ForCausalLM`, `GPT1DoubleHeads`,
`GPT1ForSequenceClassification`, `GPT1ForMultipleChoice`.

Importing this package registers them with the Auto API (`AutoConfig`, `AutoModel`, `AutoModelForCausalLM`,
`AutoModelForSequenceClassification`, `AutoModelForMultipleChoice`) under `model_type="gpt1"`.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMultipleChoice,
    AutoModelForSequenceClassification,
)

from .configuration_gpt1 import PRESETS, GPT1Config
from .modeling_gpt1 import (
    AUTO_MAP,
    GPT1ClassifierOutput,
    GPT1DoubleHeads,
    GPT1DoubleHeadsOutput,
    GPT1ForCausalLM,
    GPT1ForMultipleChoice,
    GPT1ForSequenceClassification,
    GPT1LMHeadModel,
    GPT1Model,
    GPT1PreTrainedModel,
)

AutoConfig.register(GPT1Config.model_type, GPT1Config, exist_ok=True)
for _auto, _cls in (
    (AutoModel, GPT1Model),
    (AutoModelForCausalLM, GPT1ForCausalLM),
    (AutoModelForSequenceClassification, GPT1ForSequenceClassification),
    (AutoModelForMultipleChoice, GPT1ForMultipleChoice),
):
    _auto.register(GPT1Config, _cls, exist_ok=True)

# The tokenizer registers itself with AutoTokenizer on import (by this config class now that it exists), so that
# `import modeling_gpt1` is all a user needs before `AutoTokenizer.from_pretrained(dir)` too.
try:
    from tokenization import register_auto_classes
except ImportError:  # the model package also works on its own
    pass
else:
    register_auto_classes()

__all__ = [
    "AUTO_MAP",
    "PRESETS",
    "GPT1ClassifierOutput",
    "GPT1Config",
    "GPT1DoubleHeads",
    "GPT1DoubleHeadsOutput",
    "GPT1ForCausalLM",
    "GPT1ForMultipleChoice",
    "GPT1ForSequenceClassification",
    "GPT1LMHeadModel",
    "GPT1Model",
    "GPT1PreTrainedModel",
]
