"""The note LSTM on the shared pipeline, trainer, evaluator and generator:
one step per onset, a chord vocabulary the dataset pipeline counts from the
train split, three softmax heads whose NLLs sum to the step's; it trains
(loss falls), steps as its full pass, reloads, evaluates and generates MIDI
that note-seq reads back, each head at its own temperature."""

import collections
import json
import os

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import splits
from musicrnn.errors import UsageError
from musicrnn.generation import sampler
from musicrnn.models.note_lstm import NoteLSTM
from musicrnn.pipelines import dataset
from musicrnn.pipelines import tfds_builders
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import multi_head
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.training import trainer
import testing_lib

HEADS = (7, 5, 4)


@pytest.fixture(scope='module')
def note_run(note_dataset, tmp_path_factory):
  """(run folder, TrainSummary) of note_lstm_tiny after 60 steps."""

  def train(folder):
    run_dir = os.path.join(folder, 'run')
    return run_dir, trainer.train(
        testing_lib.tiny_config('note_lstm_tiny'), note_dataset, run_dir,
        num_steps=60, seed=1, log_every=10, eval_every=60, checkpoint_every=30,
        progress=False)

  return testing_lib.made_once(tmp_path_factory, 'run_note_lstm_tiny', train)[1]


def _model(**settings):
  keras.utils.set_random_seed(3)
  model = NoteLSTM(head_sizes=HEADS, rnn_layer_sizes=(8, 6), **settings)
  model(model.example_inputs([]))
  return model


def test_configs_are_listed_with_their_tiny_variants():
  assert {'note_lstm', 'note_lstm_tiny'} <= set(configs.names())
  config = configs.get_config('note_lstm')
  assert config.family == 'note_lstm' and NoteLSTM.task == 'multi_head'
  codec = encodings.codec_from_config(config)
  assert codec.needs_counts and codec.settings.max_chords == 256
  assert config.model.rnn_layer_sizes == (512, 512) and config.model.dropout_rate > 0


def test_dataset_counts_its_chord_vocabulary_over_the_train_split(
    note_dataset, fixture_notesequences):
  """dataset.json holds the most frequent chords of the train split's
  augmented chunks (none of eval's); every example is encoded with them."""
  description = description_lib.read_description(note_dataset)
  codec = encodings.codec.codec_from_spec(description['encoding'])
  assert not codec.needs_counts
  config = configs.get_config('note_lstm_tiny')
  maker = dataset.ExampleMaker(configs.to_json(config))
  counts = collections.Counter()
  for sequence in testing_lib.read_notesequences([fixture_notesequences]).values():
    if splits.split_of(sequence, 0.5, 'id') == 'train':
      counts.update(maker.vocabulary_items(sequence))
  expected = encodings.codec_from_config(config).with_counts(counts)
  assert codec == expected
  assert len(codec.settings.chord_vocabulary) == 48 < len(counts)
  # The dataset's config holds the vocabulary its examples were made with.
  assert description['config']['encoding']['settings']['chord_vocabulary'] == (
      description['encoding']['settings']['chord_vocabulary'])
  features, labels, weights = next(iter(input_lib.make_dataset(
      note_dataset, 'eval', 64, shuffle=False, repeat=False)))
  tokens = features['tokens'].numpy()[weights.numpy() > 0]
  assert tokens.max() < codec.vocab_size
  chords, _, _ = codec.split(tokens)
  assert 0 < (chords == 0).mean() < 1   # eval has chords outside it ("other")
  del labels


def test_step_by_step_logits_equal_the_full_pass_and_it_round_trips(tmp_path):
  for settings in ({}, {'embedding_size': 3, 'cell': 'gru'}):
    model = _model(dropout_rate=0.2, **settings)
    tokens = np.random.default_rng(1).integers(0, int(np.prod(HEADS)), (2, 7))
    full = keras.ops.convert_to_numpy(model({'tokens': tokens}))
    assert full.shape == (2, 7, sum(HEADS))
    states = model.initial_state(2)
    for t in range(7):
      logits, states = model.step({'tokens': tokens[:, t]}, states)
      np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), full[:, t],
                                 atol=1e-5)
    folder = tmp_path / str(len(settings))
    folder.mkdir()
    testing_lib.check_model_round_trips(
        model, lambda s=settings: NoteLSTM(head_sizes=HEADS, rnn_layer_sizes=(8, 6),
                                           dropout_rate=0.2, **s),
        {'tokens': tokens}, folder)
  with pytest.raises(ValueError, match='no control signals'):
    NoteLSTM.data_arguments(None, encodings.controls_from_config(
        configs.get_config('density_conditioned_performance_with_dynamics')))
  with pytest.raises(ValueError, match='chord, offset, duration'):
    NoteLSTM(head_sizes=(3, 4))


def test_the_heads_split_a_token_as_the_codec_packs_it():
  codec = encodings.note_tuple.NoteTupleCodec(
      encodings.note_tuple.NoteTupleSettings(chord_vocabulary=((60,), (64,))))
  model = NoteLSTM(head_sizes=codec.head_sizes, rnn_layer_sizes=(4,))
  ids = np.arange(codec.vocab_size)
  parts = [keras.ops.convert_to_numpy(p) for p in model.split_tokens(ids)]
  for ours, theirs in zip(parts, codec.split(ids)):
    np.testing.assert_array_equal(ours, theirs)
  np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.pack(*parts)), ids)


def test_the_loss_is_the_sum_of_the_heads_cross_entropies():
  """head_sums by hand: each head's log-softmax at its part of the label,
  the total their sum (the NLL of the whole step), only on real steps."""
  model = _model()
  rng = np.random.default_rng(2)
  tokens = rng.integers(0, int(np.prod(HEADS)), (3, 5)).astype(np.int32)
  labels = rng.integers(0, int(np.prod(HEADS)), (3, 5)).astype(np.int32)
  weights = np.ones((3, 5), np.float32)
  weights[2, 3:] = 0
  values = [float(v) for v in multi_head.head_sums(
      model, {'tokens': tokens}, tf.constant(labels), tf.constant(weights))]
  logits = keras.ops.convert_to_numpy(model({'tokens': tokens})).astype(np.float64)
  edges = np.cumsum(HEADS)[:-1]
  nll = []
  correct = []
  for part_logits, part in zip(np.split(logits, edges, axis=-1),
                               [labels // 20, labels // 4 % 5, labels % 4]):
    log_p = part_logits - np.log(np.exp(part_logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, part[..., None], -1)[..., 0]
    nll.append(-(picked * weights).sum())
    correct.append(part_logits.argmax(-1) == part)
  np.testing.assert_allclose(values[1:4], nll, rtol=1e-5)
  assert values[0] == pytest.approx(sum(nll), rel=1e-5)
  assert values[4:7] == [float((c * weights).sum()) for c in correct]
  assert values[7] == float((np.all(correct, axis=0) * weights).sum())
  assert values[8] == 13.0


def test_tiny_config_trains_evaluates_and_reloads(note_run):
  run_dir, summary = note_run
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6 and losses[-1] < losses[0]
  for h in summary.history:
    assert h['loss'] == pytest.approx(
        h['loss_chord'] + h['loss_offset'] + h['loss_duration'], rel=1e-5)
  (metrics,) = summary.evals
  assert metrics['heads'] == ['chord', 'offset', 'duration']
  assert metrics['nll'] == pytest.approx(
      metrics['nll_chord'] + metrics['nll_offset'] + metrics['nll_duration'],
      rel=1e-5)
  assert all(0 <= metrics[f'accuracy_{h}'] <= 1 for h in metrics['heads'])
  assert metrics['accuracy'] <= min(metrics[f'accuracy_{h}'] for h in metrics['heads'])
  saved = json.load(open(os.path.join(run_dir, 'eval_metrics.json')))
  assert saved['nll'] == pytest.approx(metrics['nll'])
  run = run_dir_lib.load_run(run_dir)
  assert run.step == 60 and isinstance(run.model, NoteLSTM)
  # The run keeps the vocabulary the data was built with.
  assert run.codec == encodings.codec.codec_from_spec(
      description_lib.read_description(run_dir_lib.dataset_dir(run_dir))['encoding'])
  assert run.model.head_sizes == run.codec.head_sizes
  again = run.task.evaluation(run.model, run.config).evaluate(
      run_dir_lib.dataset_dir(run_dir), run.config.train.batch_size)
  assert again['nll'] == pytest.approx(metrics['nll'], rel=1e-5)
  # Resuming with the same config (its vocabulary still empty) continues.
  resumed = trainer.train(testing_lib.tiny_config('note_lstm_tiny'),
                          run_dir_lib.dataset_dir(run_dir), run_dir,
                          num_steps=60, progress=False)
  assert resumed.resumed and resumed.final_step == 60


def test_each_head_is_sampled_at_its_own_temperature():
  """A near-zero temperature draws a head's likeliest part every step, a
  high one spreads the draws; the parts are packed as the codec packs."""
  model = _model()
  bias = np.zeros(sum(HEADS), np.float32)
  bias[7 + 2] = 3.0      # offset 2 is the likeliest
  bias[7 + 5 + 1] = 3.0  # duration 1 is the likeliest
  model.logits.bias.assign(bias)
  model.logits.kernel.assign(np.zeros_like(model.logits.kernel.numpy()))
  primer = np.zeros((4, 1), np.int32)
  tokens = sampler.sample_heads(model, primer, 40, temperatures=(1.0, 1e-3, 30.0),
                                seed=1)
  assert tokens.shape == (4, 41)
  chord, offset, duration = [keras.ops.convert_to_numpy(p)[:, 1:]
                             for p in model.split_tokens(tokens)]
  assert (offset == 2).all()
  assert len(set(duration.ravel())) == HEADS[2]
  assert len(set(chord.ravel())) == HEADS[0]
  again = sampler.sample_heads(model, primer, 40, temperatures=(1.0, 1e-3, 30.0),
                               seed=1)
  np.testing.assert_array_equal(again, tokens)
  with pytest.raises(ValueError, match='3 values > 0'):
    sampler.sample_heads(model, primer, 4, temperatures=(1.0, 1.0))


def test_generates_midi_note_seq_reads(note_run, tmp_path):
  run_dir, _ = note_run
  run = run_dir_lib.load_run(run_dir)
  paths = generate.generate(run_dir, str(tmp_path), num_outputs=2, num_steps=40,
                            primer_pitches=[60, 64, 67], seed=4,
                            head_temperatures=[1.0, 0.5, 0.5])
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    assert sequence.notes
    pitches = {p for chord in run.codec.settings.chord_vocabulary for p in chord}
    assert {n.pitch for n in sequence.notes} <= pitches
  again = generate.generate(run_dir, str(tmp_path / 'again'), num_outputs=2,
                            num_steps=40, primer_pitches=[60, 64, 67], seed=4,
                            head_temperatures=[1.0, 0.5, 0.5])
  assert open(again[1], 'rb').read() == open(paths[1], 'rb').read()
  (timed,) = generate.generate(run_dir, str(tmp_path / 't'), duration_seconds=25.0,
                               seed=1, primer_midi=testing_lib.testdata(
                                   'midi', 'chpn-p7.mid'))
  assert note_seq.midi_file_to_note_sequence(timed).total_time <= 25.0
  with pytest.raises(UsageError, match='--head_temperatures needs 3 numbers'):
    generate.generate(run_dir, str(tmp_path), head_temperatures=[1.0, 0.5])
  with pytest.raises(UsageError, match='--beam_size'):
    generate.generate(run_dir, str(tmp_path), beam_size=2)


def test_cli_generates_and_evaluates(note_run, tmp_path):
  run_dir, _ = note_run
  out = tmp_path / 'out'
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_dir}', f'--output_dir={out}',
      '--num_steps=16', '--seed=2', '--head_temperatures=[1.0,0.7,0.7]')
  assert result.returncode == 0, result.stderr[-3000:]
  assert len(list(out.glob('*.mid'))) == 1
  metrics_json = tmp_path / 'metrics.json'
  result = testing_lib.run_program(
      'musicrnn.evaluate', f'--run_dir={run_dir}', f'--output_json={metrics_json}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'nats/step (chord' in result.stderr
  assert set(json.load(open(metrics_json))) >= {'nll_chord', 'nll_offset',
                                                 'nll_duration'}


def test_data_with_another_vocabulary_is_refused(note_run, tmp_path):
  """Eval data counted over other music has another vocabulary: the
  trainer names the setting rather than scoring with the wrong chords."""
  run_dir, _ = note_run
  data = run_dir_lib.dataset_dir(run_dir)
  other = tmp_path / 'other'
  other.mkdir()
  for name in os.listdir(data):
    if name != description_lib.DATASET_JSON:
      os.symlink(os.path.join(data, name), other / name)
  description = description_lib.read_description(data)
  description['encoding']['settings']['chord_vocabulary'] = [[60], [62]]
  (other / description_lib.DATASET_JSON).write_text(json.dumps(description))
  with pytest.raises(UsageError, match=r'chord_vocabulary=.*Build a dataset'):
    trainer.train(testing_lib.tiny_config('note_lstm_tiny'), data,
                  str(tmp_path / 'run'), num_steps=1, eval_data=str(other),
                  progress=False)


def test_tfds_cannot_build_a_learned_vocabulary():
  with pytest.raises(UsageError, match='musicrnn_create_dataset --config=note_lstm'):
    tfds_builders.MusicrnnConfig(name='note_lstm').resolved()
