"""Keras 3 models, one file per family: ids in, logits out, no file I/O."""
