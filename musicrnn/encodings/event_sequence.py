"""What Magenta's event-sequence RNNs read and predict, over event ids (numpy).

Magenta's Melody, Drums and Improv RNNs see music as one event per metric
step (a melody event, a set of drums, a chord), each given an id by a one-hot
encoding of single events: ids in [0, num_events). Their encoder-decoders
(note-seq's `encoder_decoder`) turn a sequence of ids into

  inputs   float32 [steps, input_size]: what the model reads at step i to
           predict the event of step i + 1 (note-seq's `events_to_input`;
           `get_inputs_batch(..., full_length=True)` gives every step's)
  labels   int32 [steps]: the class of the event of step i, in
           [0, num_classes) (note-seq's `events_to_label`)

and train on inputs[:-1] against labels[1:] (note-seq's `encode`). The
encoders here are note-seq's, input for input and label for label,
vectorised; `melody.KeyMelodyEncoder` (attention_rnn) and
`lead_sheet.ConditionalEncoder` (Improv RNN) build on them.

`OneHotEncoder` (note-seq's OneHotEventSequenceEncoderDecoder):
  input  one-hot of the step's id                         [num_events]
  label  the id                             (num_classes = num_events)

`LookbackEncoder` (note-seq's LookbackEventSequenceEncoderDecoder), with
lookback distances d_0 < d_1 < ... in steps and B binary counter bits:
  input  one-hot of the step's id                          [num_events]
         for each d_j: one-hot of the id d_j - 1 steps back, the event the
           next step would repeat (the default id before the start)
                                                           [num_events] each
         bit b of the next step's number i + 1: +1 set, -1 not      [B]
         for each d_j: 1 if the id equals the one d_j steps back    [1] each
  label  num_events + j for the largest j whose step d_j back has the same
         id, else the id; in the first d_last steps the default id is
         labelled num_events + (number of distances - 1), note-seq's rule
         (so num_classes = num_events + number of distances).

Decoding labels back to ids (`ids_from_labels`, note-seq's
`class_index_to_event`): a lookback class repeats the id d_j steps back, or
is the default id where there is none.
"""

import numpy as np

# Encoder names of the settings of the codecs built on these encoders.
ONE_HOT = 'one_hot'
LOOKBACK = 'lookback'


def resolve_lookback_settings(settings, defaults):
  """Fills in, and checks, the lookback fields of a frozen settings object.

  `settings` has `encoder`, `lookback_distances` and `binary_counter_bits`;
  a field left None becomes its encoder's default from `defaults`
  ({encoder: (distances, bits)}), so a saved spec always holds numbers, and
  JSON's lists become tuples. An encoder without lookbacks (ONE_HOT) has
  defaults ((), 0) and takes no others.

  Raises:
    ValueError: an unknown encoder, distances not positive and ascending, or
      lookback settings an encoder without them was given.
  """
  if settings.encoder not in defaults:
    raise ValueError(f'unknown encoder {settings.encoder!r}; known: '
                     f'{", ".join(sorted(defaults))}')
  default_distances, default_bits = defaults[settings.encoder]
  distances = settings.lookback_distances
  distances = default_distances if distances is None else distances
  bits = settings.binary_counter_bits
  bits = default_bits if bits is None else bits
  distances = tuple(int(d) for d in distances)
  if any(d <= 0 for d in distances) or list(distances) != sorted(set(distances)):
    raise ValueError(f'lookback_distances must be positive and ascending, got '
                     f'{distances}')
  if bits < 0:
    raise ValueError(f'binary_counter_bits must be >= 0, got {bits}')
  if settings.encoder == ONE_HOT and (distances or bits):
    raise ValueError('the one_hot encoder has no lookbacks or counters, got '
                     f'lookback_distances={distances}, binary_counter_bits={bits}')
  object.__setattr__(settings, 'lookback_distances', distances)
  object.__setattr__(settings, 'binary_counter_bits', int(bits))


def one_hot(ids, size):
  """float32 [len(ids), size]: row i is 1.0 at column ids[i]."""
  ids = np.asarray(ids, np.int64)
  rows = np.zeros((len(ids), size), np.float32)
  rows[np.arange(len(ids)), ids] = 1.0
  return rows


def binary_counters(num_steps, bits):
  """float32 [num_steps, bits]: bit b of i + 1 at row i, as +1.0 or -1.0
  (the metric position of the step each row predicts)."""
  number = np.arange(1, num_steps + 1, dtype=np.int64)[:, None]
  set_bits = (number >> np.arange(bits, dtype=np.int64)[None]) & 1
  return (2.0 * set_bits - 1.0).astype(np.float32)


def shifted(ids, distance, fill):
  """ids[i - distance] at each step i, `fill` where i < distance."""
  ids = np.asarray(ids, np.int64)
  out = np.full(len(ids), fill, np.int64)
  if distance < len(ids):
    out[distance:] = ids[:len(ids) - distance] if distance > 0 else ids
  return out


def repeats(ids, distances):
  """bool [steps, len(distances)]: whether step i's id equals the id
  distances[j] steps back (False where there is none)."""
  ids = np.asarray(ids, np.int64)
  result = np.zeros((len(ids), len(distances)), bool)
  for j, distance in enumerate(distances):
    if distance < len(ids):
      result[distance:, j] = ids[distance:] == ids[:len(ids) - distance]
  return result


def lookback_labels(ids, plain_labels, distances, default_id, first_class):
  """Labels of note-seq's lookback rule (see the module docstring).

  Args:
    ids: int [steps] event ids.
    plain_labels: int [steps], the label of each step that repeats no
      lookback.
    distances: the lookback distances in steps, ascending.
    default_id: the id of the default event (the pad before the start).
    first_class: the label of "repeat distances[0]"; distances[j] is
      first_class + j.

  Returns:
    int32 [steps].
  """
  ids = np.asarray(ids, np.int64)
  labels = np.array(plain_labels, np.int64)
  repeated = repeats(ids, distances)
  for j in range(len(distances)):  # the largest distance that repeats wins
    labels[repeated[:, j]] = first_class + j
  if len(distances):
    early_default = (np.arange(len(ids)) < distances[-1]) & (ids == default_id)
    labels[early_default] = first_class + len(distances) - 1
  return labels.astype(np.int32)


def ids_from_lookback_labels(labels, plain_to_id, distances, default_id,
                             first_class, primer=()):
  """The ids `labels` stand for, each read after `primer` and the ids before
  it (note-seq's `class_index_to_event`, one label at a time).

  Args:
    labels: int [n] labels.
    plain_to_id: int array mapping each label below first_class to its id.
    distances, default_id, first_class: as `lookback_labels`.
    primer: int [m] ids before the first label.

  Returns:
    int32 [n]: the id of each label.
  """
  labels = np.asarray(labels, np.int64)
  primer = np.asarray(primer, np.int64)
  start = len(primer)
  ids = np.concatenate([primer, np.full(len(labels), -1, np.int64)])
  source = np.full(len(ids), -1, np.int64)
  position = start + np.arange(len(labels))
  is_lookback = labels >= first_class
  ids[position[~is_lookback]] = np.asarray(plain_to_id, np.int64)[
      labels[~is_lookback]]
  where = position[is_lookback]
  back = where - np.asarray(distances, np.int64)[labels[is_lookback]
                                                 - first_class]
  ids[where[back < 0]] = default_id
  source[where[back >= 0]] = back[back >= 0]
  # A repeat points back at an id that may be a repeat itself: follow the
  # chains, halving what is left of each every round (pointer jumping).
  pending = np.flatnonzero(ids < 0)
  while len(pending):
    ready = ids[source[pending]] >= 0
    ids[pending[ready]] = ids[source[pending[ready]]]
    pending = pending[~ready]
    source[pending] = source[source[pending]]
  return ids[start:].astype(np.int32)


class SequenceEncoder:
  """An encoder-decoder over event ids: `inputs`, `labels`, and
  `ids_from_labels` back (subclasses), with note-seq's training pairs."""

  input_size = None
  num_classes = None

  def inputs(self, ids):
    """float32 [steps, input_size]: the input of every step of int [steps]
    ids (note-seq's `get_inputs_batch([events], full_length=True)[0]`)."""
    raise NotImplementedError

  def labels(self, ids):
    """int32 [steps]: the label of every step (note-seq's
    `events_to_label(events, i)` for each i)."""
    raise NotImplementedError

  def ids_from_labels(self, labels, primer=()):
    """int32 [len(labels)]: the ids that `labels` stand for, the first read
    after the ids `primer` (note-seq's `class_index_to_event`)."""
    raise NotImplementedError

  def training_example(self, ids):
    """(inputs [steps - 1, input_size], labels [steps - 1]): each step's
    input against the next step's label, note-seq's `encode(events)`."""
    return self.inputs(ids)[:-1], self.labels(ids)[1:]

  def spec(self):
    """What a model needs to build these inputs and read these labels
    itself (JSON: the constructor argument `encoder` of
    `musicrnn.models.event_sequence_rnn`)."""
    raise NotImplementedError


class OneHotEncoder(SequenceEncoder):
  """note-seq's OneHotEventSequenceEncoderDecoder (module docstring)."""

  def __init__(self, num_events):
    self.num_events = num_events
    self.input_size = num_events
    self.num_classes = num_events

  def inputs(self, ids):
    return one_hot(ids, self.num_events)

  def labels(self, ids):
    return np.asarray(ids, np.int32)

  def ids_from_labels(self, labels, primer=()):
    del primer
    return np.asarray(labels, np.int32)

  def spec(self):
    return {'kind': ONE_HOT, 'num_events': self.num_events}


class LookbackEncoder(SequenceEncoder):
  """note-seq's LookbackEventSequenceEncoderDecoder (module docstring).

  Args:
    num_events: the number of event ids.
    default_id: the id of the default event (note-seq's `default_event`:
      no melody event, no drums).
    lookback_distances: steps, ascending; may be empty (drum_kit_rnn).
    binary_counter_bits: counter bits of the input.
  """

  def __init__(self, num_events, default_id, lookback_distances,
               binary_counter_bits):
    self.num_events = num_events
    self.default_id = default_id
    self.distances = tuple(lookback_distances)
    self.bits = binary_counter_bits
    self.input_size = (num_events * (1 + len(self.distances)) + self.bits
                       + len(self.distances))
    self.num_classes = num_events + len(self.distances)

  def inputs(self, ids):
    ids = np.asarray(ids, np.int64)
    parts = [one_hot(ids, self.num_events)]
    parts += [one_hot(shifted(ids, d - 1, self.default_id), self.num_events)
              for d in self.distances]
    parts.append(binary_counters(len(ids), self.bits))
    parts.append(repeats(ids, self.distances).astype(np.float32))
    return np.concatenate(parts, axis=1)

  def labels(self, ids):
    return lookback_labels(ids, ids, self.distances, self.default_id,
                           self.num_events)

  def ids_from_labels(self, labels, primer=()):
    return ids_from_lookback_labels(labels, np.arange(self.num_events),
                                    self.distances, self.default_id,
                                    self.num_events, primer)

  def spec(self):
    return {'kind': LOOKBACK, 'num_events': self.num_events,
            'default_id': self.default_id,
            'lookback_distances': list(self.distances),
            'binary_counter_bits': self.bits}


class EncoderMethods:
  """What a codec over one-step events gives a model, from its `encoder` (a
  `SequenceEncoder`) on its event ids: a mixin for the `codec.Codec`s that
  set `encoder` and `vocab_size` (melody, drums).

  `vocab_size` is the number of event ids (what the dataset stores);
  `num_classes` the labels the model predicts and `input_size` the width of
  its input vectors, as note-seq's encoder-decoder gives them.
  """

  encoder = None
  step_name = 'steps'
  # An id per metric step: a length in steps is a length in ids.
  counts_steps = True

  def num_steps(self, ids):
    """One step per id."""
    return len(ids)

  def check_ids(self, ids):
    """`ids` as int64 [steps]; ValueError unless in [0, vocab_size)."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
      raise ValueError(f'ids must be 1-D, got shape {ids.shape}')
    ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
      raise ValueError(f'ids must be in [0, {self.vocab_size})')
    return ids

  @property
  def num_classes(self):
    return self.encoder.num_classes

  @property
  def input_size(self):
    return self.encoder.input_size

  def inputs(self, ids):
    """float32 [steps, input_size] of event ids, note-seq's
    `get_inputs_batch([events], full_length=True)[0]`."""
    return self.encoder.inputs(self.check_ids(ids))

  def labels(self, ids):
    """int32 [steps]: each step's label, note-seq's `events_to_label`."""
    return self.encoder.labels(self.check_ids(ids))

  def training_example(self, ids):
    """(inputs[:-1], labels[1:]) of event ids, note-seq's `encode`."""
    return self.encoder.training_example(self.check_ids(ids))

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=None):
    """None: in these encodings every id means something in every state
    (a set of drums struck; a codec with a grammar overrides this)."""
    del max_polyphony, max_note_duration, renormalise
    return None

  def encoder_spec(self):
    """The encoder's `spec()`: what a model needs to build its inputs from
    event ids and to read its labels as event ids."""
    return self.encoder.spec()

  def ids_from_labels(self, labels, primer=()):
    """int32: the event ids of labels the model gave, the first read after
    the event ids `primer` (note-seq's `class_index_to_event`)."""
    labels = np.asarray(labels, np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
      raise ValueError(f'labels must be in [0, {self.num_classes})')
    return self.encoder.ids_from_labels(labels, self.check_ids(primer))
