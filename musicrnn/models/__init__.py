"""Keras 3 models, one file per family: ids in, logits out, no file I/O.

`build_model(config, codec, controls)` makes the model a config names in
`config.family`; the trainer and generator call it, never a family directly.
"""

from musicrnn.errors import UsageError


def build_model(config, codec, controls):
  """The Keras model of `config.family`.

  Args:
    config: a musicrnn config (ConfigDict or its dict).
    codec: the config's codec (for `vocab_size`).
    controls: [(feature name, control)] from
      `musicrnn.encodings.controls_from_config`.
  """
  family = config['family']
  model_config = dict(config['model'])
  control_sizes = {name: control.size for name, control in controls}
  if family == 'event_lstm':
    from musicrnn.models.event_lstm import EventLSTM  # pylint: disable=import-outside-toplevel
    return EventLSTM(
        vocab_size=codec.vocab_size,
        rnn_layer_sizes=tuple(model_config['rnn_layer_sizes']),
        cell=model_config['cell'], dropout_rate=model_config['dropout_rate'],
        embedding_size=model_config['embedding_size'],
        control_sizes=control_sizes, name='event_lstm')
  raise UsageError(f'model family {family!r} cannot be trained yet; trainable '
                   'families: event_lstm')
