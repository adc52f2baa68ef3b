"""Library code behind the GPT-1 scripts: data, pretraining, tasks and fine-tuning, Hub and conversion.

The network lives in `modeling_gpt1`, the tokenizer in `tokenization`; this package trains, evaluates and shares them.
"""
