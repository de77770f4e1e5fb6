"""MusicVAE under Magenta's config names: its encodings are Magenta's
converters', its KL, free bits, beta and schedules are Magenta's arithmetic,
its decoders step as their teacher-forced pass, and the tiny config trains
on the fixtures' melodies (loss falls) and decodes samples of the prior to
MIDI; its latent space: spherical interpolation between two held-out
melodies that starts and ends on their reconstructions, reconstructions,
attribute vectors (a difference of means, added to z), and the errors of
musicrnn_generate's --mode flags."""

import math
import os

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import splits
from musicrnn import tasks
from musicrnn.errors import UsageError
from musicrnn.generation import latent
from musicrnn.generation import sampler
from musicrnn.models import music_vae
from musicrnn.models import protocols
from musicrnn.pipelines import readers
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import optimization
from musicrnn.tasks import variational
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import sources
import testing_lib

NAMES = ('cat-mel_2bar_small', 'cat-mel_2bar_big', 'hierdec-mel_16bar',
         'cat-drums_2bar_small')
# Magenta's music_vae/configs.py: (z_size, enc_rnn_size, dec_rnn_size,
# free_bits, max_beta, beta_rate, sampling_schedule, sampling_rate).
MAGENTA = {
    'cat-mel_2bar_small': (256, (512,), (256, 256), 0, 0.2, 0.99999,
                           'inverse_sigmoid', 1000),
    'cat-mel_2bar_big': (512, (2048,), (2048,) * 3, 0, 0.5, 0.99999,
                         'inverse_sigmoid', 1000),
    'hierdec-mel_16bar': (512, (2048, 2048), (1024, 1024), 256, 0.2, 0.0,
                          'constant', 0),
    'cat-drums_2bar_small': (256, (512,), (256, 256), 48, 0.2, 0.0,
                             'inverse_sigmoid', 1000),
}


def _model(name, seed=0):
  config = configs.get_config(name)
  codec = encodings.codec_from_config(config)
  keras.utils.set_random_seed(seed)
  return models.build_model(config, codec, []), codec


@pytest.mark.parametrize('name', NAMES)
def test_configs_are_magentas_under_magentas_names(name):
  config = configs.get_config(name)
  assert f'{name}_tiny' in configs.names()
  assert config.family == 'music_vae'
  assert tasks.for_config(config) is tasks.TASKS['variational']
  (z_size, enc, dec, free_bits, max_beta, beta_rate, schedule,
   rate) = MAGENTA[name]
  model, train = config.model, config.train
  assert (model.z_size, tuple(model.enc_rnn_size), tuple(model.dec_rnn_size)) == (
      z_size, enc, dec)
  assert (train.free_bits, train.max_beta, train.beta_rate) == (
      free_bits, max_beta, beta_rate)
  assert (train.sampling_schedule, train.sampling_rate) == (schedule, rate)
  # Magenta's base_model defaults, and no dropout (keep probability 1).
  assert (train.batch_size, train.learning_rate, train.decay_rate,
          train.min_learning_rate, train.clip_norm,
          train.grad_norm_clip_to_zero) == (512, 1e-3, 0.9999, 1e-5, 1.0, 1e4)
  assert model.dropout_rate == 0.0
  length = 256 if '16bar' in name else 32
  # Magenta's converters: windows of the model's length over tracks cut
  # to 100 bars.
  assert model.max_seq_len == config.data.extraction.window_bars * 16 == length
  assert config.data.extraction.max_steps == 1600
  if name.startswith('hierdec'):
    assert (model.decoder, tuple(model.level_lengths)) == ('hierarchical',
                                                           (16, 16))
  assert tuple(config.data.transpositions) == (
      tuple(range(-5, 6)) if name.startswith('cat-mel') else (0,))
  # hierdec-trio_16bar: tests/test_music_vae_trio.py.


def test_melody_ids_are_magentas_one_hot_melody_converters():
  """OneHotMelodyConverter: note-seq's MelodyOneHotEncoding(21, 109), 90
  ids, every event its id both ways."""
  codec = encodings.codec_from_config(configs.get_config('cat-mel_2bar_small'))
  reference = note_seq.MelodyOneHotEncoding(21, 109)
  assert codec.vocab_size == reference.num_classes == 90
  events = [-2, -1] + list(range(21, 109))
  np.testing.assert_array_equal(codec.event_ids(events),
                                [reference.encode_event(e) for e in events])
  # And back (a melody note-seq keeps as it is: no NOTE_OFF in silence).
  tune = [21, -2, -1, 108, 60, -1, -2, 61]
  ids = codec.event_ids(tune)
  assert [reference.decode_event(i) for i in ids] == tune
  assert list(codec.melody(ids)) == tune


def test_drum_ids_and_encoder_rolls_are_magentas_drums_converters():
  """DrumsConverter: note-seq's MultiDrumOneHotEncoding of the nine drum
  classes (512 ids) out, and with roll_input the classes' bits and a bit
  set where none is struck in."""
  model, codec = _model('cat-drums_2bar_small_tiny')
  reference = note_seq.MultiDrumOneHotEncoding()
  assert codec.vocab_size == reference.num_classes == 512
  rng = np.random.default_rng(0)
  pitches = [p for group in note_seq.drums_encoder_decoder
             .DEFAULT_DRUM_TYPE_PITCHES for p in group]
  events = [frozenset(rng.choice(pitches, rng.integers(0, 4)).tolist())
            for _ in range(200)]
  ids = codec.event_ids(events)
  np.testing.assert_array_equal(ids, [reference.encode_event(e) for e in events])
  # Magenta's roll: its classes' PianorollEncoderDecoder input, then NOR.
  roll = note_seq.PianorollEncoderDecoder(input_size=9)
  classes = [frozenset(j for j in range(9) if i >> j & 1) for i in ids]
  expected = np.stack([roll.events_to_input(classes, i) for i in range(200)])
  expected = np.concatenate([expected, expected.sum(-1, keepdims=True) == 0],
                            axis=1)
  features = model._encoder_features(tf.constant(ids[None], tf.int32))  # pylint: disable=protected-access
  np.testing.assert_array_equal(np.asarray(features)[0], expected)


def test_kl_free_bits_and_beta_are_magentas_arithmetic():
  rng = np.random.default_rng(1)
  mu = rng.normal(size=(5, 7)).astype(np.float32)
  sigma = rng.uniform(0.05, 2.0, size=(5, 7)).astype(np.float32)
  # KL(N(mu, sigma^2) || N(0, 1)) per dimension, summed (nats).
  kl = np.sum(np.log(1 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5, axis=-1)
  np.testing.assert_allclose(variational.kl_divergence(mu, sigma), kl,
                             rtol=1e-5)
  # Free bits come off the sum, in nats: max(kl - free_bits ln 2, 0).
  for free_bits in (0.0, 4.0, 48.0):
    np.testing.assert_allclose(
        variational.kl_cost(tf.constant(kl), free_bits),
        np.maximum(kl - free_bits * np.log(2.0), 0.0), rtol=1e-5)
  # beta = (1 - beta_rate**step) * max_beta, in float32 as Magenta's graph
  # computes it; beta_rate 0: 0 at step 0 only.
  for step in (0, 1, 10, 12345):
    rate = np.float32(0.99999)
    assert float(variational.kl_beta(step, 0.2, 0.99999)) == pytest.approx(
        (1 - rate ** np.float32(step)) * 0.2, rel=1e-5, abs=1e-12)
    assert float(variational.kl_beta(step, 0.2, 0.0)) == (0.0 if step == 0
                                                          else pytest.approx(0.2))
  # Magenta's sampling schedules.
  for step in (0, 100, 5000):
    assert float(variational.sampling_probability(
        step, 'inverse_sigmoid', 1000.0)) == pytest.approx(
            1 - 1000 / (1000 + math.exp(step / 1000)), abs=1e-6)
    assert float(variational.sampling_probability(
        step, 'exponential', 0.999)) == pytest.approx(
            1 - np.float32(0.999) ** np.float32(step), abs=1e-6)
  assert float(variational.sampling_probability(3, 'constant', 0.3)) == (
      pytest.approx(0.3))
  with pytest.raises(UsageError, match='at least 1'):
    variational.check_schedule('inverse_sigmoid', 0.5)
  # The learning rate: (lr - min) * decay_rate**step + min (float32).
  schedule = optimization.ExponentialDecaySchedule(1e-3, 0.9999, 1e-5)
  for step in (0, 1, 50000):
    assert float(schedule(step)) == pytest.approx(
        (1e-3 - 1e-5) * np.float32(0.9999) ** np.float32(step) + 1e-5,
        rel=1e-5)


def test_gradients_clip_to_the_norm_and_to_zero_as_magentas():
  grads = [tf.constant([3.0, 4.0]), None, tf.constant([[12.0]])]   # norm 13
  clipped = variational.clip_gradients(grads, 1.0, 1e4)
  np.testing.assert_allclose(clipped[0], [3 / 13, 4 / 13], rtol=1e-6)
  assert clipped[1] is None
  unclipped = variational.clip_gradients(grads, 20.0, 1e4)
  np.testing.assert_allclose(unclipped[2], [[12.0]])
  zeroed = variational.clip_gradients(grads, 1.0, 13.0)
  assert not np.any(zeroed[0]) and not np.any(zeroed[2])
  # A loss scaled by 8: the unscaled norm decides.
  scaled = variational.clip_gradients([g * 8 for g in (grads[0], grads[2])],
                                      1.0, 14.0, loss_scale=8.0)
  np.testing.assert_allclose(scaled[0], [8 * 3 / 13, 8 * 4 / 13], rtol=1e-6)


def test_objective_loss_is_reconstruction_plus_beta_times_kl_cost(
    music_vae_dataset):
  """Steps of the objective report, summed over sequences, r_loss + beta *
  kl_cost with Magenta's beta at each step (beta_rate 0: 0, then
  max_beta), and no KL cost under the free bits."""
  # Teacher forced (the training test below runs the scheduled sampling).
  config = testing_lib.tiny_config('cat-mel_2bar_small_tiny',
                                   **{'train.beta_rate': 0.0,
                                      'train.free_bits': 1e4,
                                      'train.sampling_schedule': 'constant',
                                      'train.sampling_rate': 0.0})
  model, _ = _model(config.name)
  objective = variational.VariationalObjective(model, config,
                                               tf.distribute.get_strategy())
  batch = next(iter(input_lib.make_dataset(music_vae_dataset, 'train', 4,
                                           seed=0)))
  step = tf.function(objective.replica_step)
  for beta in (0.0, 0.2, 0.2):
    values = {k: float(v) for k, v in step(*batch).items()}
    assert values['loss'] == pytest.approx(
        values['r_loss'] + beta * values['kl_cost'], rel=1e-5)
    assert values['kl'] > 0 and values['kl_cost'] == 0.0
    assert values['sequences'] == 4 and values['steps'] <= 4 * 32
  record = objective.record(values, 1, 1.0)
  assert record['kl_bits'] == pytest.approx(record['kl'] / math.log(2))
  assert record['beta'] == pytest.approx(0.2)
  assert record['sampling_probability'] == 0.0


@pytest.mark.parametrize('name', ['cat-mel_2bar_small_tiny',
                                  'hierdec-mel_16bar_tiny',
                                  'cat-drums_2bar_small_tiny'])
def test_decoder_steps_as_its_teacher_forced_pass(name, tmp_path):
  """The teacher-forced logits (the hierarchical decoder's bars side by
  side) equal the decoder run a step at a time on the same tokens; the
  encoder reads a padded sequence's real steps only."""
  model, codec = _model(name)
  assert isinstance(model, protocols.LatentVariableModel)
  rng = np.random.default_rng(2)
  ids = rng.integers(0, codec.vocab_size, (3, 32)).astype(np.int32)
  mu, sigma = model.encode({'tokens': ids})
  assert mu.shape == sigma.shape == (3, 8) and np.all(np.asarray(sigma) > 0)
  assert model({'tokens': ids}).shape == (3, 32, codec.vocab_size)
  z = rng.normal(size=(3, 8)).astype(np.float32) * 3
  full = np.asarray(model.decode(z, {'tokens': ids}))
  testing_lib.check_decoder_steps(model, z, ids, full)
  padded = ids.copy()
  padded[0, 20:] = 0
  mask = (np.arange(32)[None] < [[20], [32], [32]]).astype(np.float32)
  mu_padded, _ = model.encode({'tokens': padded, 'mask': mask})
  mu_short, _ = model.encode({'tokens': ids[:1, :20]})
  np.testing.assert_allclose(np.asarray(mu_padded)[0], np.asarray(mu_short)[0],
                             atol=1e-5)
  if name == 'hierdec-mel_16bar_tiny':
    testing_lib.check_model_round_trips(
        model, lambda: _model(name, seed=7)[0], {'tokens': ids}, tmp_path)


def test_the_compiled_loop_feeds_the_data_or_its_draws():
  """The loop of generation and scheduled sampling: fed the data
  (sampling probability 0) its logits are the teacher-forced pass's; fed
  its own draws, they are not; greedy draws are what the teacher-forced
  pass over them finds likeliest at every step."""
  model, _ = _model('hierdec-mel_16bar_tiny')
  rng = np.random.default_rng(5)
  ids = rng.integers(0, 90, (3, 32)).astype(np.int32)
  z = rng.normal(size=(3, 8)).astype(np.float32) * 3
  full = np.asarray(model.decode(z, {'tokens': ids}))
  loop = tf.function(lambda p: sampler.latent_loop(
      model, z, 32, tf.constant([1, 2], tf.int64), targets=ids,
      sampling_probability=p))
  _, forced = loop(tf.constant(0.0))
  np.testing.assert_allclose(np.asarray(forced), full, atol=1e-5)
  drawn, fed_back = loop(tf.constant(1.0))
  assert drawn.shape == (3, 32)
  assert np.abs(np.asarray(fed_back) - full).max() > 1e-3
  greedy = sampler.sample_latent(model, z, 20, greedy=True, jit_compile=False)
  logits = np.asarray(model.decode(z, {'tokens': greedy}))
  np.testing.assert_array_equal(np.argmax(logits, -1), greedy)


def test_a_hierarchical_bar_starts_from_its_conductor_output():
  """Changing the tokens of bar 0 changes bar 1's logits only through the
  token before it: bar 1's decoder starts afresh from the conductor."""
  model, _ = _model('hierdec-mel_16bar_tiny')
  rng = np.random.default_rng(3)
  ids = rng.integers(0, 90, (1, 32)).astype(np.int32)
  other = ids.copy()
  other[0, :15] = rng.integers(0, 90, 15)
  z = rng.normal(size=(1, 8)).astype(np.float32)
  a = np.asarray(model.decode(z, {'tokens': ids}))
  b = np.asarray(model.decode(z, {'tokens': other}))
  np.testing.assert_allclose(a[0, 16:], b[0, 16:], atol=1e-6)
  assert np.abs(a[0, 1:15] - b[0, 1:15]).max() > 1e-4


@pytest.fixture(scope='module')
def trained(music_vae_run):
  """(run folder, TrainSummary) of cat-mel_2bar_small_tiny after 30 steps
  on the fixtures' 2-bar melodies (conftest's music_vae_run)."""
  return music_vae_run


@pytest.fixture(scope='module')
def loaded(trained):
  """The tiny trained run, loaded once for the module."""
  return run_dir_lib.load_run(trained[0])


@pytest.fixture
def shared(trained, loaded, monkeypatch):
  """The trained run's folder, which `run_dir.load_run` gives as `loaded`
  in this test: generation from it shares the compiled loops of the
  module's run (an XLA compile, per batch shape, takes seconds)."""
  real = run_dir_lib.load_run

  def load_run(run_dir, best=False):
    return loaded if run_dir == trained[0] and not best else real(run_dir, best)

  monkeypatch.setattr(run_dir_lib, 'load_run', load_run)
  return trained[0]


def test_tiny_config_trains_on_fixture_melodies_and_loss_falls(
    trained, music_vae_dataset):
  run_dir, summary = trained
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6 and all(np.isfinite(losses))
  assert losses[-1] < 0.6 * losses[0], losses
  last = summary.history[-1]
  assert 0 < last['sampling_probability'] < 0.01   # inverse sigmoid, k=1000
  assert last['beta'] == pytest.approx(
      (1 - np.float32(0.99999) ** np.float32(30)) * 0.2, rel=1e-4)
  metrics = summary.evals[-1]
  for key in ('nll_per_step', 'accuracy', 'sampled_nll_per_step',
              'sampled_accuracy', 'r_loss', 'kl', 'kl_bits', 'kl_cost',
              'elbo', 'nll_bound'):
    assert np.isfinite(metrics[key]), key
  assert metrics['nll_bound'] == pytest.approx(metrics['r_loss'] + metrics['kl'])
  assert metrics['r_loss'] == pytest.approx(
      metrics['nll_per_step'] * metrics['steps'] / metrics['sequences'])
  # Reloaded, with the same seed: the trainer's numbers again.
  run = run_dir_lib.load_run(run_dir)
  again = run.task.evaluation(run.model, run.config).evaluate(
      music_vae_dataset, batch_size=4, seed=testing_lib.MUSIC_VAE_RUN['seed'])
  assert again['nll_bound'] == pytest.approx(metrics['nll_bound'], rel=1e-4)


def test_samples_of_the_prior_decode_to_midi(shared, loaded, tmp_path):
  run_dir = shared
  paths = generate.generate(run_dir, str(tmp_path / 'a'), num_outputs=3,
                            seed=4, temperature=0.5)
  assert len(paths) == 3
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    assert all(21 <= note.pitch <= 108 for note in sequence.notes)
    # Two 4/4 bars of sixteenths at 120 qpm: at most 4 seconds.
    assert sequence.total_time <= 4.0 + 1e-6
  assert any(note_seq.midi_file_to_note_sequence(p).notes for p in paths)
  # The same seed, the same files (the run's compiled loop again).
  run = loaded
  first = run.task.generate(run, str(tmp_path / 'b'), num_outputs=2, seed=4)
  again = run.task.generate(run, str(tmp_path / 'c'), num_outputs=2, seed=4)
  assert open(again[1], 'rb').read() == open(first[1], 'rb').read()
  with pytest.raises(UsageError, match='--top_k'):
    generate.generate(run_dir, str(tmp_path / 'c'), top_k=3)
  # musicrnn_evaluate --samples_dir: against what the model learned, the
  # eval split's windows (decoded), not chunks of the pieces they came from.
  report = evaluate_lib.evaluate_samples(str(tmp_path / 'a'), run_dir=run_dir)
  source = sources.open_source(run_dir_lib.dataset_dir(run_dir))
  windows = list(source.records('eval', shuffle=False, repeat=False))
  assert report['chunk_seconds'] == 0.0
  assert report['sequences'] == {'generated': 3, 'reference': len(windows)}
  assert report['pitches_used']['reference']['mean'] == pytest.approx(np.mean([
      len({n.pitch for n in s.notes})
      for s in (run.codec.decode(r['tokens'].numpy()) for r in windows)]))


def test_hierarchical_decoder_refuses_more_than_its_bars(tmp_path):
  model, codec = _model('hierdec-mel_16bar_tiny')
  config = configs.get_config('hierdec-mel_16bar_tiny')
  run = run_dir_lib.LoadedRun(config, codec, [], model,
                              tasks.for_config(config), 0)
  with pytest.raises(UsageError, match='at most 32 steps'):
    run.task.generate(run, str(tmp_path), num_bars=3)
  with pytest.raises(UsageError, match='at most 32 steps'):
    run.task.generate(run, str(tmp_path), num_steps=33)


def test_music_vae_takes_no_controls_and_checks_its_decoder():
  with pytest.raises(ValueError, match='no control'):
    music_vae.MusicVAE.data_arguments(None, [('note_density', None)])
  with pytest.raises(ValueError, match='multiply'):
    music_vae.MusicVAE(vocab_size=90, decoder='hierarchical',
                       level_lengths=(2, 16), max_seq_len=64)
  with pytest.raises(ValueError, match='2\\*\\*k'):
    music_vae.MusicVAE(vocab_size=90, encoder_input='drum_roll')


# --- Latent space: encode, interpolate, reconstruct, attribute vectors -----

# Two melodies of 2 bars in 4/4: a MusicXML score's, and the first tune of
# the ABC tune book, held out of the fixture dataset's training split (its
# eval split: music_vae_dataset hashes each source's id, half of them eval).
HELD_OUT = (('musicxml', 'two_bars.musicxml'), ('abc', 'tunebook.abc'))


def _held_out_midi(tmp_path):
  """The two melodies as files (the tune book's first tune written as
  MIDI)."""
  paths = [testing_lib.testdata(*parts) for parts in HELD_OUT]
  sequences, _ = readers.read_music_bytes(open(paths[1], 'rb').read(),
                                          paths[1])
  assert splits.split_of(sequences[0], 0.5) == 'eval'
  midi = str(tmp_path / 'tune.mid')
  note_seq.sequence_proto_to_midi_file(sequences[0], midi)
  return paths[0], midi


def _notes(path):
  return [(n.pitch, round(n.start_time, 4), round(n.end_time, 4))
          for n in note_seq.midi_file_to_note_sequence(path).notes]


def test_slerp_keeps_the_ends_and_turns_at_an_even_pace():
  rng = np.random.default_rng(0)
  p0, p1 = rng.normal(size=(2, 8))
  points = latent.interpolation(p0, p1, 5)
  assert points.shape == (5, 8) and points.dtype == np.float32
  np.testing.assert_array_equal(points[0], p0.astype(np.float32))
  np.testing.assert_array_equal(points[-1], p1.astype(np.float32))
  # Magenta's slerp: sin((1-t)w)/sin(w) p0 + sin(tw)/sin(w) p1.
  omega = np.arccos(p0 @ p1 / np.linalg.norm(p0) / np.linalg.norm(p1))
  for t, point in zip(np.linspace(0, 1, 5), points):
    expected = (np.sin((1 - t) * omega) * p0 + np.sin(t * omega) * p1) / np.sin(
        omega)
    np.testing.assert_allclose(point, expected, rtol=1e-5, atol=1e-6)
  # On a sphere: the norm stays, and each step turns by the same angle.
  q0, q1 = 3 * p0 / np.linalg.norm(p0), 3 * p1 / np.linalg.norm(p1)
  points = latent.interpolation(q0, q1, 6).astype(np.float64)
  np.testing.assert_allclose(np.linalg.norm(points, axis=1), 3.0, rtol=1e-5)
  for t, point in zip(np.linspace(0, 1, 6), points):
    angle = np.arccos(np.clip(point @ q0 / 9.0, -1, 1))
    assert angle == pytest.approx(t * omega, abs=1e-3)
  # Parallel latents: the straight line.
  np.testing.assert_allclose(latent.slerp(p0, 2 * p0, 0.5), 1.5 * p0,
                             rtol=1e-5)
  with pytest.raises(UsageError, match='2 points or more'):
    latent.interpolation(p0, p1, 1)


def test_interpolation_starts_and_ends_on_the_reconstructions(
    shared, loaded, tmp_path):
  """Between two held-out melodies: N files and one of them joined, each
  decoding; the latents run from the one's mu to the other's, and decoded
  greedily (or at a very low temperature) the first and last are the
  reconstructions of the two."""
  run_dir, run = shared, loaded
  first, second = _held_out_midi(tmp_path)
  paths = generate.generate(run_dir, str(tmp_path / 'steps'),
                            mode='interpolate', input_midi_1=first,
                            input_midi_2=second, num_outputs=3,
                            temperature=1e-5, seed=3)
  assert [os.path.basename(p) for p in paths] == [
      f'cat-mel_2bar_small_tiny_{s}.mid'
      for s in ('000', '001', '002', 'interpolation')]
  steps = [note_seq.midi_file_to_note_sequence(p) for p in paths[:3]]
  assert all(21 <= n.pitch <= 108 for s in steps for n in s.notes)
  # The joined file: the steps one after another, 2 bars (4 s) each.
  assert sorted(_notes(paths[3])) == sorted(
      (pitch, round(start + 4.0 * i, 4), round(end + 4.0 * i, 4))
      for i, path in enumerate(paths[:3]) for pitch, start, end in _notes(path))
  ends = [generate.generate(run_dir, str(tmp_path / f'end{k}'),
                            mode='reconstruct', input_midi=source,
                            num_outputs=2, temperature=1e-5, seed=3)[0]
          for k, source in enumerate((first, second))]
  assert _notes(paths[0]) == _notes(ends[0])
  assert _notes(paths[2]) == _notes(ends[1])
  # In the latent space: the ends are the inputs' mu exactly; greedy
  # decodings of the ends are the reconstructions' token for token.
  sequence = readers.read_music_bytes(open(second, 'rb').read(), second)[0][0]
  window = latent.first_window(run, first)
  mu = latent.encode(run, [window, sequence])
  np.testing.assert_allclose(latent.encode(run, [first, second]), mu,
                             atol=1e-6)
  z = latent.interpolation(mu[0], mu[1], 3)
  np.testing.assert_array_equal(z[[0, -1]], mu)
  ids = latent.decode_ids(run, np.concatenate([z, mu]), greedy=True,
                          jit_compile=False)
  np.testing.assert_array_equal(ids[[0, 2]], ids[[3, 4]])


def test_reconstructions_decode_and_the_same_seed_gives_the_same(loaded,
                                                                 tmp_path):
  run = loaded
  training = testing_lib.testdata('pop', 'mr_blue_sky.mid')
  a = run.task.generate(run, str(tmp_path / 'a'), mode='reconstruct',
                        input_midi=training, num_outputs=2, seed=5)
  b = run.task.generate(run, str(tmp_path / 'b'), mode='reconstruct',
                        input_midi=training, num_outputs=2, seed=5)
  assert len(a) == 2
  for path, again in zip(a, b):
    assert open(path, 'rb').read() == open(again, 'rb').read()
    sequence = note_seq.midi_file_to_note_sequence(path)
    assert all(21 <= n.pitch <= 108 for n in sequence.notes)
    assert sequence.total_time <= 4.0 + 1e-6


def test_an_attribute_vector_is_a_difference_of_means_added_to_z(
    loaded, music_vae_dataset, tmp_path, monkeypatch):
  run = loaded
  windows = latent.dataset_windows(music_vae_dataset, 'train', 32)
  assert len(windows) > 10 and all(len(w) == 32 for w in windows)
  vector, summary = latent.attribute_vector(run, windows, 'note_density')
  density = np.array([len(run.codec.decode(w).notes) * 16 / 32
                      for w in windows])
  order = np.argsort(density, kind='stable')
  half = len(windows) // 2
  z = latent.encode_windows(run, windows).astype(np.float64)
  np.testing.assert_allclose(
      vector, z[order[-half:]].mean(0) - z[order[:half]].mean(0), atol=1e-7)
  assert summary['windows_with'] == summary['windows_without'] == half
  assert summary['mean_with'] > summary['mean_without']
  np.testing.assert_allclose(
      latent.difference_of_means([[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0]]),
      [2.0, 2.0])
  # Saved, then added at generation, times its scale.
  path = latent.save_vector(str(tmp_path / 'density.npy'), vector)
  seen = []
  real = latent.decode

  def spy(run, z, **kwargs):
    seen.append(np.array(z))
    return real(run, z, **kwargs)

  monkeypatch.setattr(latent, 'decode', spy)
  source = testing_lib.testdata('pop', 'mr_blue_sky.mid')
  for options in ({}, {'attribute_vector': path, 'attribute_scale': 1.5}):
    run.task.generate(run, str(tmp_path / 'out'), mode='reconstruct',
                      input_midi=source, num_outputs=2, seed=1, **options)
  # (z is float32 of a few units: the sum is rounded to 1e-6 or so.)
  np.testing.assert_allclose(seen[1] - seen[0], np.tile(1.5 * vector, (2, 1)),
                             atol=2e-6)


def test_latent_mistakes_are_usage_errors(loaded, tmp_path):
  run = loaded
  out = str(tmp_path)
  midi = testing_lib.testdata('pop', 'mr_blue_sky.mid')

  def refused(match, **options):
    with pytest.raises(UsageError, match=match):
      run.task.generate(run, out, **options)

  refused('--mode=reconstruct reads --input_midi: give it', mode='reconstruct')
  refused('--mode=interpolate reads --input_midi_2: give it',
          mode='interpolate', input_midi_1=midi, num_outputs=3)
  refused('--input_midi: --mode=sample reads no music', input_midi=midi)
  refused('--input_midi_1: --mode=reconstruct reads --input_midi',
          mode='reconstruct', input_midi=midi, input_midi_1=midi)
  refused('give 2 or more, got 1', mode='interpolate', input_midi_1=midi,
          input_midi_2=midi)
  refused('does not exist', mode='reconstruct', input_midi=out + '/none.mid')
  # Music without a 2-bar melody in 4/4 says why.
  refused("chpn-p7.mid gives no window 'cat-mel_2bar_small_tiny' reads: no "
          'melody track of 2 bars of 16 steps \\(wrong meter; .*'
          'quarters_per_bar=4', mode='reconstruct',
          input_midi=testing_lib.testdata('midi', 'chpn-p7.mid'))
  refused('d8faddb8.mid gives no window .*\\(no melody; .*programs=0-31',
          mode='reconstruct', input_midi=testing_lib.testdata(
              'pop', 'd8faddb8.mid'))
  refused('--attribute_scale scales --attribute_vector', attribute_scale=2.0)
  refused(r'--attribute_vector holds float64 \[3\]; the model\'s latent is '
          r'\[8\]', attribute_vector=np.zeros(3))
  np.save(tmp_path / 'text.npy', np.array(['a'] * 8))
  refused('holds <U1', attribute_vector=str(tmp_path / 'text.npy'))
  with pytest.raises(UsageError, match='--fraction must be in'):
    latent.split_by_value([1.0, 2.0], 0.75)
  with pytest.raises(UsageError, match='no higher than its bottom'):
    latent.attribute_vector(run, [np.zeros(32, np.int32)] * 4, 'note_density')
  # A mode the run's task lacks names its modes and the task that has it.
  config = configs.get_config('performance_with_dynamics_tiny')
  with pytest.raises(UsageError, match=(
      r"--mode=interpolate: the run of config 'performance_with_dynamics_tiny' "
      r'\(family event_lstm, task next_token\) generates with --mode=sample; '
      r'--mode=interpolate is for runs of task variational \(family '
      r'music_vae\)')):
    generate.check_mode(config, tasks.for_config(config), 'interpolate')
  assert tasks.every_mode() == ['sample', 'interpolate', 'reconstruct']


def test_cli_interpolates_and_writes_attribute_vectors(shared, tmp_path):
  run_dir = shared
  first, second = _held_out_midi(tmp_path)
  vector = str(tmp_path / 'v.npy')
  result = testing_lib.run_program(
      'musicrnn.attribute_vector', f'--run_dir={run_dir}',
      f'--output_file={vector}', '--attribute=note_density', '--max_windows=20')
  assert result.returncode == 0, result.stderr
  assert np.load(vector).shape == (8,) and '"windows": 20' in result.stdout
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_dir}',
      f'--output_dir={tmp_path}/steps', '--mode=interpolate',
      f'--input_midi_1={first}', f'--input_midi_2={second}', '--num_outputs=3',
      f'--attribute_vector={vector}', '--attribute_scale=-1', '--seed=1')
  assert result.returncode == 0, result.stderr
  written = [l for l in result.stdout.splitlines() if l.endswith('.mid')]
  assert len(written) == 4 and written[-1].endswith('_interpolation.mid')
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_dir}', f'--output_dir={tmp_path}',
      '--mode=reconstruct')
  assert result.returncode == 2
  assert '--mode=reconstruct reads --input_midi' in result.stderr
