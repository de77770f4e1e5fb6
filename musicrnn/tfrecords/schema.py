"""The SequenceExample schema: one definition for writer, reader and TFDS.

Context (one value per example):
  id             bytes   the source NoteSequence id (content hash)
  example_id     bytes   unique per example: id, chunk, stretch, transposition, piece
  encoding       bytes   JSON codec spec ({'name': ..., 'settings': {...}})
  transposition  int64   semitones applied (0 for the original)
  stretch        float   time-stretch factor applied (1.0 for the original)
  length         int64   number of steps in the feature lists

Feature lists (one entry per step; only those the config uses are present):
  tokens           int64 x 1     event ids of the codec (event codecs)
  chords           bytes x 1     the chord symbol (UTF-8, note-seq's, 'N.C.'
                                 for none) over each step's event, for codecs
                                 that store it (`Codec.extra_features`:
                                 Improv RNN's lead sheets)
  <control name>   one per control signal of the config (event codecs), as
                   its `Control.feature` says (musicrnn.encodings.controls):
                   int64 x 1 (a class) or float x its shape (a vector)
  pianoroll        bytes x 1     the step's 0/1 cells, np.packbits of a vector
                                 of the codec's `vocab_size`: a piano roll's
                                 active pitches, or a frame roll's onset and
                                 held bits

Token ids are stored as ids, not one-hot floats: a 512-event example is about
3 KB instead of Magenta's 800 KB.
"""

import functools
import json

import numpy as np

from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import controls as controls_lib

ID = 'id'
EXAMPLE_ID = 'example_id'
ENCODING = 'encoding'
TRANSPOSITION = 'transposition'
STRETCH = 'stretch'
LENGTH = 'length'

TOKENS = 'tokens'
CHORDS = 'chords'
PIANOROLL = 'pianoroll'
# {name: `controls.Feature`} of every control signal, in registry order.
CONTROL_FEATURES = {cls.name: cls.feature for cls in controls_lib.CONTROLS}

SEQUENCE_FEATURES = (TOKENS, CHORDS, *CONTROL_FEATURES, PIANOROLL)


def sequence_features_for(config):
  """The feature lists a config's examples carry, in schema order: its
  codec's `sequence_feature` and `extra_features`, then the control
  signals of event codecs."""
  cls = codec_lib.codec_class(config.encoding.name)
  main = cls.sequence_feature
  if main != TOKENS:
    return (main,)
  return (TOKENS, *cls.extra_features,
          *(name for name, _ in controls_lib.controls_from_config(config)))


# The protobuf wire format, written directly: building one Feature message
# per event through the protobuf API costs ~30 us an event, which made the
# proto the bottleneck of dataset creation (hours on ASAP). These helpers
# produce the same bytes tf.train.SequenceExample would parse, with numpy.


def _varint(n):
  out = bytearray()
  while True:
    byte = n & 0x7F
    n >>= 7
    if n:
      out.append(byte | 0x80)
    else:
      out.append(byte)
      return bytes(out)


def _field(number, payload):
  """A length-delimited field: tag (wire type 2), length, payload."""
  return _varint(number << 3 | 2) + _varint(len(payload)) + payload


# Feature: bytes_list = 1, float_list = 2, int64_list = 3; each list holds
# its values in field 1 (packed for numbers).
def _int64_feature(values):
  if len(values) == 0:
    return _field(3, b'')
  return _field(3, _field(1, b''.join(_varint(int(v)) for v in values)))


def _float_feature(values):
  return _field(2, _field(1, np.asarray(values, '<f4').tobytes()))


def _bytes_feature(value):
  return _field(1, _field(1, value))


def _map_entry(key, value):
  return _field(1, _field(1, key.encode('utf-8')) + _field(2, value))


def _fixed_width_entries(rows, wrap):
  """FeatureList body for rows that all serialize to the same width.

  `rows` is a uint8 array [n, width] of each step's payload; `wrap(payload)`
  builds that step's Feature. The per-step header bytes are computed once.
  """
  n, width = rows.shape
  if n == 0:
    return b''
  feature = wrap(b'\0' * width)
  header = _field(1, feature)[:-width]
  out = np.empty((n, len(header) + width), np.uint8)
  out[:, :len(header)] = np.frombuffer(header, np.uint8)
  out[:, len(header):] = rows
  return out.tobytes()


@functools.lru_cache(maxsize=4096)
def _int_entry(value):
  """One FeatureList entry: a Feature holding the single int64 `value`."""
  return _field(1, _int64_feature([value]))


def _int_entries(values):
  """FeatureList body of one int64 per step.

  Each distinct value's entry bytes are built once; the body is those rows
  gathered and concatenated with a mask (no Python loop over steps).
  """
  values = np.asarray(values, np.int64)
  if values.size == 0:
    return b''
  if values.min() < 0:
    raise ValueError('negative ids cannot be written')
  uniques, inverse = np.unique(values, return_inverse=True)
  entries = [_int_entry(v) for v in uniques.tolist()]
  widths = np.array([len(e) for e in entries])
  table = np.zeros((len(entries), widths.max()), np.uint8)
  for row, entry in enumerate(entries):
    table[row, :len(entry)] = np.frombuffer(entry, np.uint8)
  rows = table[inverse]
  mask = np.arange(table.shape[1]) < widths[inverse][:, None]
  return rows[mask].tobytes()


def _bytes_entries(values):
  """FeatureList body of one string per step (UTF-8), each distinct one's
  entry built once."""
  entries = {}
  for value in values:
    if value not in entries:
      entries[value] = _field(1, _bytes_feature(str(value).encode('utf-8')))
  return b''.join(entries[value] for value in values)


def _control_entries(name, values, length):
  """FeatureList body of a control signal's `values` [length] + its shape."""
  feature = CONTROL_FEATURES[name]
  if feature.dtype == 'int64':
    steps, body = len(values), _int_entries(values)
  else:
    rows = np.asarray(values, '<f4').reshape(
        -1, int(np.prod(feature.shape, dtype=np.int64)))
    steps, body = len(rows), _fixed_width_entries(
        rows.view(np.uint8), lambda b: _field(2, _field(1, b)))
  if steps != length:
    raise ValueError(f'{name} and tokens differ in length')
  return body


def serialize_sequence_example(*, source_id, example_id, encoding_spec,
                               transposition, stretch, tokens=None,
                               chords=None, pianoroll=None, **controls):
  """A serialized tf.train.SequenceExample of this schema, built with numpy.

  Args:
    source_id: the source NoteSequence id.
    example_id: this example's unique id.
    encoding_spec: the codec spec (JSON-able dict).
    transposition: semitones, int.
    stretch: time-stretch factor, float.
    tokens: int array [length] of event ids (>= 0).
    chords: [length] chord symbols (str), one over each token.
    pianoroll: 0/1 array [length, cells] (piano-roll pitches, or a frame
      roll's bits).
    **controls: {control name: its feature at each event}, int array
      [length] of classes or float array [length] + the feature's shape
      (`CONTROL_FEATURES`); None leaves it out.

  Returns:
    bytes that tf.io.parse_single_sequence_example reads with
    `parsing_spec(...)`.

  Raises:
    TypeError: a keyword that is no control's name.
    ValueError: a control or chords of another length than `tokens`, or a
      negative id.
  """
  unknown = sorted(set(controls) - set(CONTROL_FEATURES))
  if unknown:
    raise TypeError(f'serialize_sequence_example() got unknown features '
                    f'{unknown}')
  lists = []
  length = 0
  if tokens is not None:
    length = len(tokens)
    lists.append((TOKENS, _int_entries(tokens)))
  if chords is not None:
    if len(chords) != length:
      raise ValueError('chords and tokens differ in length')
    lists.append((CHORDS, _bytes_entries(list(chords))))
  for name in CONTROL_FEATURES:
    if controls.get(name) is not None:
      lists.append((name, _control_entries(name, controls[name], length)))
  if pianoroll is not None:
    packed = np.packbits(np.asarray(pianoroll, bool), axis=-1)
    length = len(packed)
    lists.append((PIANOROLL, _fixed_width_entries(packed, _bytes_feature)))
  context = [
      (ID, _bytes_feature(source_id.encode('utf-8'))),
      (EXAMPLE_ID, _bytes_feature(example_id.encode('utf-8'))),
      (ENCODING, _bytes_feature(
          json.dumps(encoding_spec, sort_keys=True).encode('utf-8'))),
      (TRANSPOSITION, _int64_feature([int(transposition)]) if transposition >= 0
       else _field(3, _field(1, _varint(int(transposition) + (1 << 64))))),
      (STRETCH, _float_feature([stretch])),
      (LENGTH, _int64_feature([length])),
  ]
  context_bytes = b''.join(_map_entry(k, v) for k, v in context)
  lists_bytes = b''.join(_map_entry(k, v) for k, v in lists)
  return _field(1, context_bytes) + _field(2, lists_bytes)


def parsing_spec(sequence_features):
  """(context_features, sequence_features) for tf.io.parse_sequence_example."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  context = {
      ID: tf.io.FixedLenFeature([], tf.string),
      EXAMPLE_ID: tf.io.FixedLenFeature([], tf.string),
      ENCODING: tf.io.FixedLenFeature([], tf.string),
      TRANSPOSITION: tf.io.FixedLenFeature([], tf.int64),
      STRETCH: tf.io.FixedLenFeature([], tf.float32),
      LENGTH: tf.io.FixedLenFeature([], tf.int64),
  }
  specs = {
      TOKENS: tf.io.FixedLenSequenceFeature([], tf.int64),
      CHORDS: tf.io.FixedLenSequenceFeature([], tf.string),
      PIANOROLL: tf.io.FixedLenSequenceFeature([], tf.string),
  }
  for name, feature in CONTROL_FEATURES.items():
    specs[name] = tf.io.FixedLenSequenceFeature(list(feature.shape),
                                                tf.as_dtype(feature.dtype))
  return context, {name: specs[name] for name in sequence_features}
