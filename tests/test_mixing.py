"""Every source in every batch: the shuffled shards of musicrnn_create_dataset,
the reader's interleave, and the random crops of long-context training."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn.pipelines import dataset
from musicrnn.pipelines import shuffle
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources
import testing_lib

NUM_SOURCES = 40
BATCH = 16


def _write_sources(path, num_sources, seconds=60.0):
  """`num_sources` distinct one-minute pieces as NoteSequence TFRecords."""
  rng = np.random.default_rng(0)
  with tf.io.TFRecordWriter(path) as writer:
    for i in range(num_sources):
      pitches = rng.integers(48, 84, size=int(seconds / 0.25))
      sequence = testing_lib.make_sequence(pitches, seconds_per_note=0.25,
                                           velocity=int(rng.integers(40, 110)))
      sequence.id = f'source{i:03d}'
      sequence.filename = f'source{i:03d}.mid'
      sequence.collection_name = 'many'
      writer.write(sequence.SerializeToString())
  return path


@pytest.fixture(scope='module')
def many_sources(tmp_path_factory):
  """A dataset of 40 sources, each giving dozens of examples, in 4 shards."""
  root = tmp_path_factory.mktemp('many')
  ns = _write_sources(str(root / 'ns.tfrecord'), NUM_SOURCES)
  out = str(root / 'dataset')
  summary = dataset.create_dataset(
      configs.get_config('performance_with_dynamics_tiny'), ns, out,
      eval_ratio=0.1, num_shards=4)
  return out, summary


def _source_ids(data, split, count, seed=0, shuffle_buffer=50):
  # A buffer far smaller than the data, as the reader's 10,000 examples are
  # against a corpus's hundreds of thousands.
  records = sources.open_source(data).records(split, shuffle=True, repeat=True,
                                              seed=seed,
                                              shuffle_buffer=shuffle_buffer)
  return [r[schema.ID].numpy().decode() for r in records.take(count)]


def test_training_stream_mixes_sources_as_a_global_shuffle(many_sources):
  data, summary = many_sources
  examples = summary.examples['train']
  train_sources = summary.notesequences['train']
  # Dozens of examples per source: reading sources one after another would
  # see a handful of them in the first few hundred records.
  assert examples >= 20 * train_sources
  n = 256
  read = _source_ids(data, 'train', n)
  every = [r[schema.ID].numpy().decode() for r in sources.open_source(data).records(
      'train', shuffle=False, repeat=False)]
  assert len(every) == examples
  shuffled = np.random.default_rng(0).permutation(every)[:n]
  assert len(set(read)) >= 0.8 * len(set(shuffled))
  for start in range(0, n, BATCH):
    _, most = collections.Counter(read[start:start + BATCH]).most_common(1)[0]
    assert most <= BATCH // 4, (start, read[start:start + BATCH])


def test_shards_are_a_seeded_permutation_of_the_examples(many_sources, tmp_path):
  data, summary = many_sources
  description = sources.open_source(data).description
  assert description['order'] == 'shuffled'
  assert len(description['splits']['train']['files']) == 4

  def example_ids(folder):
    source = sources.open_source(folder)
    ids = []
    for path in source.files('train'):
      for record in tf.data.TFRecordDataset(path):
        example = tf.train.SequenceExample.FromString(record.numpy())
        ids.append(example.context.feature[schema.EXAMPLE_ID].bytes_list.value[0])
    return ids

  ids = example_ids(data)
  assert len(ids) == len(set(ids)) == summary.examples['train']
  # In the stored order, consecutive examples rarely share a source: the
  # examples of one source are made one after another, and spread apart.
  by_source = [i.split(b':')[0] for i in ids]
  same = sum(a == b for a, b in zip(by_source, by_source[1:]))
  assert same < 0.1 * len(ids)
  # The same input and seed give the same files; another seed, another order.
  ns = sources.open_source(data).description['input']
  config = configs.get_config('performance_with_dynamics_tiny')
  again = str(tmp_path / 'again')
  dataset.create_dataset(config, ns, again, eval_ratio=0.1, num_shards=4)
  assert example_ids(again) == ids
  other = str(tmp_path / 'other')
  dataset.create_dataset(config, ns, other, eval_ratio=0.1, num_shards=4, seed=1)
  assert sorted(example_ids(other)) == sorted(ids) and example_ids(other) != ids


def _first_example_ids(data, seed, count=None):
  """(source, tokens) of the examples in the order the reader gives them, shuffle buffer of one
  (the interleaved shards as read), one pass."""
  records = sources.open_source(data).records('train', shuffle=True, repeat=False,
                                              seed=seed, shuffle_buffer=1)
  if count:
    records = records.take(count)
  return [_identity(r) for r in records]


def _identity(record):
  return record[schema.ID].numpy().decode(), record[schema.TOKENS].numpy().tobytes()


def test_each_seed_starts_every_shard_at_its_own_record(many_sources):
  data, summary = many_sources
  stored = [_identity(r) for r in sources.open_source(data).records(
      'train', shuffle=False, repeat=False)]
  first = {seed: _first_example_ids(data, seed) for seed in (0, 1)}
  # A pass still reads every record once.
  for ids in first.values():
    assert sorted(ids) == sorted(stored) and len(ids) == summary.examples['train']
  # Not the same first record of each of the 4 shards for every seed (a run
  # shorter than a pass would train on the same part whatever its seed).
  assert set(first[0][:8]) != set(first[1][:8])
  assert not set(first[0][:4]) & set(first[1][:4])
  assert _first_example_ids(data, 0, 8) == first[0][:8]


def test_order_key_spreads_shards_evenly():
  keys = [shuffle.order_key(f'id{i}', 0) for i in range(8000)]
  counts = np.bincount([shuffle.shard_of(k, 8) for k in keys], minlength=8)
  assert counts.min() > 900 and counts.max() < 1100
  assert shuffle.order_key('a', 0) != shuffle.order_key('a', 1)


def test_auto_shard_count_grows_with_the_data():
  config = configs.get_config('multiconditioned_performance_with_dynamics')
  small = dataset.auto_num_shards(config, 100_000, 0.1)
  assert small == {'train': 1, 'eval': 1}
  big = dataset.auto_num_shards(config, 100 << 20, 0.1)
  assert 16 < big['train'] <= dataset.MAX_SHARDS and big['eval'] < big['train']


def _long_examples(lengths):
  """Feature dicts whose tokens are their positions: a crop's first token is
  its offset."""
  def gen():
    for i, n in enumerate(lengths):
      yield {schema.TOKENS: np.arange(n, dtype=np.int64),
             'note_density': np.arange(n, dtype=np.int64) % 7,
             'pitch_histogram': np.tile(np.arange(n, dtype=np.float32)[:, None],
                                        (1, 12)),
             schema.LENGTH: np.int64(n), schema.ID: f'piece{i}'.encode()}
  spec = {schema.TOKENS: tf.TensorSpec([None], tf.int64),
          'note_density': tf.TensorSpec([None], tf.int64),
          'pitch_histogram': tf.TensorSpec([None, 12], tf.float32),
          schema.LENGTH: tf.TensorSpec([], tf.int64),
          schema.ID: tf.TensorSpec([], tf.string)}
  return tf.data.Dataset.from_generator(gen, output_signature=spec)


def test_random_crops_vary_reach_both_ends_and_are_seeded():
  length, n = 16, 40
  ds = _long_examples([n, 10]).repeat(300)
  crops = list(input_lib.random_crops(ds, length, seed=3).as_numpy_iterator())
  long_crops = [c for c in crops if c[schema.ID] == b'piece0']
  offsets = [int(c[schema.TOKENS][0]) for c in long_crops]
  assert min(offsets) == 0 and max(offsets) == n - length   # both ends
  assert len(set(offsets)) == n - length + 1                 # every start
  for c in long_crops:
    start = c[schema.TOKENS][0]
    np.testing.assert_array_equal(c[schema.TOKENS], np.arange(start, start + length))
    np.testing.assert_array_equal(c['note_density'], c[schema.TOKENS] % 7)
    np.testing.assert_array_equal(c['pitch_histogram'][:, 5], c[schema.TOKENS])
    assert c[schema.LENGTH] == length
  short = [c for c in crops if c[schema.ID] == b'piece1']
  assert all(len(c[schema.TOKENS]) == 10 and c[schema.LENGTH] == 10 for c in short)
  # Each pass draws new offsets; the same seed draws the same ones.
  assert offsets[:20] != offsets[20:40]
  again = [int(c[schema.TOKENS][0]) for c in
           input_lib.random_crops(ds, length, seed=3).as_numpy_iterator()
           if c[schema.ID] == b'piece0']
  assert again == offsets
  other = [int(c[schema.TOKENS][0]) for c in
           input_lib.random_crops(ds, length, seed=4).as_numpy_iterator()
           if c[schema.ID] == b'piece0']
  assert other != offsets


def test_crop_configs():
  config = configs.get_config('music_transformer_tiny')
  assert input_lib.crop_length(config) == config.data.max_events == 64
  assert input_lib.crop_length(configs.get_config('performance_with_dynamics')) is None
  assert configs.get_config('music_transformer').data.max_events == 2048
  assert configs.get_config('dilated_cnn').data.long_sequences == 'crop'


def test_crop_dataset_trains_on_crops_and_evaluates_fixed_windows(tmp_path):
  ns = _write_sources(str(tmp_path / 'ns.tfrecord'), 6)
  out = str(tmp_path / 'crops')
  summary = dataset.create_dataset(configs.get_config('music_transformer_tiny'), ns,
                                   out, eval_ratio=0.3)
  stats = summary.stats
  assert stats['long_sequences_kept_for_crops'] == summary.examples['train']
  source = sources.open_source(out)
  stored = [int(r[schema.LENGTH]) for r in
            source.records('train', shuffle=False, repeat=False)]
  assert min(stored) > 64     # whole pieces
  evals = [int(r[schema.LENGTH]) for r in
           source.records('eval', shuffle=False, repeat=False)]
  assert max(evals) <= 64     # fixed windows
  batches = input_lib.make_dataset(out, 'train', 4, seed=0, crop_length=64)
  for inputs, labels, _ in batches.take(5):
    assert inputs[schema.TOKENS].shape == (4, 63) and labels.shape == (4, 63)
  first = [b[0][schema.TOKENS].numpy() for b in input_lib.make_dataset(
      out, 'eval', 4, shuffle=False, repeat=False)]
  second = [b[0][schema.TOKENS].numpy() for b in input_lib.make_dataset(
      out, 'eval', 4, shuffle=False, repeat=False)]
  assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_a_dataset_without_eval_examples_trains_without_evaluation(tmp_path):
  ns = _write_sources(str(tmp_path / 'ns.tfrecord'), 3, seconds=20.0)
  out = str(tmp_path / 'no_eval')
  summary = dataset.create_dataset(
      configs.get_config('performance_with_dynamics_tiny'), ns, out, eval_ratio=0.0)
  source = sources.open_source(out)
  assert summary.examples['eval'] == 0 and not source.has_split('eval')
  assert source.description['splits']['eval']['files'] == []
  assert len(source.files('train')) == 1
  from musicrnn.training import trainer  # pylint: disable=import-outside-toplevel
  run = trainer.train(configs.get_config('performance_with_dynamics_tiny'), out,
                      str(tmp_path / 'run'), num_steps=2, progress=False)
  assert run.final_step == 2 and run.evals == []
