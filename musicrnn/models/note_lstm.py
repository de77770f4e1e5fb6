"""Note LSTM: one step per onset, three softmax heads (chord, offset, duration).

The recurrent stack of the LSTM families (`models.recurrent`) over note
tuples (`musicrnn.encodings.note_tuple`): each token packs the onset's
chord, its offset since the previous onset and its duration; the model reads
the three parts (one-hot, or a learned embedding each) and predicts each part
of the next onset with its own softmax head. The heads are independent given
the past, so the loss is the sum of their cross-entropies (the 'multi_head'
task, `musicrnn.tasks.multi_head`), and generation samples each head at its
own temperature.

  model = NoteLSTM(head_sizes=(257, 13, 12), rnn_layer_sizes=(512, 512))
  logits = model({'tokens': ids})           # [batch, time, 257 + 13 + 12]
  chord, offset, duration = model.split_logits(logits)
  logits_t, states = model.step({'tokens': ids_t}, states)
"""

import keras
from keras import ops
import numpy as np

from musicrnn.models import protocols
from musicrnn.models import recurrent


@keras.saving.register_keras_serializable('musicrnn')
class NoteLSTM(recurrent.RecurrentStack, protocols.MultiHeadModel):
  """A recurrent stack over note tuples with one head per part (see the
  module docstring).

  Args:
    head_sizes: the vocabulary of each part (chords incl. "other", offsets,
      durations), from the codec; a token is (chord * offsets + offset) *
      durations + duration.
    rnn_layer_sizes, cell, dropout_rate: the recurrent stack's.
    embedding_size: 0 feeds each part one-hot; > 0 learns an embedding of
      this size per part.
  """

  head_names = ('chord', 'offset', 'duration')

  def __init__(self, head_sizes, rnn_layer_sizes=(512, 512), cell='lstm',
               dropout_rate=0.0, embedding_size=0, **kwargs):
    super().__init__(**kwargs)
    head_sizes = tuple(int(n) for n in head_sizes)
    if len(head_sizes) != len(self.head_names) or min(head_sizes) < 1:
      raise ValueError(f'head_sizes needs {len(self.head_names)} sizes >= 1 '
                       f'({", ".join(self.head_names)}), got {head_sizes}')
    self.head_sizes = head_sizes
    self.embedding_size = int(embedding_size)
    # The output layer is the three heads side by side.
    self._build_stack(rnn_layer_sizes, cell, dropout_rate, sum(head_sizes))
    self.part_embeddings = [
        keras.layers.Embedding(size, self.embedding_size, name=f'{name}_embedding')
        for name, size in zip(self.head_names, head_sizes)
    ] if self.embedding_size else []
    for name, layer in zip(self.head_names, self.part_embeddings):
      setattr(self, f'{name}_embedding', layer)

  @staticmethod
  def data_arguments(codec, controls):
    """The three vocabularies, from the codec (a note LSTM takes no control
    signals)."""
    if controls:
      raise ValueError('a note LSTM takes no control signals')
    return {'head_sizes': codec.head_sizes}

  def example_inputs(self, controls):
    """A batch of one, two onsets long."""
    del controls
    return {'tokens': np.zeros((1, 2), np.int32)}

  def split_tokens(self, tokens):
    """[chord, offset, duration] int32 ids of packed token ids."""
    _, offsets, durations = self.head_sizes
    tokens = ops.cast(tokens, 'int32')
    return [tokens // (offsets * durations), tokens // durations % offsets,
            tokens % durations]

  def pack(self, chord, offset, duration):
    """Token ids of the three parts' ids."""
    _, offsets, durations = self.head_sizes
    return (chord * offsets + offset) * durations + duration

  def split_logits(self, logits):
    """[chord, offset, duration] logits of the heads side by side."""
    chords, offsets, _ = self.head_sizes
    return ops.split(logits, [chords, chords + offsets], axis=-1)

  def _features(self, inputs):
    parts = self.split_tokens(inputs['tokens'])
    if self.part_embeddings:
      x = [embed(part) for embed, part in zip(self.part_embeddings, parts)]
    else:
      x = [ops.one_hot(part, size) for part, size in zip(parts, self.head_sizes)]
    return ops.concatenate(x, axis=-1)

  def get_config(self):
    config = super().get_config()
    config.update(head_sizes=list(self.head_sizes), **self._stack_config(),
                  embedding_size=self.embedding_size)
    return config
