"""Keras 3 models, one file per family: ids in, logits out, no file I/O.

`build_model(config, codec, controls)` makes the model a config names in
`config.family`; the trainer and generator call it, never a family directly.
"""

from musicrnn.errors import UsageError

import numpy as np

TRAINABLE_FAMILIES = ('event_lstm', 'music_transformer', 'dilated_cnn',
                      'pianoroll_gan')


def example_inputs(config, controls):
  """A batch of one that builds the config's model when called on it."""
  if config['family'] == 'pianoroll_gan':
    return {'noise': np.zeros((1, config['model']['latent_dim']), np.float32)}
  inputs = {'tokens': np.zeros((1, 2), np.int32)}
  for name, control in controls:
    inputs[name] = (np.zeros((1, 2), np.int32) if name == 'note_density'
                    else np.zeros((1, 2, control.size), np.float32))
  return inputs


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
  if family == 'music_transformer':
    from musicrnn.models.music_transformer import MusicTransformer  # pylint: disable=import-outside-toplevel
    return MusicTransformer(
        vocab_size=codec.vocab_size, num_layers=model_config['num_layers'],
        num_heads=model_config['num_heads'], model_dim=model_config['model_dim'],
        feed_forward_dim=model_config['feed_forward_dim'],
        dropout_rate=model_config['dropout_rate'],
        max_relative_distance=model_config['max_relative_distance'],
        control_sizes=control_sizes, name='music_transformer')
  if family == 'dilated_cnn':
    from musicrnn.models.dilated_cnn import DilatedCNN  # pylint: disable=import-outside-toplevel
    return DilatedCNN(
        vocab_size=codec.vocab_size, num_blocks=model_config['num_blocks'],
        num_layers_per_block=model_config['num_layers_per_block'],
        kernel_size=model_config['kernel_size'],
        residual_channels=model_config['residual_channels'],
        skip_channels=model_config['skip_channels'],
        dropout_rate=model_config['dropout_rate'],
        embedding_size=model_config['embedding_size'],
        control_sizes=control_sizes, name='dilated_cnn')
  if family == 'pianoroll_gan':
    from musicrnn.models.pianoroll_gan import PianorollGAN  # pylint: disable=import-outside-toplevel
    steps, pitches = codec.segment_shape
    return PianorollGAN(
        num_steps=steps, num_pitches=pitches,
        latent_dim=model_config['latent_dim'],
        generator_channels=model_config['generator_channels'],
        critic_channels=model_config['critic_channels'],
        objective=model_config['objective'],
        gradient_penalty_weight=model_config['gradient_penalty_weight'],
        critic_updates_per_generator_update=model_config[
            'critic_updates_per_generator_update'],
        name='pianoroll_gan')
  raise UsageError(f'model family {family!r} cannot be trained yet; trainable '
                   f'families: {", ".join(TRAINABLE_FAMILIES)}')
