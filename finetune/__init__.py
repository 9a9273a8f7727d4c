"""Models: tokenizers, continual pre-training, fine-tuning, evaluation, layer-wise analysis."""
