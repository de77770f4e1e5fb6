"""Magenta's event-sequence RNNs: Melody, Drums and Improv RNN (Keras 3).

Event ids in, log-probabilities of the next event out, no file I/O. The
model reads what note-seq's encoder-decoder gives Magenta's graph: each
step's input vector is built inside the model from the ids so far (`Inputs`:
one-hot, lookback, or KeyMelody inputs, equal to the codec's numpy
`inputs`), a stack of LSTM layers (the first, or in 2017's graphs the
whole stack, inside Magenta's attention wrapper,
`recurrent.AttentionLSTMCell`) reads them, and a dense layer gives the
logits of the encoder's classes (Magenta's softmax). Improv RNN's input
starts with the chord under the event it predicts (`condition_sizes`:
inputs['chords'], float [batch, time, size], as the codec encodes them).

A lookback class stands for an event: "repeat the event d steps back"
(`encodings.event_sequence`). The model's output is the probability of each
event id, the classes that stand for it summed, which is what Magenta's
sampler draws from (it draws a class and reads its event). Magenta's own
loss is the NLL of the labels (`class_log_probs`); it is at least the NLL of
the events, and equal for encoders without lookbacks (basic_rnn, mono_rnn).

  model = EventSequenceRNN(vocab_size=38, encoder=codec.encoder_spec(),
                           rnn_layer_sizes=(128, 128))
  log_probs = model({'tokens': ids})   # [batch, time, vocab_size]
  states = model.initial_state(batch_size)
  log_probs_t, states = model.step({'tokens': ids_t}, states)
"""

import keras
from keras import ops
import numpy as np
import tensorflow as tf

from musicrnn.encodings import event_sequence
from musicrnn.encodings import melody
from musicrnn.models import inputs as inputs_lib
from musicrnn.models import protocols
from musicrnn.models import recurrent

# Where the attention wrapper sits: Magenta's graphs since 2018 wrap the
# first layer; its 2017 graphs wrapped the whole stack.
FIRST_LAYER = 'first_layer'
STACK = 'stack'
ATTENTION_PLACES = (FIRST_LAYER, STACK)
KINDS = (event_sequence.ONE_HOT, event_sequence.LOOKBACK, melody.KEY)
# An impossible log-probability: added where a lookback class stands for
# another event (finite, so its gradient is zero, not NaN).
_NEVER = -1e9


def _counter_bits(position, bits):
  """float32 [..., bits]: bit b of position + 1, +1 set and -1 not (the
  metric position of the step the input predicts)."""
  number = ops.cast(position, 'int32')[..., None] + 1
  powers = ops.convert_to_tensor(2 ** np.arange(bits), 'int32')
  return ops.cast((number // powers) % 2, 'float32') * 2.0 - 1.0


class Inputs:
  """Builds an encoder's input vectors from event ids, as note-seq's
  `events_to_input` (tested against the codecs' numpy `inputs`), one step
  at a time from states it carries (`step`) or over whole sequences
  (`sequence`); and which event each lookback class stands for.

  Args:
    spec: the encoder's spec (`codec.encoder_spec()`): kind 'one_hot' or
      'lookback' (num_events, default_id, lookback_distances,
      binary_counter_bits), or 'key' (min_note, note_range,
      lookback_distances, binary_counter_bits).
  """

  def __init__(self, spec):
    self.kind = spec['kind']
    if self.kind not in KINDS:
      raise ValueError(f'unknown encoder kind {self.kind!r}; known: '
                       f'{", ".join(KINDS)}')
    self.distances = tuple(int(d) for d in spec.get('lookback_distances', ()))
    self.bits = int(spec.get('binary_counter_bits', 0))
    if self.kind == melody.KEY:
      self.min_note = int(spec['min_note'])
      self.note_range = int(spec['note_range'])
      self.num_events = self.note_range + melody.NUM_SPECIAL
      self.default_id = melody.NO_EVENT_ID
      # Labels: the pitches, then NO_EVENT, NOTE_OFF.
      plain_to_id = np.concatenate([
          np.arange(melody.NUM_SPECIAL, self.num_events),
          [melody.NO_EVENT_ID, melody.NOTE_OFF_ID]])
      self.input_size = (self.note_range + 4 + len(self.distances) + self.bits
                         + 1 + 2 * melody.NOTES_PER_OCTAVE)
    else:
      self.num_events = int(spec['num_events'])
      self.default_id = int(spec.get('default_id', 0))
      plain_to_id = np.arange(self.num_events)
      self.input_size = (self.num_events * (1 + len(self.distances))
                         + self.bits + len(self.distances))
    self.num_classes = self.num_events + len(self.distances)
    self.id_to_plain = np.argsort(plain_to_id).astype(np.int32)
    # The ids a step keeps: the step's own and the longest distance back.
    self.history = max(self.distances) + 1 if self.distances else 1

  # -- one step ------------------------------------------------------------

  def initial_state(self, batch_size):
    """[position of the last step read (-1), the last `history` ids] and,
    for the key encoder, what it keeps of the melody so far."""
    def full(shape, value):
      return ops.full(shape, value, 'int32')
    states = [full((batch_size,), -1),
              full((batch_size, self.history), self.default_id)]
    if self.kind == melody.KEY:
      states += [
          full((batch_size,), -1),     # the sounding column, -1 silent
          full((batch_size,), 0),      # attack: the last non-NOTE_OFF is on
          full((batch_size,), 0),      # direction of the last change of pitch
          full((batch_size,), -1),     # the last note-on's column
          full((batch_size, melody.NOTES_PER_OCTAVE), 0),  # pitch classes
          full((batch_size, self.note_range), -1),  # each column's last on
      ]
    return states

  @property
  def num_states(self):
    return 8 if self.kind == melody.KEY else 2

  def step(self, ids, states):
    """(inputs [batch, input_size] of step i, the lookback targets [batch,
    D] of step i + 1, the next states) after reading ids [batch] of step i."""
    ids = ops.cast(ids, 'int32')
    position, history = states[0] + 1, states[1]
    history = ops.concatenate([history[:, 1:], ids[:, None]], axis=1)
    h = self.history
    targets = [history[:, h - d] for d in self.distances]
    repeats = [ops.cast((history[:, h - 1 - d] == ids) & (position >= d),
                        'float32') for d in self.distances]
    bits = _counter_bits(position, self.bits)
    if self.kind != melody.KEY:
      parts = [ops.one_hot(ids, self.num_events)]
      parts += [ops.one_hot(t, self.num_events) for t in targets]
      parts += [bits] + [r[:, None] for r in repeats]
      new = [position, history]
    else:
      parts, new = self._key_step(ids, position, states[2:], repeats, bits)
      new = [position, history] + new
    return (ops.concatenate(parts, axis=-1), self._stack(targets, ids), new)

  def _stack(self, targets, like):
    if not targets:
      return ops.zeros(ops.shape(like) + (0,), 'int32')
    return ops.stack(targets, axis=-1)

  def _key_step(self, ids, position, states, repeats, bits):
    """KeyMelodyEncoderDecoder's input of one step (melody.KeyMelodyEncoder)."""
    sounding_column, attack, direction, last_column, counts, last_on = states
    r = self.note_range
    is_on = ids >= melody.NUM_SPECIAL
    is_off = ids == melody.NOTE_OFF_ID
    column = ops.where(is_on, ids - melody.NUM_SPECIAL, 0)
    sounding_column = ops.where(is_on, column,
                                ops.where(is_off, -1, sounding_column))
    attack = ops.where(is_off, attack, ops.cast(is_on, 'int32'))
    change = ops.where(is_on & (last_column >= 0),
                       ops.sign(column - last_column), 0)
    direction = ops.where(change != 0, change, direction)
    last_column = ops.where(is_on, column, last_column)
    pitch_class = (column + self.min_note) % melody.NOTES_PER_OCTAVE
    counts = counts + ops.cast(is_on, 'int32')[:, None] * ops.cast(
        ops.one_hot(pitch_class, melody.NOTES_PER_OCTAVE), 'int32')
    struck = is_on[:, None] & (ops.one_hot(column, r) > 0)
    last_on = ops.where(struck, position[:, None], last_on)
    # The last three distinct pitches played: the columns struck last.
    latest, columns = ops.top_k(last_on, 3)
    seen = ops.cast(latest >= 0, 'int32')
    recent = ops.sum(seen[..., None] * ops.cast(ops.one_hot(
        (columns + self.min_note) % melody.NOTES_PER_OCTAVE,
        melody.NOTES_PER_OCTAVE), 'int32'), axis=1)

    sounding = (sounding_column >= 0) & (sounding_column + self.min_note != 0)
    sounding_f = ops.cast(sounding, 'float32')
    scales = ops.convert_to_tensor(melody.KEY_SCALES, 'float32')

    def best_keys(pitch_classes):
      keys = ops.matmul(ops.cast(pitch_classes, 'float32'), scales)
      return ops.cast(keys == ops.max(keys, axis=-1, keepdims=True), 'float32')

    parts = [
        ops.one_hot(ops.maximum(sounding_column, 0), r) * sounding_f[:, None],
        sounding_f[:, None], 1.0 - sounding_f[:, None],
        ops.cast(attack, 'float32')[:, None],
        ops.cast(direction, 'float32')[:, None],
        *[x[:, None] for x in repeats], bits,
        ops.cast((position + 1) % melody.KEY_BAR_STEPS == 0,
                 'float32')[:, None],
        best_keys(counts), best_keys(recent)]
    return parts, [sounding_column, attack, direction, last_column, counts,
                   last_on]

  # -- whole sequences -------------------------------------------------------

  def sequence(self, ids):
    """(inputs [batch, time, input_size], lookback targets [batch, time, D])
    of ids [batch, time]: what `step` gives, step after step."""
    ids = ops.cast(ids, 'int32')
    if self.kind == melody.KEY:
      return self._scan(ids)
    steps = ops.shape(ids)[1]

    def shifted(distance, fill):
      padded = ops.pad(ids, [[0, 0], [distance, 0]], constant_values=fill)
      return padded[:, :steps]

    targets = [shifted(d - 1, self.default_id) for d in self.distances]
    parts = [ops.one_hot(ids, self.num_events)]
    parts += [ops.one_hot(t, self.num_events) for t in targets]
    position = ops.broadcast_to(ops.arange(steps, dtype='int32')[None],
                                ops.shape(ids))
    parts.append(_counter_bits(position, self.bits))
    parts += [ops.cast(ids == shifted(d, -1), 'float32')[..., None]
              for d in self.distances]
    return ops.concatenate(parts, axis=-1), self._stack(targets, ids)

  @tf.function(reduce_retracing=True)
  def _scan(self, ids):
    """`sequence` by running `step` over the time axis (a tf.function: one
    graph loop, not a Python one, when a model is called eagerly)."""
    batch = ops.shape(ids)[0]

    def one(carry, ids_t):
      inputs, targets, states = self.step(ids_t, carry[2])
      return inputs, targets, states

    # tf.scan: keras.ops.scan's outputs must be shaped as its carry.
    inputs, targets, _ = tf.scan(
        one, tf.transpose(ids, (1, 0)), initializer=(
            tf.zeros((batch, self.input_size)),
            tf.zeros((batch, len(self.distances)), tf.int32),
            self.initial_state(batch)))
    return (ops.transpose(inputs, (1, 0, 2)),
            ops.transpose(targets, (1, 0, 2)))

  # -- outputs ---------------------------------------------------------------

  def event_log_probs(self, class_logits, targets):
    """log p(event) [..., num_events] of class logits [..., num_classes]:
    each event's plain class and every lookback class that stands for it
    (`targets` [..., D], the events d_j steps before the next) summed."""
    log_probs = ops.log_softmax(ops.cast(class_logits, 'float32'), axis=-1)
    plain = self.num_events
    out = ops.take(log_probs[..., :plain],
                   ops.convert_to_tensor(self.id_to_plain), axis=-1)
    for j in range(len(self.distances)):
      hit = ops.one_hot(targets[..., j], self.num_events) > 0
      out = ops.logaddexp(out, ops.where(
          hit, log_probs[..., plain + j:plain + j + 1], _NEVER))
    return out


@keras.saving.register_keras_serializable('musicrnn')
class EventSequenceRNN(recurrent.RecurrentStack, protocols.NextTokenModel):
  """Magenta's Melody / Drums RNN graph (see the module docstring).

  Args:
    vocab_size: number of event ids.
    encoder: the codec's `encoder_spec()` (`Inputs`).
    condition_sizes: {input name: width} of the vectors that condition each
      step, read before the encoder's inputs (a lead sheet's chords, the
      codec's `extra_input_sizes()`); empty for melodies and drums.
    rnn_layer_sizes: units per LSTM layer.
    cell: 'lstm' (Magenta's BasicLSTMCell; 'gru' and 'rnn' without
      attention).
    dropout_rate: dropout after each layer, in training (Magenta's
      DropoutWrapper: 1 - dropout_keep_prob).
    attn_length: above 0, attention over the last `attn_length` outputs.
    attention: where the attention wrapper sits: 'first_layer' (Magenta
      since 2018) or 'stack' (its 2017 graphs).
  """

  def __init__(self, vocab_size, encoder, rnn_layer_sizes=(128, 128),
               cell='lstm', dropout_rate=0.0, attn_length=0,
               attention=FIRST_LAYER, condition_sizes=None, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = int(vocab_size)
    self.condition_sizes = dict(sorted((condition_sizes or {}).items()))
    self.encoder = dict(encoder)
    self.inputs_of = Inputs(self.encoder)
    if self.inputs_of.num_events != self.vocab_size:
      raise ValueError(f'the encoder reads {self.inputs_of.num_events} event '
                       f'ids, the vocabulary has {self.vocab_size}')
    self.attn_length = int(attn_length)
    self.attention = attention
    if attention not in ATTENTION_PLACES:
      raise ValueError(f'attention must be one of {ATTENTION_PLACES}, got '
                       f'{attention!r}')
    if self.attn_length < 0:
      raise ValueError(f'attn_length must be 0 or more, got {attn_length}')
    if self.attn_length and cell != 'lstm':
      raise ValueError('attention (attn_length > 0) wraps LSTM layers: '
                       f'cell must be lstm, got {cell!r}')
    self._build_stack(rnn_layer_sizes, cell, dropout_rate,
                      self.inputs_of.num_classes)

  def _make_rnn_layers(self):
    if self.attn_length and self.attention == STACK:
      return [self._attention_layer(self.rnn_layer_sizes)]
    return super()._make_rnn_layers()

  def _make_rnn_layer(self, index, units):
    if index == 0 and self.attn_length:
      return self._attention_layer((units,))
    return super()._make_rnn_layer(index, units)

  def _attention_layer(self, layer_sizes):
    return keras.layers.RNN(
        recurrent.AttentionLSTMCell(layer_sizes[-1], self.attn_length,
                                    layer_sizes=layer_sizes,
                                    name='attention_lstm_cell'),
        return_sequences=True, return_state=True, name='attention_lstm_0')

  @property
  def _num_rnn_states(self):
    return sum(len(self._state_sizes(i)) for i in range(len(self.rnn_layers)))

  def _conditioned(self, inputs, features):
    """[conditions sorted by name (a lead sheet's chords), the encoder's
    inputs]: Magenta's ConditionalEventSequenceEncoderDecoder's order."""
    if not self.condition_sizes:
      return features
    parts = []
    for name in self.condition_sizes:
      if name not in inputs:
        raise ValueError(f'this model is conditioned on {name!r}, which the '
                         'inputs lack')
      parts.append(ops.cast(inputs[name], features.dtype))
    return ops.concatenate(parts + [features], axis=-1)

  def class_logits(self, inputs, training=False):
    """[batch, time, num_classes]: the logits of Magenta's softmax."""
    features, _ = self.inputs_of.sequence(inputs['tokens'])
    logits, _ = self._run(self._conditioned(inputs, features), None, training)
    return logits

  def call(self, inputs, training=False):
    """log p(next event) [batch, time, vocab_size] (normalised logits)."""
    return self._event_log_probs(inputs, training, 1.0)

  def tempered_logits(self, inputs, temperature):
    """`call` with the class logits divided by `temperature` (`tempered_step`)."""
    return self._event_log_probs(inputs, False, temperature)

  def _event_log_probs(self, inputs, training, temperature):
    features, targets = self.inputs_of.sequence(inputs['tokens'])
    logits, _ = self._run(self._conditioned(inputs, features), None, training)
    return self.inputs_of.event_log_probs(logits / temperature, targets)

  def initial_state(self, batch_size, max_length=None):
    return (super().initial_state(batch_size, max_length)
            + self.inputs_of.initial_state(batch_size))

  def step(self, inputs, states):
    """One step: ids [batch] -> log p(next event) [batch, vocab_size] and
    the next states (the LSTMs', then the inputs')."""
    return self.tempered_step(inputs, states, 1.0)

  def tempered_step(self, inputs, states, temperature):
    """`step` with the class logits divided by `temperature` before the
    classes are summed into events, as Magenta's sampler draws a class from
    its softmax at that temperature and decodes it."""
    split = self._num_rnn_states
    features, targets, input_states = self.inputs_of.step(
        inputs['tokens'], list(states[split:]))
    features = self._conditioned(inputs, features)
    logits, rnn_states = self._run(features[:, None], list(states[:split]),
                                   False)
    return (self.inputs_of.event_log_probs(logits[:, 0] / temperature, targets),
            rnn_states + input_states)

  @staticmethod
  def data_arguments(codec, controls):
    """The vocabulary and the encoder of a Magenta event codec (melody,
    drums); no control signals."""
    if controls:
      raise ValueError('an event-sequence RNN takes no control signals')
    try:
      encoder = codec.encoder_spec()
    except NotImplementedError as e:
      raise ValueError(f'an event-sequence RNN reads a Magenta event encoding '
                       f'(melody, drums, lead_sheet): {e}') from e
    return {'vocab_size': codec.vocab_size, 'encoder': encoder,
            'condition_sizes': codec.extra_input_sizes()}

  def example_inputs(self, controls):
    inputs = inputs_lib.example_inputs(controls)
    for name, size in self.condition_sizes.items():
      inputs[name] = np.zeros((1, 2, size), np.float32)
    return inputs

  def get_config(self):
    config = super().get_config()
    config.update(vocab_size=self.vocab_size, encoder=self.encoder,
                  condition_sizes=self.condition_sizes,
                  attn_length=self.attn_length, attention=self.attention,
                  **self._stack_config())
    return config
