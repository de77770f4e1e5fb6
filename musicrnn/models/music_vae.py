"""MusicVAE (Roberts et al. 2018): a bidirectional LSTM encoder to a Gaussian
latent, and an LSTM decoder of the sequence given z, flat or hierarchical.

Token ids in, logits out, no file I/O; the 'variational' task
(`musicrnn.tasks.variational`) trains it on the ELBO. As Magenta's
`music_vae` (base_model.py, lstm_models.py, lstm_utils.py) computes it:

  encoder   the one-hot tokens (drums: Magenta's roll of the nine drum
            bits and a "no drum" bit, `encoder_input='drum_roll'`) through
            stacked bidirectional LSTM layers (each layer reads both
            directions' outputs of the one below); the top layer's last
            forward and backward outputs, concatenated;
  latent    mu = dense(encoding), sigma = softplus(dense(encoding)), both
            [batch, z_size]; z = mu + sigma * eps in training;
  flat decoder (`decoder='flat'`, the 2-bar models)
            an LSTM stack whose initial states are tanh(dense(z)) split
            over its layers (h and c of each), reading at step t the
            one-hot of token t-1 (zeros at t = 0) concatenated with z;
            a dense layer to logits over the vocabulary;
  hierarchical decoder (`decoder='hierarchical'`, the 16-bar models;
            Magenta's HierarchicalLstmDecoder with
            disable_autoregression=True, as all its configs use it)
            a conductor LSTM stack, its initial states tanh(dense(z)),
            runs one step per bar (`level_lengths[0]` bars) on a zero
            input; its top output c_b for bar b starts that bar's
            decoder: the flat decoder above over the bar's
            `level_lengths[1]` steps with c_b in the place of z (its own
            initial states tanh(dense(c_b)), c_b read at every step), the
            same weights for every bar. The token before a bar's first
            step is the previous bar's last (none before the first bar).
  several parts (`part_sizes`, a trio's melody, bass and drums packed in
            one token; Magenta's SplitMultiOutLstmDecoder)
            the encoder reads the parts' one-hots side by side; each part
            has a decoder of its own (its LSTM stack, its tanh(dense(.))
            initial states and its output projection), reading at each
            step its own part's previous id and the same z (flat) or
            conductor output (hierarchical); the logits are the parts'
            side by side, their reconstruction losses summed.

  model = MusicVAE(vocab_size=90, z_size=256, enc_rnn_size=(512,),
                   dec_rnn_size=(256, 256))
  mu, sigma = model.encode({'tokens': ids})       # [batch, 256] each
  logits = model.decode(z, {'tokens': ids})       # [batch, time, 90]
  states = model.decoder_initial_state(z)
  logits_t, states = model.decoder_step(previous_ids, states, t)

  trio = MusicVAE(vocab_size=90 * 90 * 512, part_sizes=(90, 90, 512), ...)
  trio.decode(z, {'tokens': packed_ids})          # [batch, time, 692]

The weights start as Magenta's do where its initialisers are its own (mu,
sigma and the z-to-state layers: normal with stddev 0.001); the LSTMs keep
Keras' defaults (with a forget-gate bias of 1, where Magenta's LSTMBlockCell
adds 1 to the forget gate when it runs).
"""

import math

import keras
from keras import ops
import numpy as np
import tensorflow as tf

from musicrnn.models import protocols

FLAT = 'flat'
HIERARCHICAL = 'hierarchical'
DECODERS = (FLAT, HIERARCHICAL)
# What the encoder reads: the one-hot token, or (drums) its bits, one per
# drum type, and a bit set where none is struck (Magenta's DrumsConverter
# with roll_input=True).
ONE_HOT = 'one_hot'
DRUM_ROLL = 'drum_roll'
ENCODER_INPUTS = (ONE_HOT, DRUM_ROLL)
# Magenta's initialiser of mu, sigma and every z-to-initial-state layer.
_SMALL = keras.initializers.RandomNormal(stddev=0.001)


def _lstm_stack(sizes, name):
  return [keras.layers.LSTM(units, return_sequences=True, return_state=True,
                            name=f'{name}_{i}')
          for i, units in enumerate(sizes)]


@keras.saving.register_keras_serializable('musicrnn')
class MusicVAE(protocols.LatentVariableModel):
  """MusicVAE's encoder and flat or hierarchical decoder (see the module
  docstring).

  Args:
    vocab_size: the codec's token ids (90 for Magenta's melodies, 512 for
      its drums).
    z_size: latent dimensions.
    enc_rnn_size: units of each bidirectional encoder layer, per direction.
    dec_rnn_size: units of each decoder LSTM layer (and of the conductor's,
      for the hierarchical decoder, as Magenta's).
    decoder: 'flat' or 'hierarchical'.
    level_lengths: the hierarchical decoder's (bars, steps per bar), their
      product `max_seq_len`; () for the flat decoder.
    max_seq_len: the steps a sequence spans (Magenta's hparam): what
      generation decodes by default.
    dropout_rate: dropout of every LSTM layer's input, in training (1 -
      Magenta's dropout_keep_prob).
    encoder_input: 'one_hot' or 'drum_roll' (a vocabulary of 2**k drum
      sets: the k bits and a "none" bit).
    part_sizes: the vocabularies of the parts each token packs (the
      codec's `part_sizes`, e.g. a trio's (90, 90, 512)), their product
      `vocab_size`, each with a decoder of its own; () for tokens of one
      part (saved in the config only where there are several).
  """

  def __init__(self, vocab_size, z_size=256, enc_rnn_size=(512,),
               dec_rnn_size=(256, 256), decoder=FLAT, level_lengths=(),
               max_seq_len=32, dropout_rate=0.0, encoder_input=ONE_HOT,
               part_sizes=(), **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = int(vocab_size)
    self.z_size = int(z_size)
    self.enc_rnn_size = tuple(int(u) for u in enc_rnn_size)
    self.dec_rnn_size = tuple(int(u) for u in dec_rnn_size)
    self.decoder = decoder
    self.level_lengths = tuple(int(n) for n in level_lengths)
    self.max_seq_len = int(max_seq_len)
    self.dropout_rate = float(dropout_rate)
    self.encoder_input = encoder_input
    self.part_sizes = (tuple(int(n) for n in part_sizes)
                       or (self.vocab_size,))
    if decoder not in DECODERS:
      raise ValueError(f'decoder must be one of {DECODERS}, got {decoder!r}')
    if encoder_input not in ENCODER_INPUTS:
      raise ValueError(f'encoder_input must be one of {ENCODER_INPUTS}, got '
                       f'{encoder_input!r}')
    if not self.enc_rnn_size or not self.dec_rnn_size or self.z_size < 1:
      raise ValueError('enc_rnn_size and dec_rnn_size need a layer each, and '
                       'z_size must be at least 1')
    if decoder == HIERARCHICAL:
      if len(self.level_lengths) != 2 or min(self.level_lengths) < 1:
        raise ValueError('the hierarchical decoder needs level_lengths (bars, '
                         f'steps per bar), got {self.level_lengths}')
      if np.prod(self.level_lengths) != self.max_seq_len:
        raise ValueError(f'level_lengths {self.level_lengths} must multiply to '
                         f'max_seq_len {self.max_seq_len}')
    elif self.level_lengths:
      raise ValueError('the flat decoder takes no level_lengths')
    if math.prod(self.part_sizes) != self.vocab_size or min(
        self.part_sizes) < 1:
      raise ValueError(f'part_sizes {self.part_sizes} must multiply to '
                       f'vocab_size {self.vocab_size}')
    if len(self.part_sizes) > 1 and encoder_input != ONE_HOT:
      raise ValueError("a model of several parts reads their one-hots: "
                       "encoder_input='one_hot'")
    self.max_decode_steps = (self.max_seq_len if decoder == HIERARCHICAL
                             else None)
    self.roll_bits = 0
    if encoder_input == DRUM_ROLL:
      self.roll_bits = int(round(np.log2(self.vocab_size)))
      if 2 ** self.roll_bits != self.vocab_size:
        raise ValueError("encoder_input='drum_roll' reads ids of 2**k drum "
                         f'sets, not a vocabulary of {self.vocab_size}')

    self.encoder_layers = [
        keras.layers.Bidirectional(keras.layers.LSTM(
            units, return_sequences=True, return_state=True),
            name=f'encoder_{i}') for i, units in enumerate(self.enc_rnn_size)]
    self.mu = keras.layers.Dense(self.z_size, kernel_initializer=_SMALL,
                                 dtype='float32', name='encoder_mu')
    self.sigma = keras.layers.Dense(self.z_size, activation='softplus',
                                    kernel_initializer=_SMALL, dtype='float32',
                                    name='encoder_sigma')
    if len(self.part_sizes) == 1:
      self.decoder_layers = _lstm_stack(self.dec_rnn_size, 'decoder')
      self.z_to_initial_state = keras.layers.Dense(
          2 * sum(self.dec_rnn_size), activation='tanh',
          kernel_initializer=_SMALL, name='z_to_initial_state')
    else:
      # Each part's decoder: its LSTM stack, initial states and output
      # projection (Magenta's core_decoder_{part}).
      self.part_decoder_layers = [
          _lstm_stack(self.dec_rnn_size, f'part_{part}_decoder')
          for part in range(len(self.part_sizes))]
      self.part_initial_states = [keras.layers.Dense(
          2 * sum(self.dec_rnn_size), activation='tanh',
          kernel_initializer=_SMALL, name=f'part_{part}_z_to_initial_state')
                                  for part in range(len(self.part_sizes))]
      self.part_projections = [keras.layers.Dense(
          size, dtype='float32', name=f'part_{part}_output_projection')
                               for part, size in enumerate(self.part_sizes)]
    if decoder == HIERARCHICAL:
      self.conductor_layers = _lstm_stack(self.dec_rnn_size, 'conductor')
      self.conductor_initial_state = keras.layers.Dense(
          2 * sum(self.dec_rnn_size), activation='tanh',
          kernel_initializer=_SMALL, name='conductor_initial_state')
    else:
      self.conductor_layers = []
    # tf.train.Checkpoint follows attributes, not Keras' tracked lists.
    for i, layer in enumerate(self.encoder_layers):
      setattr(self, f'encoder_{i}', layer)
    for i, layer in enumerate(self.conductor_layers):
      setattr(self, f'conductor_{i}', layer)
    self.dropout = keras.layers.Dropout(self.dropout_rate)
    if len(self.part_sizes) == 1:
      for i, layer in enumerate(self.decoder_layers):
        setattr(self, f'decoder_{i}', layer)
      self.output_projection = keras.layers.Dense(
          self.vocab_size, dtype='float32', name='output_projection')
    else:
      for part in range(len(self.part_sizes)):
        for i, layer in enumerate(self.part_decoder_layers[part]):
          setattr(self, f'part_{part}_decoder_{i}', layer)
        setattr(self, f'part_{part}_z_to_initial_state',
                self.part_initial_states[part])
        setattr(self, f'part_{part}_output_projection',
                self.part_projections[part])

  @staticmethod
  def data_arguments(codec, controls):
    """The codec's vocabulary, and its parts where a token packs several
    (MusicVAE takes no control signals)."""
    if controls:
      raise ValueError('MusicVAE takes no control signals')
    arguments = {'vocab_size': codec.vocab_size}
    if len(codec.part_sizes) > 1:
      arguments['part_sizes'] = tuple(codec.part_sizes)
    return arguments

  def example_inputs(self, controls):
    """A batch of one sequence of `max_seq_len` steps."""
    del controls
    return {'tokens': np.zeros((1, self.max_seq_len), np.int32)}

  # --- Encoder -----------------------------------------------------------

  def _encoder_features(self, tokens):
    if self.encoder_input == ONE_HOT and len(self.part_sizes) > 1:
      # The parts' one-hots side by side (Magenta's TrioConverter inputs).
      return ops.concatenate(
          [ops.one_hot(ids, size, dtype=self.compute_dtype)
           for ids, size in zip(self.split_tokens(tokens), self.part_sizes)],
          axis=-1)
    if self.encoder_input == ONE_HOT:
      return ops.one_hot(tokens, self.vocab_size, dtype=self.compute_dtype)
    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(
        tokens[..., None], tf.range(self.roll_bits, dtype=tokens.dtype)), 1)
    none = tf.cast(tf.equal(tokens, 0), tokens.dtype)[..., None]
    return ops.cast(ops.concatenate([bits, none], axis=-1), self.compute_dtype)

  def encode(self, inputs, training=False):
    """(mu, sigma) [batch, z_size] of the tokens' posterior; padding
    (inputs['mask'] 0) is read by neither direction."""
    tokens = ops.cast(inputs['tokens'], 'int32')
    mask = inputs.get('mask')
    mask = None if mask is None else ops.cast(mask, 'bool')
    x = self._encoder_features(tokens)
    for layer in self.encoder_layers:
      x = self.dropout(x, training=training)
      x, forward_h, _, backward_h, _ = layer(x, mask=mask, training=training)
    encoding = ops.concatenate([forward_h, backward_h], axis=-1)
    return self.mu(encoding), self.sigma(encoding)

  # --- Decoder -----------------------------------------------------------

  def _split_states(self, flat):
    """[h0, c0, h1, c1, ...] of a [..., 2 * sum(units)] vector, in the
    order Magenta's MultiRNNCell flattens its LSTM states ((c, h) per
    layer)."""
    states = []
    start = 0
    for units in self.dec_rnn_size:
      c = flat[..., start:start + units]
      h = flat[..., start + units:start + 2 * units]
      states += [h, c]
      start += 2 * units
    return states

  def _run_stack(self, layers, x, states, training):
    """(top outputs, new states) of an LSTM stack from `states` ([h, c] per
    layer)."""
    new_states = []
    for i, layer in enumerate(layers):
      x = self.dropout(x, training=training)
      x, h, c = layer(x, initial_state=list(states[2 * i:2 * i + 2]),
                      training=training)
      new_states += [h, c]
    return x, new_states

  def _part_decoder(self, part):
    """(LSTM stack, z-to-initial-state layer, output projection) of a
    part's decoder (the only one's for tokens of one part)."""
    if len(self.part_sizes) == 1:
      return (self.decoder_layers, self.z_to_initial_state,
              self.output_projection)
    return (self.part_decoder_layers[part], self.part_initial_states[part],
            self.part_projections[part])

  def _initial_states(self, conditioning):
    """Every part's decoder states [h0, c0, h1, c1, ...], one part after
    the other, from `conditioning` (z, or a bar's conductor output)."""
    states = []
    for part in range(len(self.part_sizes)):
      _, initial, _ = self._part_decoder(part)
      states += self._split_states(initial(conditioning))
    return states

  def _core(self, conditioning, previous, states, training):
    """Logits [batch, time, sum(part_sizes)] and the states after them of
    the (per-bar) decoders, each reading its part of the previous tokens
    [batch, time] (-1: none) and `conditioning` [batch, size] at every
    step."""
    steps = ops.shape(previous)[1]
    repeated = ops.repeat(ops.cast(conditioning, self.compute_dtype)[:, None],
                          steps, axis=1)
    per_part = 2 * len(self.dec_rnn_size)
    logits, new_states = [], []
    for part, (ids, size) in enumerate(zip(self.split_tokens(previous),
                                           self.part_sizes)):
      layers, _, projection = self._part_decoder(part)
      x = ops.one_hot(ids, size, dtype=self.compute_dtype)
      x = ops.concatenate([x, repeated], axis=-1)
      outputs, part_states = self._run_stack(
          layers, x, states[part * per_part:(part + 1) * per_part], training)
      logits.append(projection(outputs))
      new_states += part_states
    if len(logits) == 1:
      return logits[0], new_states
    return ops.concatenate(logits, axis=-1), new_states

  def conductor(self, z, training=False):
    """The hierarchical decoder's conductor: its top outputs [batch, bars,
    units], one per bar, from z."""
    states = self._split_states(self.conductor_initial_state(z))
    bars = self.level_lengths[0]
    zeros = ops.zeros((ops.shape(z)[0], bars, 1), self.compute_dtype)
    outputs, _ = self._run_stack(self.conductor_layers, zeros, states, training)
    return outputs

  def decode(self, z, inputs, training=False):
    """Teacher-forced logits [batch, time, sum(part_sizes)] of
    inputs['tokens'] given z: step t reads token t-1 (none at t = 0). The
    hierarchical decoder takes at most `max_seq_len` steps (shorter
    sequences are decoded as their first bars)."""
    tokens = ops.cast(inputs['tokens'], 'int32')
    batch, time = ops.shape(tokens)[0], ops.shape(tokens)[1]
    if self.decoder == FLAT:
      previous = ops.pad(tokens[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
      logits, _ = self._core(z, previous, self._initial_states(z), training)
      return logits
    bars, bar_steps = self.level_lengths
    tokens = tf.pad(tokens, [[0, 0], [0, self.max_seq_len - time]])
    previous = ops.pad(tokens[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    # Every bar's decoder at once: the bars side by side in the batch.
    embeddings = ops.reshape(self.conductor(z, training), (batch * bars, -1))
    previous = ops.reshape(previous, (batch * bars, bar_steps))
    logits, _ = self._core(embeddings, previous,
                           self._initial_states(embeddings), training)
    return ops.reshape(logits, (batch, self.max_seq_len, -1))[:, :time]

  def decoder_initial_state(self, z, training=False):
    """[conditioning, h0, c0, h1, c1, ...]: the conditioning is z (flat) or
    the conductor's outputs [batch, bars, units] (hierarchical), whose bar
    decoders start at their bar's first step."""
    if self.decoder == FLAT:
      return [z] + self._initial_states(z)
    embeddings = self.conductor(z, training)
    return [embeddings] + self._initial_states(embeddings[:, 0])

  def decoder_step(self, tokens, states, step, training=False):
    """(logits [batch, sum(part_sizes)] of token `step`, the next states)
    after the previous tokens [batch] (-1 at step 0)."""
    conditioning, *lstm_states = states
    conditioning_now = conditioning
    if self.decoder == HIERARCHICAL:
      bar_steps = self.level_lengths[1]
      step = tf.convert_to_tensor(step, tf.int32)
      bar = tf.minimum(step // bar_steps, self.level_lengths[0] - 1)
      conditioning_now = tf.gather(conditioning, bar, axis=1)
      fresh = self._initial_states(conditioning_now)
      starts = tf.equal(step % bar_steps, 0)
      lstm_states = [tf.where(starts, new, old)
                     for new, old in zip(fresh, lstm_states)]
    previous = ops.cast(tokens, 'int32')[:, None]
    logits, lstm_states = self._core(conditioning_now, previous, lstm_states,
                                     training)
    return logits[:, 0], [conditioning] + lstm_states

  def get_config(self):
    config = super().get_config()
    config.update(vocab_size=self.vocab_size, z_size=self.z_size,
                  enc_rnn_size=list(self.enc_rnn_size),
                  dec_rnn_size=list(self.dec_rnn_size), decoder=self.decoder,
                  level_lengths=list(self.level_lengths),
                  max_seq_len=self.max_seq_len,
                  dropout_rate=self.dropout_rate,
                  encoder_input=self.encoder_input)
    if len(self.part_sizes) > 1:
      config.update(part_sizes=list(self.part_sizes))
    return config
