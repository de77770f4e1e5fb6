"""The TFDS builders (tfds build, tfds.load) and training from TFDS data."""

import collections
import hashlib
import os

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from note_seq.protobuf import music_pb2

from musicrnn import configs
from musicrnn import encodings
from musicrnn import splits
from musicrnn.errors import UsageError
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset
from musicrnn.pipelines import tfds_builders
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import sources
from musicrnn.training import trainer
import testing_lib

EVAL_RATIO = 0.5   # the fixtures are few files: half of them in eval


def _prepare(builder, manual_dir):
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual_dir,
      beam_options=beam.options.pipeline_options.PipelineOptions()))
  return builder


def _config(name, musicrnn_config):
  return tfds_builders.MusicrnnConfig(name=name, musicrnn_config=musicrnn_config,
                                      eval_ratio=EVAL_RATIO)


@pytest.fixture(scope='module')
def fixture_notesequences(tmp_path_factory):
  def make(folder):
    path = os.path.join(folder, 'ns.tfrecord')
    convert.convert_directory(testing_lib.TESTDATA, path, collection_name='testdata')
    return path

  return testing_lib.made_once(tmp_path_factory, 'test_tfds_ns', make)[1]


@pytest.fixture(scope='module')
def tfds_dir(tmp_path_factory):
  """A TFDS data_dir holding the tiny performance config built from the
  committed fixtures (broken files included); made once in a test run."""

  def make(data_dir):
    _prepare(tfds_builders.Musicrnn(
        config=_config('pwd_tiny_eval50', 'performance_with_dynamics_tiny'),
        data_dir=data_dir), testing_lib.TESTDATA)

  return testing_lib.made_once(tmp_path_factory, 'test_tfds_dir', make)[0]


def _by_example_id(ds):
  return {ex['example_id'].decode(): ex for ex in tfds.as_numpy(ds)}


def test_builder_makes_the_examples_of_create_dataset(
    tfds_dir, fixture_notesequences, tmp_path):
  config = configs.get_config('performance_with_dynamics_tiny')
  reference = tmp_path / 'reference'
  dataset.create_dataset(config, fixture_notesequences, str(reference),
                         eval_ratio=EVAL_RATIO)
  folder = sources.DatasetFolder(str(reference))
  builder = tfds.builder('musicrnn/pwd_tiny_eval50', data_dir=tfds_dir)
  for split in ('train', 'eval'):
    loaded = _by_example_id(tfds.load('musicrnn/pwd_tiny_eval50', split=split,
                                      data_dir=tfds_dir))
    expected = {}
    for record in tf.data.TFRecordDataset(folder.files(split)):
      example = tf.train.SequenceExample.FromString(record.numpy())
      example_id = example.context.feature['example_id'].bytes_list.value[0]
      expected[example_id.decode()] = [
          f.int64_list.value[0]
          for f in example.feature_lists.feature_list['tokens'].feature]
    assert len(loaded) == builder.info.splits[split].num_examples
    assert len(loaded) == folder.num_examples(split) > 0
    assert set(loaded) == set(expected)
    for example_id, ex in loaded.items():
      assert ex['tokens'].tolist() == expected[example_id]
    for ex in loaded.values():
      assert ex['tokens'].dtype == np.int32 and ex['tokens'].ndim == 1
      assert ex['length'] == len(ex['tokens'])
      if split == 'eval':
        assert ex['transposition'] == 0 and ex['stretch'] == 1.0
  transpositions = {int(ex['transposition']) for ex in _by_example_id(
      tfds.load('musicrnn/pwd_tiny_eval50', split='train',
                data_dir=tfds_dir)).values()}
  assert transpositions == set(config.data.transpositions)


def test_tfds_stores_examples_with_sources_mixed(tfds_dir):
  """TFDS writes examples in an order fixed by a hash of their keys (the
  example ids): the sources are mixed in the files as in
  musicrnn_create_dataset's, not one after another."""
  ds = tfds.load('musicrnn/pwd_tiny_eval50', split='train', data_dir=tfds_dir,
                 shuffle_files=False)
  ids = [ex['id'] for ex in tfds.as_numpy(ds)]
  counts = np.array(list(collections.Counter(ids).values()))
  assert len(counts) >= 3 and len(ids) > 20 * len(counts)
  changes = sum(a != b for a, b in zip(ids, ids[1:]))
  # One source after another changes source len(counts) - 1 times; a random
  # order about (n - 1) * (1 - sum of p^2) times.
  p = counts / counts.sum()
  random_changes = (len(ids) - 1) * (1 - (p ** 2).sum())
  assert random_changes > 10 * len(counts)
  assert changes > 0.7 * random_changes


def test_builder_declares_typed_features_and_metadata(tfds_dir):
  builder = tfds.builder('musicrnn/pwd_tiny_eval50', data_dir=tfds_dir)
  features = builder.info.features
  assert features['tokens'].shape == (None,) and features['tokens'].dtype == tf.int32
  assert features['transposition'].dtype == tf.int32
  assert features['stretch'].dtype == tf.float32
  assert set(features.keys()) == {'id', 'example_id', 'transposition', 'stretch',
                                  'length', 'tokens'}
  assert str(builder.info.version) == '1.1.0'
  assert 'musicrnn' in builder.info.citation
  metadata = builder.info.metadata
  config = configs.get_config('performance_with_dynamics_tiny')
  assert metadata['encoding'] == encodings.codec_from_config(config).spec()
  assert metadata['eval_ratio'] == EVAL_RATIO
  dataset.check_stats(metadata['stats'])
  assert metadata['stats']['examples_train'] == builder.info.splits['train'].num_examples
  # Every broken fixture is listed with its reason; none is lost silently.
  dead = {d['filename']: d['reason'] for d in metadata['deadletters']}
  broken = sorted(f'broken/{name}' for name in os.listdir(
      testing_lib.testdata('broken')))
  assert set(broken) <= set(dead)
  assert dead['broken/test-empty-file.mid'] == 'empty_file'
  assert (metadata['stats']['converted_files'] + metadata['stats']['failed_files']
          + metadata['stats'].get('duplicate_files', 0)) == len(
              convert.list_music_files(testing_lib.TESTDATA).music_files)


def test_pianoroll_builder_gives_bool_segments(gan_dataset, tmp_path):
  builder = _prepare(tfds_builders.Musicrnn(
      config=_config('gan_tiny_eval50', 'pianoroll_gan_tiny'),
      data_dir=str(tmp_path)), testing_lib.TESTDATA)
  config = configs.get_config('pianoroll_gan_tiny')
  shape = encodings.codec_from_config(config).segment_shape
  assert builder.info.features['pianoroll'].shape == shape
  reference = sources.DatasetFolder(gan_dataset)
  for split in ('train', 'eval'):
    rolls = [ex['pianoroll'] for ex in tfds.as_numpy(builder.as_dataset(split))]
    assert len(rolls) == reference.num_examples(split) > 0
    assert all(r.dtype == bool and r.shape == shape for r in rolls)
  assert any(r.any() for r in rolls)


def test_notesequence_builder_publishes_the_collection(tmp_path,
                                                       fixture_notesequences):
  builder = _prepare(tfds_builders.MusicrnnNotesequences(
      config=tfds_builders.NoteSequencesConfig(
          name='eval50', eval_ratio=EVAL_RATIO, collection_name='fixtures'),
      data_dir=str(tmp_path)), testing_lib.TESTDATA)
  converted = testing_lib.read_notesequences([fixture_notesequences])
  seen = {}
  for split in ('train', 'eval'):
    for ex in tfds.as_numpy(builder.as_dataset(split)):
      sequence = music_pb2.NoteSequence.FromString(ex['notesequence'])
      assert sequence.id == ex['id'].decode()
      assert splits.is_eval(sequence.id, EVAL_RATIO) == (split == 'eval')
      assert ex['collection'].decode() == sequence.collection_name == 'fixtures'
      assert ex['num_notes'] == len(sequence.notes)
      seen[sequence.id] = sequence
  assert set(seen) == set(converted)
  for sequence in seen.values():
    assert sequence.filename == converted[sequence.id].filename
    if '#' not in sequence.id:
      with open(testing_lib.testdata(sequence.filename), 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == sequence.id


def test_trainer_trains_from_tfds_by_name_and_folder(tfds_dir, tmp_path):
  config = configs.get_config('performance_with_dynamics_tiny')
  configs.apply_overrides(config, overrides={'train.learning_rate': 1e-2})
  summary = trainer.train(config, 'tfds:musicrnn/pwd_tiny_eval50',
                          str(tmp_path / 'by_name'), num_steps=30,
                          tfds_data_dir=tfds_dir, seed=0, log_every=5,
                          eval_every=30, progress=False)
  assert summary.final_step == 30
  assert summary.history[-1]['loss'] < summary.history[0]['loss']
  assert summary.evals and np.isfinite(summary.evals[-1]['nll'])
  # musicrnn_evaluate finds the TFDS data the run recorded.
  metrics = evaluate_lib.evaluate_run(str(tmp_path / 'by_name'))
  assert metrics['nll'] == pytest.approx(summary.evals[-1]['nll'], rel=1e-5)
  assert metrics['events'] == summary.evals[-1]['events']
  # The dataset's folder (without its version) reads as the same data.
  folder = sources.open_source(os.path.join(tfds_dir, 'musicrnn', 'pwd_tiny_eval50'))
  assert isinstance(folder, sources.TfdsDataset)
  assert folder.description['encoding'] == encodings.codec_from_config(config).spec()
  features, labels, weights = next(iter(input_lib.make_dataset(folder, 'eval', 3)))
  assert features['tokens'].shape == labels.shape == weights.shape
  assert features['tokens'].shape[0] == 3


def test_train_cli_reads_tfds(tfds_dir, tmp_path):
  run_dir = tmp_path / 'run'
  result = testing_lib.run_program(
      'musicrnn.train', '--config=performance_with_dynamics_tiny',
      '--train_data=tfds:musicrnn/pwd_tiny_eval50', f'--tfds_data_dir={tfds_dir}',
      f'--run_dir={run_dir}', '--num_steps=4', '--eval_every=4')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'steps 0 -> 4' in result.stdout and 'eval at step 4' in result.stderr


def test_trainer_reads_a_tfrecord_glob(tiny_datasets, tmp_path):
  data = os.path.join(tiny_datasets['polyphony_tiny'], 'train.tfrecord-*')
  source = sources.open_source(data)
  assert source.description['encoding']['name'] == 'polyphony'
  assert source.single_split   # a glob is not evaluated unless --eval_data
  summary = trainer.train(configs.get_config('polyphony_tiny'), data,
                          str(tmp_path / 'run'), num_steps=3, progress=False,
                          eval_data=tiny_datasets['polyphony_tiny'])
  assert summary.final_step == 3 and summary.evals


def test_wrong_data_is_a_clear_error(tfds_dir, fixture_notesequences, tmp_path):
  with pytest.raises(UsageError, match='holds no dataset; expected a dataset folder'):
    sources.open_source(str(tmp_path))
  with pytest.raises(UsageError, match='matches nothing'):
    sources.open_source(str(tmp_path / 'nothing-*.tfrecord'))
  with pytest.raises(UsageError, match='does not hold musicrnn SequenceExamples'):
    sources.open_source(fixture_notesequences)
  with pytest.raises(UsageError, match='not built'):
    sources.open_source('tfds:musicrnn/polyphony', tfds_data_dir=str(tmp_path))
  with pytest.raises(UsageError, match='no TFDS dataset'):
    sources.open_source('tfds:no_such_dataset', tfds_data_dir=str(tmp_path))
  with pytest.raises(UsageError, match='--config=polyphony_tiny'):
    trainer.train(configs.get_config('polyphony_tiny'),
                  'tfds:musicrnn/pwd_tiny_eval50', str(tmp_path / 'run'),
                  num_steps=1, tfds_data_dir=tfds_dir, progress=False)


def test_a_corpus_without_eval_files_is_refused_before_building(tmp_path):
  corpus = tmp_path / 'one'
  testing_lib.copy_into(testing_lib.testdata('midi', 'chpn-p7.mid'), str(corpus))
  listing = convert.list_music_files(str(corpus))
  with open(listing.music_files[0], 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
  ratio = 0.01 if not splits.is_eval(digest, 0.01) else 0.0
  with pytest.raises(ValueError, match='falls in the eval split.*eval_ratio'):
    tfds_builders._check_eval_split(listing, 'one', ratio, 'id')  # pylint: disable=protected-access


def test_conditional_config_carries_its_controls(tiny_datasets, tmp_path):
  """The multiconditioned builder gives the control features, and batches
  from it are those of the dataset folder built by create_dataset."""
  name = 'multiconditioned_performance_with_dynamics_tiny'
  builder = _prepare(tfds_builders.Musicrnn(
      config=tfds_builders.MusicrnnConfig(name='multi_tiny', musicrnn_config=name,
                                          eval_ratio=0.25),
      data_dir=str(tmp_path)), os.path.join(testing_lib.REPO_ROOT, 'musicrnn',
                                            'quickstart_corpus'))
  features = builder.info.features
  assert features['note_density'].dtype == tf.int32
  assert features['pitch_histogram'].shape == (None, 12)
  source = sources.open_source(builder.data_dir)
  folder = sources.DatasetFolder(tiny_datasets[name])
  for split in ('train', 'eval'):
    assert source.num_examples(split) == folder.num_examples(split) > 0
  ex = next(iter(builder.as_dataset('eval')))
  assert ex['note_density'].shape == ex['tokens'].shape
  assert ex['pitch_histogram'].shape == (ex['tokens'].shape[0], 12)
  inputs, labels, _ = next(iter(input_lib.make_dataset(source, 'train', 2)))
  assert set(inputs) == {'tokens', 'note_density', 'pitch_histogram'}
  assert inputs['pitch_histogram'].shape[:2] == labels.shape


def test_the_2012_benchmark_builder_publishes_the_three_splits(tmp_path):
  """tfds build musicrnn_boulanger2012 from a manual dir holding the .mat
  file: train, valid and test as published (valid and test pieces whole),
  read by tfds.load and trained on with validation on valid."""
  splits_ = testing_lib.random_benchmark_splits()
  manual_dir = tmp_path / 'manual'
  manual_dir.mkdir()
  testing_lib.write_benchmark_mat(str(manual_dir / 'JSB_Chorales.mat'), splits_)
  data_dir = str(tmp_path / 'tfds')
  builder = _prepare(tfds_builders.MusicrnnBoulanger2012(
      config=tfds_builders.Boulanger2012Config(
          name='jsb_tiny', filename='JSB_Chorales.mat',
          musicrnn_config='frames_lstm_tiny'),
      data_dir=data_dir), str(manual_dir))
  assert sorted(builder.info.splits) == ['test', 'train', 'valid']
  assert builder.info.metadata['validation_split'] == 'valid'
  test = _by_example_id(tfds.load('musicrnn_boulanger2012/jsb_tiny',
                                  split='test', data_dir=data_dir))
  whole = [(i, r) for i, r in enumerate(splits_['test']) if len(r) >= 2]
  assert len(test) == len(whole)
  for i, roll in whole:
    example = test[f'JSB_Chorales/test/{i:04d}:t+0:p0']
    np.testing.assert_array_equal(example['pianoroll'], roll.astype(bool))
  source = sources.open_source('tfds:musicrnn_boulanger2012/jsb_tiny',
                               tfds_data_dir=data_dir)
  assert source.validation_split() == 'valid'
  summary = trainer.train(configs.get_config('frames_lstm_tiny'), source,
                          str(tmp_path / 'run'), num_steps=2, eval_every=2,
                          progress=False)
  assert summary.evals[-1]['frames'] == sum(len(r) - 1 for r in splits_['valid'])
  with pytest.raises(UsageError, match='Nottingham.mat is not in'):
    _prepare(tfds_builders.MusicrnnBoulanger2012(
        config='nottingham', data_dir=data_dir), str(manual_dir))
