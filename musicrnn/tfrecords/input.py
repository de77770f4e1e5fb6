"""tf.data input: training data -> padded training batches.

  ds = input.make_dataset(dataset_dir, 'train', batch_size=64)
  features, labels, weights = next(iter(ds))

The data is anything `musicrnn.tfrecords.sources.open_source` opens: a
musicrnn_create_dataset folder, a TFDS dataset of musicrnn's builder, or a
glob of SequenceExample TFRecords.

For event encodings (Magenta's alignment: the model sees event i with the
control signals of event i+1 and predicts event i+1):
  features['tokens']           int32 [batch, time]       events 0..n-2
  features['note_density']     int32 [batch, time]       bins of events 1..n-1
  features['pitch_histogram']  float32 [batch, time, 12] of events 1..n-1
  labels                       int32 [batch, time]       events 1..n-1
  weights                      float32 [batch, time]     1 on real steps, 0 on padding
For piano rolls the elements are 1-tuples (features,), with
features['pianoroll'] float32 [batch, steps, pitches] of 0/1.
"""

import tensorflow as tf

from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources


def parse_fn(sequence_features, num_pitches=None):
  """A function: serialized SequenceExample -> dict of tensors."""
  context_spec, sequence_spec = schema.parsing_spec(sequence_features)

  def parse(serialized):
    context, sequences = tf.io.parse_single_sequence_example(
        serialized, context_features=context_spec,
        sequence_features=sequence_spec)
    features = dict(sequences)
    if schema.PIANOROLL in features:
      packed = tf.io.decode_raw(features[schema.PIANOROLL], tf.uint8)
      bits = tf.bitwise.right_shift(
          packed[..., tf.newaxis], tf.constant([7, 6, 5, 4, 3, 2, 1, 0], tf.uint8))
      bits = tf.bitwise.bitwise_and(bits, 1)
      bits = tf.reshape(bits, [tf.shape(packed)[0], -1])[:, :num_pitches]
      features[schema.PIANOROLL] = tf.cast(bits, tf.float32)
    features[schema.LENGTH] = context[schema.LENGTH]
    features[schema.ID] = context[schema.ID]
    return features

  return parse


def to_training_example(features):
  """Shift an event example to (inputs, labels, weights), Magenta-aligned."""
  tokens = tf.cast(features[schema.TOKENS], tf.int32)
  inputs = {schema.TOKENS: tokens[:-1]}
  if schema.NOTE_DENSITY in features:
    inputs[schema.NOTE_DENSITY] = tf.cast(features[schema.NOTE_DENSITY][1:], tf.int32)
  if schema.PITCH_HISTOGRAM in features:
    inputs[schema.PITCH_HISTOGRAM] = features[schema.PITCH_HISTOGRAM][1:]
  labels = tokens[1:]
  weights = tf.ones_like(labels, tf.float32)
  return inputs, labels, weights


def make_dataset(data, split, batch_size, *, shuffle=True, repeat=True,
                 seed=None, shuffle_buffer=10_000, bucket_boundaries=None,
                 drop_remainder=False):
  """Batches of one split of training data.

  Args:
    data: a `sources.DataSource`, or anything `sources.open_source` opens
      (a dataset folder, a TFDS folder or tfds:NAME, a TFRecord glob).
    split: 'train' or 'eval'.
    batch_size: examples per batch.
    shuffle: shuffle files and examples (seeded with `seed`).
    repeat: repeat forever (training) or one pass (evaluation).
    bucket_boundaries: event lengths at which to bucket examples of similar
      length together (less padding); None pads each batch to its longest.

  Returns:
    tf.data.Dataset of (features, labels, weights); see the module doc.
  """
  source = sources.open_source(data)
  ds = source.records(split, shuffle=shuffle, repeat=repeat, seed=seed,
                      shuffle_buffer=shuffle_buffer)
  if schema.PIANOROLL in source.description['sequence_features']:
    ds = ds.map(lambda f: ({schema.PIANOROLL: f[schema.PIANOROLL]},))
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
  else:
    ds = ds.map(to_training_example, num_parallel_calls=tf.data.AUTOTUNE)
    if bucket_boundaries:
      ds = ds.bucket_by_sequence_length(
          lambda inputs, labels, weights: tf.shape(labels)[0],
          bucket_boundaries=list(bucket_boundaries),
          bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
          drop_remainder=drop_remainder)
    else:
      ds = ds.padded_batch(batch_size, drop_remainder=drop_remainder)
  return ds.prefetch(tf.data.AUTOTUNE)
