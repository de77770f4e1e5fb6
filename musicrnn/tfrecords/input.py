"""tf.data input: training data -> padded training batches.

  ds = input.make_dataset(dataset_dir, 'train', batch_size=64)
  features, labels, weights = next(iter(ds))

The data is anything `musicrnn.tfrecords.sources.open_source` opens: a
musicrnn_create_dataset folder, a TFDS dataset of musicrnn's builder, or a
glob of SequenceExample TFRecords.

For event encodings (Magenta's alignment: the model sees event i with the
control signals of event i+1 and predicts event i+1):
  features['tokens']           int32 [batch, time]       events 0..n-2
  features[control name]       of events 1..n-1, for each control signal the
                               data carries, of its `input_dtype`: int32
                               [batch, time] classes or float32 [batch,
                               time, size] vectors
  features['chords']           float32 [batch, time, size] of events 1..n-1:
                               a lead sheet's chord inputs (the codec's
                               `extra_inputs`)
  labels                       int32 [batch, time]       events 1..n-1
  weights                      float32 [batch, time]     1 on real steps, 0 on padding
For frame rolls (the piano-roll LSTM) the same alignment holds, frame for
frame:
  features['pianoroll']        float32 [batch, time, cells]  frames 0..n-2
  labels                       float32 [batch, time, cells]  frames 1..n-1
  weights                      float32 [batch, time]
For the GAN's piano-roll segments the elements are 1-tuples (features,),
with features['pianoroll'] float32 [batch, steps, pitches] of 0/1.

Batches are padded to their longest example, or, with `static_length`, all
have one shape [batch_size, static_length]: XLA compiles a step once per
input shape, and TPUStrategy needs one.
"""

import tensorflow as tf

from musicrnn import encodings
from musicrnn.encodings import controls as controls_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources


def _main_feature(features):
  """The feature list a sequence example steps through: tokens, or frames."""
  return schema.TOKENS if schema.TOKENS in features else schema.PIANOROLL


def to_training_example(features, codec=None):
  """Shift a sequence example to (inputs, labels, weights), Magenta-aligned:
  its tokens (int32) or frames (float32 pianoroll rows), the controls, and
  the codec's extra features (a lead sheet's chords) as the vectors the
  model reads (`Codec.extra_inputs`), of events 1..n-1 as the controls."""
  main = _main_feature(features)
  steps = features[main]
  if main == schema.TOKENS:
    steps = tf.cast(steps, tf.int32)
  inputs = {main: steps[:-1]}
  for control in controls_lib.CONTROLS:
    if control.name in features:
      inputs[control.name] = tf.cast(features[control.name][1:],
                                     control.input_dtype)
  for name, size in (codec.extra_input_sizes() if codec else {}).items():
    vectors = tf.numpy_function(
        lambda values, name=name: codec.extra_inputs(name, values).astype(
            'float32'), [features[name][1:]], tf.float32, stateful=False)
    inputs[name] = tf.ensure_shape(vectors, [None, size])
  labels = steps[1:]
  weights = tf.ones(tf.shape(labels)[:1], tf.float32)
  return inputs, labels, weights


def fit_to_length(length):
  """A function: a training example -> the same, truncated or padded with
  zeros (weight 0, token 0, silent frame, controls 0) to exactly `length`
  steps."""

  def fit(tensor):
    tensor = tensor[:length]
    padding = [[0, length - tf.shape(tensor)[0]]] + [[0, 0]] * (
        tensor.shape.rank - 1)
    return tf.ensure_shape(tf.pad(tensor, padding), [length] + tensor.shape[1:])

  return lambda *example: tf.nest.map_structure(fit, example)


def fill_batch(batch_size):
  """A function: a batch of up to `batch_size` rows -> exactly `batch_size`
  rows, the added ones all zeros (weight 0: they count for nothing)."""

  def fill(tensor):
    padding = [[0, batch_size - tf.shape(tensor)[0]]] + [[0, 0]] * (
        tensor.shape.rank - 1)
    return tf.ensure_shape(tf.pad(tensor, padding),
                           [batch_size] + tensor.shape[1:])

  return lambda *batch: tf.nest.map_structure(fill, batch)


def crop_length(config):
  """The length of the random training crops a config asks for
  (`data.long_sequences='crop'`: `data.max_events`), or None."""
  data = config['data']
  if data.get('long_sequences') == 'crop':
    return int(data['max_events'])
  return None


def random_crops(ds, length, seed=None):
  """Each example of `ds` (feature dicts) cut to `length` steps at a random
  offset, uniform over every start that fits (so crops reach both ends);
  shorter examples stay whole. With a seed, the offset of the i-th example
  read is a function of (seed, i): the same every run, and new on each pass
  of a repeated dataset."""

  def crop(index, features):
    n = tf.shape(features[_main_feature(features)], out_type=tf.int64)[0]
    room = tf.maximum(n - length, 0) + 1
    if seed is None:
      offset = tf.random.uniform([], 0, room, dtype=tf.int64)
    else:
      offset = tf.random.stateless_uniform(
          [], seed=tf.stack([tf.constant(seed, tf.int64), index]), minval=0,
          maxval=room, dtype=tf.int64)
    cropped = dict(features)
    for name in schema.SEQUENCE_FEATURES:
      if name in cropped:
        cropped[name] = cropped[name][offset:offset + length]
    cropped[schema.LENGTH] = tf.minimum(n, length)
    return cropped

  return ds.enumerate().map(crop, num_parallel_calls=tf.data.AUTOTUNE)


def make_dataset(data, split, batch_size, *, shuffle=True, repeat=True,
                 seed=None, shuffle_buffer=None, bucket_boundaries=None,
                 drop_remainder=False, crop_length=None, static_length=None):
  """Batches of one split of training data.

  Args:
    data: a `sources.DataSource`, or anything `sources.open_source` opens
      (a dataset folder, a TFDS folder or tfds:NAME, a TFRecord glob).
    split: 'train' or 'eval'.
    batch_size: examples per batch.
    shuffle: shuffle files and examples (seeded with `seed`).
    repeat: repeat forever (training) or one pass (evaluation).
    shuffle_buffer: examples in the shuffle buffer (default 10,000; 1,000
      with crops, whose examples are whole performances).
    bucket_boundaries: event lengths at which to bucket examples of similar
      length together (less padding); None pads each batch to its longest.
    crop_length: cut each event example to a random window of this many
      events (`random_crops`); None keeps the examples as stored.
    drop_remainder: drop the last batch when it is short.
    static_length: give every batch one shape: each event example is
      truncated or padded (weight 0) to exactly this many steps, and each
      batch has `batch_size` rows; the last short batch of a one-pass
      dataset is filled with rows of weight 0 (unless `drop_remainder`), so
      an evaluation still sees every example. Piano rolls have one segment
      shape already: for them any static_length only drops a short last
      batch.

  Returns:
    tf.data.Dataset of (features, labels, weights); see the module doc.
  """
  if static_length is not None and bucket_boundaries:
    raise ValueError('static_length and bucket_boundaries exclude each other')
  source = sources.open_source(data)
  if shuffle_buffer is None:
    shuffle_buffer = 1_000 if crop_length else 10_000
  ds = source.records(split, shuffle=shuffle, repeat=repeat, seed=seed,
                      shuffle_buffer=shuffle_buffer)
  codec = encodings.codec.codec_from_spec(source.description['encoding'])
  segmented = codec.segmented
  if crop_length and not segmented:
    ds = random_crops(ds, crop_length, seed)
  if segmented:
    ds = ds.map(lambda f: ({schema.PIANOROLL: f[schema.PIANOROLL]},))
    ds = ds.batch(batch_size,
                  drop_remainder=drop_remainder or static_length is not None)
  else:
    ds = ds.map(lambda features: to_training_example(features, codec),
                num_parallel_calls=tf.data.AUTOTUNE)
    if static_length is not None:
      ds = ds.map(fit_to_length(static_length),
                  num_parallel_calls=tf.data.AUTOTUNE)
      # A repeating dataset has no short last batch.
      ds = ds.batch(batch_size, drop_remainder=drop_remainder or repeat)
      if not (drop_remainder or repeat):
        ds = ds.map(fill_batch(batch_size))
    elif bucket_boundaries:
      ds = ds.bucket_by_sequence_length(
          lambda inputs, labels, weights: tf.shape(labels)[0],
          bucket_boundaries=list(bucket_boundaries),
          bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
          drop_remainder=drop_remainder)
    else:
      ds = ds.padded_batch(batch_size, drop_remainder=drop_remainder)
  return ds.prefetch(tf.data.AUTOTUNE)


def shard_per_worker(dataset, num_workers):
  """Each worker of a multi-worker strategy (`num_workers` > 1) keeps its
  share of every batch (sharding by file would need a file per worker)."""
  if num_workers == 1:
    return dataset
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options)
