"""The 2012 polyphonic benchmark's reader and unit: a file in the
benchmark's layout written here, and the published "Note 1-Gram" row
reproduced on the real files when ../shared/data is present."""

import json
import os

import note_seq
import numpy as np
import pytest
import scipy.io

import testing_lib
from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import tasks
from musicrnn.encodings import frames as frames_lib
from musicrnn.errors import UsageError
from musicrnn.pipelines import boulanger
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.training import trainer
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import sources


def test_reads_the_published_layout_and_measures_nats_per_frame(tmp_path):
  rng = np.random.default_rng(0)
  splits = {split: [(rng.random((n, 88)) < 0.1).astype(np.uint8)
                    for n in sizes]
            for split, sizes in (('train', (5, 9)), ('valid', (4,)),
                                 ('test', (3, 6)))}
  path = str(tmp_path / 'fixture.mat')
  testing_lib.write_benchmark_mat(path, splits)
  read = boulanger.read_mat(path)
  assert sorted(read) == ['test', 'train', 'valid']
  for split, pieces in splits.items():
    assert len(read[split]) == len(pieces)
    for mine, theirs in zip(read[split], pieces):
      np.testing.assert_array_equal(mine, theirs)
  # Frame-weighted: over the 2 + 5 frames a sequence model predicts (the
  # first of each piece has no past), or over all 3 + 6.
  def nll(roll, start):
    return -(roll[start:] * np.log(0.25)
             + (1 - roll[start:]) * np.log(0.75)).sum()
  p = np.full(88, 0.25)
  test = splits['test']
  assert boulanger.frame_nll([np.tile(p, (len(r) - 1, 1)) for r in test],
                             test) == pytest.approx(sum(nll(r, 1) for r in test) / 7)
  assert boulanger.frame_nll([np.tile(p, (len(r), 1)) for r in test],
                             test) == pytest.approx(sum(nll(r, 0) for r in test) / 9)
  with pytest.raises(ValueError, match='do not cover'):
    boulanger.frame_nll([np.tile(p, (1, 1))], test[:1])


def test_mistakes_are_usage_errors(tmp_path):
  (tmp_path / 'text.mat').write_text('not matlab')
  with pytest.raises(UsageError, match='not a MATLAB'):
    boulanger.read_mat(str(tmp_path / 'text.mat'))
  scipy.io.savemat(str(tmp_path / 'partial.mat'), {'traindata': np.zeros((2, 88))})
  with pytest.raises(UsageError, match='no validdata, testdata'):
    boulanger.read_mat(str(tmp_path / 'partial.mat'))
  bad = {split: [np.zeros((3, 88))] for split in boulanger.SPLITS}
  bad['test'] = [np.zeros((3, 87))]
  testing_lib.write_benchmark_mat(str(tmp_path / 'keys.mat'), bad)
  with pytest.raises(UsageError, match='piece 0 of testdata is not 0/1 frames of 88'):
    boulanger.read_mat(str(tmp_path / 'keys.mat'))


@pytest.mark.parametrize('name, published', [('JSB_Chorales', 11.06),
                                             ('Nottingham', 10.25)])
def test_the_note_1_gram_row_of_the_2012_table(name, published):
  path = os.path.join(testing_lib.SHARED_DATA, 'boulanger2012', f'{name}.mat')
  if not os.path.exists(path):
    pytest.skip(f'{path} is not here (../shared/data)')
  splits = boulanger.read_mat(path)
  p = boulanger.key_frequencies(splits['train'])
  nll = boulanger.frame_nll([np.tile(p, (len(r), 1)) for r in splits['test']],
                            splits['test'])
  # The 1-gram predicts every frame, the first of each piece included.
  assert nll == pytest.approx(published, abs=0.005)


def frames_config(**model):
  """A config of the benchmark's frames (frames_lstm, tiny: train pieces
  cut into 64-frame windows), trained on two transpositions."""
  config = configs.get_config('frames_lstm_tiny')
  config.data.transpositions = (0, 2)
  config.model.update(model)
  return config


@pytest.fixture(scope='module')
def fixture_splits():
  return testing_lib.random_benchmark_splits()


@pytest.fixture(scope='module')
def fixture_dataset(tmp_path_factory, fixture_splits):
  folder = tmp_path_factory.mktemp('benchmark')
  path = str(folder / 'Fixture.mat')
  testing_lib.write_benchmark_mat(path, fixture_splits)
  summary = boulanger.create_dataset(frames_config(), path,
                                     str(folder / 'dataset'))
  return path, summary


def _pieces(dataset_dir, split):
  source = sources.open_source(dataset_dir)
  return {example['id'].numpy().decode(): example['pianoroll'].numpy()
          for example in source.records(split, shuffle=False, repeat=False)}


def test_a_mat_file_becomes_the_three_published_splits(fixture_splits,
                                                       fixture_dataset):
  """Valid and test pieces whole and unchanged, one example each (a piece
  of one frame, with nothing to predict, left out and counted); train
  pieces in each transposition of the config."""
  path, summary = fixture_dataset
  description = description_lib.read_description(summary.output_dir)
  assert sorted(description['splits']) == ['test', 'train', 'valid']
  assert description['validation_split'] == 'valid'
  assert description['encoding']['name'] == 'key_frames'
  assert summary.examples == {'train': 8, 'valid': 2, 'test': 2}
  assert summary.stats['dropped_too_short_test'] == 1
  for split in ('valid', 'test'):
    pieces = _pieces(summary.output_dir, split)
    for i, roll in enumerate(fixture_splits[split]):
      key = f'Fixture/{split}/{i:04d}'
      if len(roll) < 2:
        assert key not in pieces
        continue
      np.testing.assert_array_equal(pieces[key], roll)
  train = _pieces(summary.output_dir, 'train')
  assert len(train) == 4   # ids are per source piece: its transpositions
  source = sources.open_source(summary.output_dir)
  assert source.validation_split() == 'valid'
  assert source.split_names() == ['test', 'train', 'valid'] or sorted(
      source.split_names()) == ['test', 'train', 'valid']
  moved, lost = boulanger.transposed(fixture_splits['train'][0], 2)
  np.testing.assert_array_equal(moved[:, 2:], fixture_splits['train'][0][:, :-2])
  assert lost == fixture_splits['train'][0][:, -2:].sum()


def test_frames_of_another_encoding_are_refused(tmp_path, fixture_dataset):
  path, _ = fixture_dataset
  with pytest.raises(UsageError, match='one bit for each of the 88 keys'):
    boulanger.create_dataset(configs.get_config('pianoroll_lstm_tiny'), path,
                             str(tmp_path / 'out'))


def _one_gram_model(frequencies):
  """A frame model whose every prediction is each key's train frequency."""
  model = models.build_model(frames_config(rnn_layer_sizes=(4,)),
                             encodings.codec_from_config(frames_config()), [])
  model(model.example_inputs([]))
  dense = model.layers[-1]
  kernel, _ = dense.get_weights()
  p = np.clip(frequencies, 1e-7, 1 - 1e-7)
  dense.set_weights([np.zeros_like(kernel), np.log(p / (1 - p))])
  return model


def test_the_evaluation_reports_nats_per_predicted_frame(fixture_splits,
                                                         fixture_dataset):
  """The multi-label evaluation's NLL per frame is the benchmark's unit:
  every frame but the first of each piece, frame-weighted."""
  _, summary = fixture_dataset
  p = boulanger.key_frequencies(fixture_splits['train'])
  model = _one_gram_model(p)
  evaluation = tasks.TASKS['multi_label'].evaluation(model, frames_config())
  metrics = evaluation.evaluate(summary.output_dir, 2, split='test')
  test = [r for r in fixture_splits['test'] if len(r) >= 2]
  assert metrics['frames'] == sum(len(r) - 1 for r in test)
  expected = boulanger.frame_nll([np.tile(p, (len(r) - 1, 1)) for r in test],
                                 test)
  assert metrics['nll_per_frame'] == pytest.approx(expected, rel=1e-5)
  # Nothing above 0.5 is predicted: no true positive, accuracy 0.
  assert metrics['frame_accuracy'] == 0.0


@pytest.mark.parametrize('name, published, without_first',
                         [('JSB_Chorales', 11.06, 11.09),
                          ('Nottingham', 10.25, 10.26)])
def test_the_evaluation_reproduces_the_note_1_gram_row(tmp_path, name,
                                                       published,
                                                       without_first):
  """Through musicrnn_create_dataset's path and the evaluation: the 1-gram
  scored over the frames a sequence model predicts (11.09 / 10.26), 0.03
  and 0.01 nats above the published row, which predicts the first frames
  too (test_the_note_1_gram_row_of_the_2012_table)."""
  path = os.path.join(testing_lib.SHARED_DATA, 'boulanger2012', f'{name}.mat')
  if not os.path.exists(path):
    pytest.skip(f'{path} is not here (../shared/data)')
  config = frames_config()
  with config.unlocked():
    config.data.transpositions = (0,)
  summary = boulanger.create_dataset(config, path, str(tmp_path / name))
  p = boulanger.key_frequencies(boulanger.read_mat(path)['train'])
  evaluation = tasks.TASKS['multi_label'].evaluation(_one_gram_model(p), config)
  metrics = evaluation.evaluate(summary.output_dir, 64, split='test')
  assert metrics['nll_per_frame'] == pytest.approx(without_first, abs=0.005)
  assert abs(metrics['nll_per_frame'] - published) < 0.05


def test_a_run_on_the_benchmark_generates_and_is_compared_with_its_test_pieces(
    tmp_path, fixture_splits, fixture_dataset):
  """Trained on the published splits (validated on valid), the run
  generates MIDI, and musicrnn_evaluate --samples_dir compares it with the
  file's test pieces, its n-grams counted on the train pieces."""
  _, summary = fixture_dataset
  run_dir = str(tmp_path / 'run')
  trained = trainer.train(frames_config(), summary.output_dir, run_dir,
                          num_steps=4, eval_every=2, progress=False, seed=1)
  assert trained.evals[-1]['frames'] == sum(len(r) - 1
                                            for r in fixture_splits['valid'])
  with open(os.path.join(run_dir, 'best.json')) as f:
    best = json.load(f)
  assert best['metric'] == 'nll_per_frame'
  assert best['value'] == min(e['nll_per_frame'] for e in trained.evals)
  run = run_dir_lib.load_run(run_dir)
  paths = run.task.generate(run, str(tmp_path / 'samples'), num_outputs=2,
                            num_steps=16, seed=3)
  assert len(paths) == 2
  # The first frames of a test piece continued (--primer_frames).
  start = fixture_splits['test'][0][:4]
  np.save(str(tmp_path / 'start.npy'), start)
  (primed,) = run.task.generate(run, str(tmp_path / 'primed'), num_steps=6,
                                seed=3, primer_frames=str(tmp_path / 'start.npy'))
  codec = run.codec
  decoded = codec.encode(note_seq.midi_file_to_note_sequence(primed))
  np.testing.assert_array_equal(decoded[:4], start)
  np.save(str(tmp_path / 'wide.npy'), np.zeros((3, 90), np.uint8))
  with pytest.raises(UsageError, match=r'need 0/1 \[frames >= 1, 88\]'):
    run.task.generate(run, str(tmp_path / 'bad'), num_steps=2,
                      primer_frames=str(tmp_path / 'wide.npy'))
  report = evaluate_lib.evaluate_samples(str(tmp_path / 'samples'),
                                         run_dir=run_dir)
  assert report['eval_pieces'] == len(fixture_splits['test'])
  assert report['train_pieces'] == len(fixture_splits['train'])
  assert report['notesequences'].endswith('Fixture.mat')


def test_an_event_model_over_frames_trains_scores_frames_and_continues_frames(
    tmp_path, fixture_splits):
  """frame_events_lstm on the benchmark's splits: the evaluation scores
  whole frames (every frame but each piece's first), and generation
  continues the frames of --primer_frames."""
  path = str(tmp_path / 'Fixture.mat')
  # A valid piece that starts silent: its first FRAME_END is the first
  # token, never a label, and its second frame is scored.
  silent_start = fixture_splits['valid'][0].copy()
  silent_start[0] = 0
  fixture_splits = dict(fixture_splits,
                        valid=[silent_start] + fixture_splits['valid'][1:])
  testing_lib.write_benchmark_mat(path, fixture_splits)
  config = configs.get_config('frame_events_lstm_tiny')
  data = str(tmp_path / 'data')
  boulanger.create_dataset(config, path, data)
  run_dir = str(tmp_path / 'run')
  summary = trainer.train(config, data, run_dir, num_steps=4, eval_every=4,
                          progress=False, seed=1)
  metrics = summary.evals[-1]
  assert metrics['frames'] == sum(len(r) - 1 for r in fixture_splits['valid'])
  events = sum(int(r.sum()) + len(r) for r in fixture_splits['valid'])
  first = sum(int(r[0].sum()) + 1 for r in fixture_splits['valid'])
  # Every token is scored by `nll`; the frames after the first by
  # `nll_per_frame`, whose nats are a part of the same sum.
  assert metrics['events'] == events - len(fixture_splits['valid'])
  assert metrics['nll_per_frame'] * metrics['frames'] < (
      metrics['nll'] * metrics['events'])
  assert events - first > 0
  run = run_dir_lib.load_run(run_dir)
  start = fixture_splits['test'][2][:3]
  np.save(str(tmp_path / 'start.npy'), start)
  (primed,) = run.task.generate(run, str(tmp_path / 'out'), num_steps=20,
                                seed=1, primer_frames=str(tmp_path / 'start.npy'))
  frames = frames_lib.KeyFrameCodec(run.codec.settings).encode(
      note_seq.midi_file_to_note_sequence(primed))
  np.testing.assert_array_equal(frames[:3], start)
