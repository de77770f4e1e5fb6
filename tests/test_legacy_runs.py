"""What musicrnn wrote before tasks owned their families (commit 0c14287;
tests/testdata/README.md says how) loads unchanged: a run folder resumes and
generates, .mrnn files unpack to the same model, a SavedModel serves."""

import json
import os
import shutil

import note_seq
import numpy as np
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn.runs import generate
from musicrnn.runs import model_file
from musicrnn.runs import run_dir as run_dir_lib
import testing_lib

LEGACY = testing_lib.testdata('legacy')
CONFIG = 'multiconditioned_performance_with_dynamics_tiny'


def _expected():
  return np.load(os.path.join(LEGACY, 'expected.npz'))


def _copy(tmp_path, name):
  return shutil.copytree(os.path.join(LEGACY, name), tmp_path / name)


def test_a_legacy_run_folder_gives_its_logits_resumes_and_generates(tmp_path):
  run_dir = str(_copy(tmp_path, 'run'))
  with open(os.path.join(run_dir, 'config.json')) as f:
    saved = json.load(f)['config']
  assert saved['train']['objective'] == 'next_token'   # written before tasks
  run = run_dir_lib.load_run(run_dir)
  assert run.step == 2 and run.task.name == 'next_token'
  expected = _expected()
  tokens = expected['event_tokens']
  logits = run.model({'tokens': tokens,
                      'note_density': np.full(tokens.shape, 3, np.int32),
                      'pitch_histogram': np.full(tokens.shape + (12,), 1 / 12,
                                                 np.float32)}).numpy()
  np.testing.assert_allclose(logits[0], expected['event_logits'], atol=1e-5)
  # Today's config of the same name is the run's: training would resume.
  config = configs.get_config(CONFIG)
  assert run_dir_lib.prepare(run_dir, config, run.codec.spec(),
                             {'config_name': CONFIG}) is True
  paths = generate.generate(run_dir, str(tmp_path / 'out'), num_outputs=2,
                            num_steps=30, seed=1, notes_per_second=4.0)
  assert [note_seq.midi_file_to_note_sequence(p).notes for p in paths]


def test_legacy_model_files_unpack_to_the_same_models(tmp_path):
  expected = _expected()
  unpacked = model_file.unpack(os.path.join(LEGACY, 'pianoroll_gan.mrnn'),
                               str(tmp_path / 'gan'))
  gan = run_dir_lib.load_run(unpacked)
  assert gan.task.name == 'adversarial'
  assert 'objective' not in gan.config.model   # retired with its one value
  np.testing.assert_allclose(gan.model({'noise': expected['gan_noise']}).numpy(),
                             expected['gan_output'], atol=1e-5)
  events = run_dir_lib.load_run(model_file.unpack(
      os.path.join(LEGACY, 'model.mrnn'), str(tmp_path / 'events')))
  assert events.step == 2 and events.config.name == CONFIG
  paths = generate.generate(unpacked, str(tmp_path / 'rolls'),
                            num_bars=2, seed=1)
  assert len(paths) == 1
  # Today's config of the same name takes its weights (--init_from).
  for name, config_name in (('pianoroll_gan.mrnn', 'pianoroll_gan_tiny'),
                            ('model.mrnn', CONFIG)):
    config = configs.get_config(config_name)
    model_file.check_compatible(
        os.path.join(LEGACY, name), config,
        encodings.codec_from_config(config).spec())


def test_legacy_lstm_model_files_give_their_logits(tmp_path):
  """The piano-roll and note LSTMs were event LSTM subclasses then; their
  weights load into today's classes (the recurrent stack) as they were."""
  expected = np.load(os.path.join(LEGACY, 'expected_lstm.npz'))
  frames = run_dir_lib.load_run(model_file.unpack(
      os.path.join(LEGACY, 'pianoroll_lstm_tiny.mrnn'), str(tmp_path / 'frames')))
  assert frames.task.name == 'multi_label'
  assert 'embedding_size' not in frames.config.model   # retired at 0
  np.testing.assert_allclose(
      frames.model({'pianoroll': expected['frame_inputs']}).numpy(),
      expected['frame_logits'], atol=1e-5)
  config = configs.get_config('pianoroll_lstm_tiny')
  model_file.check_compatible(os.path.join(LEGACY, 'pianoroll_lstm_tiny.mrnn'),
                              config, encodings.codec_from_config(config).spec())
  notes = run_dir_lib.load_run(model_file.unpack(
      os.path.join(LEGACY, 'note_lstm_tiny.mrnn'), str(tmp_path / 'notes')))
  assert notes.task.name == 'multi_head'
  np.testing.assert_allclose(
      notes.model({'tokens': expected['note_tokens']}).numpy(),
      expected['note_logits'], atol=1e-5)


def test_a_legacy_saved_model_serves_and_its_asset_decodes(tmp_path):
  loaded = tf.saved_model.load(str(_copy(tmp_path, 'saved_model')))
  with open(os.path.join(LEGACY, 'saved_model', 'assets',
                         'musicrnn_codec.json')) as f:
    asset = json.load(f)
  codec = encodings.codec.codec_from_spec(asset['encoding'])
  controls = [encodings.controls.control_from_spec(c['spec'])
              for c in asset['controls']]
  assert [c['input'] for c in asset['controls']] == [
      'notes_per_second', 'pitch_class_histogram']
  assert [control.size for control in controls] == [8, 12]
  tokens = loaded.signatures['generate'](
      primer=tf.constant([codec.empty_primer()], tf.int32),
      num_steps=tf.constant(40), temperature=tf.constant(1.0),
      top_k=tf.constant(0), top_p=tf.constant(1.0),
      seed=tf.constant(1, tf.int64),
      notes_per_second=tf.constant([4.0]),
      pitch_class_histogram=tf.ones([1, 12]))['tokens'].numpy()
  assert tokens.shape == (1, 41)
  assert isinstance(codec.decode(tokens[0]), note_seq.NoteSequence)
