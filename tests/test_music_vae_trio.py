"""Magenta's hierdec-trio_16bar MusicVAE: melody, bass and drums together.

The trio encoding's ids are Magenta's converters' (note-seq's melody and
drum one-hot encodings, packed in one token), decoded as its
TrioConverter.from_tensors writes them; the model is Magenta's
SplitMultiOutLstmDecoder under the hierarchical decoder (each part its own
decoder, reading its own part and the conductor's output), its loss the
parts' summed; the tiny config builds a dataset of the fixtures' trios on
Beam, trains with its loss falling and generates MIDI of three
instruments. (The windows themselves: tests/test_music_vae_data.py.)"""

import json
import os

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import tasks
from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import trio
from musicrnn.generation import sampler
from musicrnn.models import music_vae
from musicrnn.models import protocols
from musicrnn.pipelines import dataset
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import variational
from musicrnn.training import trainer
import testing_lib

NAME = 'hierdec-trio_16bar'
TINY = 'hierdec-trio_16bar_tiny'
PARTS = (90, 90, 512)
# How the tiny run trains: six loss records, one evaluation.
RUN = dict(num_steps=30, seed=1, log_every=5, eval_every=30,
           checkpoint_every=30)


def _model(name=TINY, seed=0, **model):
  config = configs.get_config(name)
  with config.unlocked():
    config.model.update(model)
  codec = encodings.codec_from_config(config)
  keras.utils.set_random_seed(seed)
  return models.build_model(config, codec, []), codec


def _random_trios(codec, rng, batch, steps):
  return codec.pack(*(rng.integers(0, size, (batch, steps))
                      for size in codec.part_sizes))


def test_config_is_magentas_under_magentas_name():
  """configs.py's hierdec-trio_16bar: the hierarchical decoder over three
  categorical decoders of 90, 90 and 512 ids, 16 bars of 16 steps, z 512,
  encoder 2048x2, decoder 1024x2, free bits 256, max beta 0.2, batch 256,
  no augmentation; its data TrioConverter's (16-bar windows, gaps of 2
  bars, 1024 bars at most)."""
  config = configs.get_config(NAME)
  assert f'{NAME}_tiny' in configs.names()
  assert config.family == 'music_vae'
  assert tasks.for_config(config) is tasks.TASKS['variational']
  model, train, data = config.model, config.train, config.data
  assert (model.z_size, tuple(model.enc_rnn_size),
          tuple(model.dec_rnn_size)) == (512, (2048, 2048), (1024, 1024))
  assert (model.decoder, tuple(model.level_lengths), model.max_seq_len) == (
      'hierarchical', (16, 16), 256)
  assert (train.free_bits, train.max_beta, train.beta_rate) == (256, 0.2, 0)
  assert (train.sampling_schedule, train.sampling_rate) == ('constant', 0)
  assert (train.batch_size, train.learning_rate, train.decay_rate,
          train.min_learning_rate, train.clip_norm) == (256, 1e-3, 0.9999,
                                                        1e-5, 1.0)
  assert model.dropout_rate == 0.0
  assert (data.extraction.window_bars, data.extraction.gap_bars,
          data.extraction.max_steps) == (16, 2, 1024 * 16)
  assert tuple(data.transpositions) == (0,)
  codec = encodings.codec_from_config(config)
  assert codec.part_sizes == PARTS and codec.vocab_size == 90 * 90 * 512
  assert codec_lib.codec_from_spec(codec.spec()) == codec
  assert music_vae.MusicVAE.data_arguments(codec, []) == {
      'vocab_size': 90 * 90 * 512, 'part_sizes': PARTS}
  tiny = configs.get_config(TINY)
  assert tuple(tiny.model.level_lengths) == (2, 16)
  assert tiny.data.extraction.window_bars == 2


def test_trio_ids_are_magentas_converters_and_decode_as_its_from_tensors():
  """The parts' ids are note-seq's MelodyOneHotEncoding(21, 109) and
  MultiDrumOneHotEncoding, packed (melody * 90 + bass) * 512 + drums;
  decoding writes the melody on instrument 0, the bass on instrument 1
  (program 33), the drums on instrument 9, velocity 80; encoding that
  gives the ids back."""
  codec = trio.TrioCodec()
  melody_encoding = note_seq.MelodyOneHotEncoding(21, 109)
  drum_encoding = note_seq.MultiDrumOneHotEncoding()
  assert codec.part_sizes == (melody_encoding.num_classes,
                              melody_encoding.num_classes,
                              drum_encoding.num_classes)
  melody = [67, -2, -2, 69, -1, -2, 71, -2, 72, -2, -2, -2, -1, -2, 60, -2]
  bass = [36, -2, -2, -2, -2, -2, -2, -2, 43, -2, -2, -2, -2, -2, -2, -1]
  drums = [frozenset(s) for s in ([36, 42], [], [42], [], [38, 42], [], [42],
                                  [46], [36], [], [42], [36], [38], [], [51],
                                  [49])]
  ids = codec.pack([melody_encoding.encode_event(e) for e in melody],
                   [melody_encoding.encode_event(e) for e in bass],
                   [drum_encoding.encode_event(e) for e in drums])
  assert [tuple(p) for p in codec.split(ids)] == [
      tuple(melody_encoding.encode_event(e) for e in melody),
      tuple(melody_encoding.encode_event(e) for e in bass),
      tuple(drum_encoding.encode_event(e) for e in drums)]
  sequence = codec.decode(ids)
  parts = {(n.instrument, n.program, n.is_drum) for n in sequence.notes}
  assert parts == {(0, 0, False), (1, 33, False), (9, 0, True)}
  assert {n.velocity for n in sequence.notes} == {80}
  # note-seq's own decodings of each part.
  expected_melody = note_seq.Melody(melody).to_sequence(velocity=80)
  ours = [(n.pitch, n.start_time, n.end_time) for n in sequence.notes
          if n.instrument == 0]
  assert ours == [(n.pitch, n.start_time, n.end_time)
                  for n in expected_melody.notes]
  np.testing.assert_array_equal(codec.encode(sequence), ids)
  with pytest.raises(ValueError, match='trio ids'):
    codec.split([codec.vocab_size])


def test_every_part_has_its_own_decoder_reading_its_own_part():
  """The encoder reads the parts' one-hots side by side; each part's
  logits depend on the tokens before only through its own part (Magenta's
  SplitMultiOutLstmDecoder), and are its own decoder's; the decoder a step
  at a time gives the teacher-forced logits; the loss is the parts'
  summed, the accuracy their mean."""
  model, codec = _model()
  assert isinstance(model, protocols.LatentVariableModel)
  assert model.part_sizes == PARTS
  rng = np.random.default_rng(2)
  ids = _random_trios(codec, rng, 3, 32)
  # pylint: disable-next=protected-access
  features = np.asarray(model._encoder_features(tf.constant(ids)))
  melody, bass, drums = codec.split(ids)
  np.testing.assert_array_equal(features, np.concatenate(
      [np.eye(90)[melody], np.eye(90)[bass], np.eye(512)[drums]], axis=-1))
  assert model({'tokens': ids}).shape == (3, 32, 692)
  z = rng.normal(size=(3, 8)).astype(np.float32) * 3
  full = np.asarray(model.decode(z, {'tokens': ids}))
  # Other bass and drums: the melody's logits stay.
  other = codec.pack(melody, *(rng.integers(0, n, (3, 32)) for n in PARTS[1:]))
  changed = np.asarray(model.decode(z, {'tokens': other}))
  np.testing.assert_allclose(changed[..., :90], full[..., :90], atol=1e-6)
  assert np.abs(changed[..., 90:] - full[..., 90:]).max() > 1e-4
  # A step at a time.
  testing_lib.check_decoder_steps(model, z, ids, full)
  # The loss: each part's NLL, summed; the accuracy: the parts' mean.
  mask = np.ones((3, 32), np.float32)
  r_loss, correct, _ = variational.reconstruction(model, tf.constant(ids),
                                                  mask, z)
  logs = [full[..., :90], full[..., 90:180], full[..., 180:]]
  nll = sum(-np.take_along_axis(
      part - np.log(np.exp(part).sum(-1, keepdims=True)), target[..., None],
      -1)[..., 0] for part, target in zip(logs, (melody, bass, drums)))
  np.testing.assert_allclose(np.asarray(r_loss), nll.sum(1), rtol=1e-4)
  hits = sum((part.argmax(-1) == target) for part, target in
             zip(logs, (melody, bass, drums))) / 3
  np.testing.assert_allclose(np.asarray(correct), hits.sum(1), rtol=1e-5)


def test_a_flat_decoder_of_several_parts_steps_as_its_pass(tmp_path):
  model, codec = _model(decoder='flat', level_lengths=(), max_seq_len=32)
  rng = np.random.default_rng(4)
  ids = _random_trios(codec, rng, 2, 20)
  z = rng.normal(size=(2, 8)).astype(np.float32)
  full = np.asarray(model.decode(z, {'tokens': ids}))
  states = model.decoder_initial_state(z)
  previous = np.full(2, -1, np.int32)
  for t in range(20):
    logits, states = model.decoder_step(previous, states, t)
    np.testing.assert_allclose(np.asarray(logits), full[:, t], atol=1e-5)
    previous = ids[:, t]
  testing_lib.check_model_round_trips(
      model, lambda: _model(decoder='flat', level_lengths=(), max_seq_len=32,
                            seed=7)[0], {'tokens': ids}, tmp_path)


def test_the_compiled_loop_draws_every_part(tmp_path):
  """Fed the data, the loop's logits are the teacher-forced pass's; greedy,
  each part's draw is that part's likeliest id; draws are packed tokens of
  the three parts; the model round-trips (config, .keras, checkpoint) with
  its parts, and a model of one part saves no part_sizes."""
  model, codec = _model()
  rng = np.random.default_rng(5)
  ids = _random_trios(codec, rng, 3, 32)
  z = rng.normal(size=(3, 8)).astype(np.float32) * 3
  full = np.asarray(model.decode(z, {'tokens': ids}))
  loop = tf.function(lambda p: sampler.latent_loop(
      model, z, 32, tf.constant([1, 2], tf.int64), targets=ids,
      sampling_probability=p))
  _, forced = loop(tf.constant(0.0))
  np.testing.assert_allclose(np.asarray(forced), full, atol=1e-5)
  greedy = sampler.sample_latent(model, z, 32, greedy=True, jit_compile=False)
  logits = np.asarray(model.decode(z, {'tokens': greedy}))
  for part, (start, end) in zip(codec.split(greedy),
                                ((0, 90), (90, 180), (180, 692))):
    np.testing.assert_array_equal(np.argmax(logits[..., start:end], -1), part)
  # (Not XLA-compiled: the draws are the same; compiling costs 10 s here.)
  drawn = sampler.sample_latent(model, z, 32, seed=3, jit_compile=False)
  assert drawn.shape == (3, 32) and drawn.min() >= 0
  assert drawn.max() < codec.vocab_size
  np.testing.assert_array_equal(
      sampler.sample_latent(model, z, 32, seed=3, jit_compile=False), drawn)
  testing_lib.check_model_round_trips(model, lambda: _model(seed=7)[0],
                                      {'tokens': ids}, tmp_path)
  one_part = music_vae.MusicVAE(vocab_size=90)
  assert 'part_sizes' not in one_part.get_config()
  with pytest.raises(ValueError, match='multiply'):
    music_vae.MusicVAE(vocab_size=90 * 90, part_sizes=(90, 91))
  with pytest.raises(ValueError, match='one-hots'):
    music_vae.MusicVAE(vocab_size=512 * 512, part_sizes=(512, 512),
                       encoder_input='drum_roll')


def test_trio_dataset_counts_why_sequences_gave_nothing(trio_dataset):
  """The Beam-built tiny dataset: 2-bar windows of the pop fixture's trios
  and the synthetic ones, in both splits, and every sequence without a
  trio counted with its reason."""
  with open(os.path.join(trio_dataset, dataset.STATS_JSON)) as f:
    stats = json.load(f)
  with open(os.path.join(trio_dataset, dataset.DATASET_JSON)) as f:
    description = json.load(f)
  assert description['encoding']['name'] == 'trio'
  for split in ('train', 'eval'):
    assert stats[f'examples_{split}'] > 0
    assert stats[f'events_{split}'] == 32 * stats[f'examples_{split}']
  # Chopin and the karaoke file have no bass, the second pop file no
  # melody instrument (nor bass), the Chopin in 3/4 no 4/4 bar.
  assert stats['sequences_without_examples_no_bass_instrument'] >= 2
  assert stats['sequences_without_examples_no_melody_instrument'] >= 1
  assert stats['sequences_without_examples_wrong_meter'] >= 1
  assert stats['windows_duplicate'] > 0


@pytest.fixture(scope='module')
def trained(trio_dataset, tmp_path_factory):
  """(run folder, TrainSummary) of hierdec-trio_16bar_tiny after 30 steps
  on the trio dataset."""
  run_dir = str(tmp_path_factory.mktemp('music_vae_trio') / 'run')
  summary = trainer.train(testing_lib.tiny_config(TINY), trio_dataset,
                          run_dir, progress=False, **RUN)
  return run_dir, summary


def test_tiny_trio_trains_on_the_fixtures_and_loss_falls(trained,
                                                         trio_dataset):
  run_dir, summary = trained
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6 and all(np.isfinite(losses))
  assert losses[-1] < 0.6 * losses[0], losses
  metrics = summary.evals[-1]
  for key in ('nll_per_step', 'accuracy', 'sampled_nll_per_step',
              'sampled_accuracy', 'r_loss', 'kl', 'elbo', 'nll_bound'):
    assert np.isfinite(metrics[key]), key
  assert 0 < metrics['accuracy'] < 1
  run = run_dir_lib.load_run(run_dir)
  assert run.model.part_sizes == PARTS
  again = run.task.evaluation(run.model, run.config).evaluate(
      trio_dataset, batch_size=4, seed=RUN['seed'])
  assert again['nll_bound'] == pytest.approx(metrics['nll_bound'], rel=1e-4)


def test_trio_samples_decode_to_midi_of_three_instruments(trained, tmp_path):
  run_dir, _ = trained
  paths = generate.generate(run_dir, str(tmp_path / 'a'), num_outputs=3,
                            seed=4)
  assert len(paths) == 3
  parts = set()
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    # Two 4/4 bars of sixteenths at 120 qpm.
    assert sequence.total_time <= 4.0 + 1e-6
    for note in sequence.notes:
      # A MIDI file keeps programs and the drum channel (the reader
      # numbers instruments afresh).
      part = (note.program, note.is_drum)
      assert part in {(0, False), (33, False), (0, True)}, part
      if not note.is_drum:
        assert 21 <= note.pitch <= 108
      parts.add(part)
  assert len(parts) == 3, parts
