"""The piano-roll GAN on the shared trainer and generator: it trains with
finite losses, resumes at its step, evaluates with the MuseGAN metrics and
generates MIDI that note-seq reads back."""

import json
import os
import shutil

import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn.errors import UsageError
from musicrnn.models.pianoroll_gan import PianorollGAN
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import adversarial
from musicrnn.training import trainer
import testing_lib

NAME = 'pianoroll_gan_tiny'


def test_trains_with_finite_losses_and_evaluates(gan_run):
  run_dir, summary = gan_run
  assert [h['step'] for h in summary.history] == [2, 4, 6]
  for record in summary.history:
    for key in ('critic_loss', 'generator_loss', 'gradient_penalty',
                'wasserstein', 'segments_per_second'):
      assert np.isfinite(record[key]), (key, record)
    assert record['generator_learning_rate'] == pytest.approx(1e-3)
  (evaluation,) = summary.evals
  assert evaluation['segments'] == 9
  for part in ('eval_data', 'generated'):
    assert 0 <= evaluation[part]['empty_bar_rate'] <= 1
    assert evaluation[part]['bars'] > 0
  assert evaluation['generated']['bars'] == adversarial.AdversarialEvaluation.NUM_SAMPLES * 4
  saved = json.load(open(os.path.join(run_dir, 'eval_metrics.json')))
  assert saved['step'] == 6 and 'generated' in saved
  assert os.listdir(os.path.join(run_dir, 'train'))


def test_resumed_run_continues_from_its_step(gan_run, gan_dataset, tmp_path):
  run_dir, _ = gan_run
  copy = str(tmp_path / 'run')
  shutil.copytree(run_dir, copy)
  before = run_dir_lib.load_run(copy)
  summary = trainer.train(configs.get_config(NAME), gan_dataset, copy,
                          num_steps=8, seed=1, log_every=2, eval_every=100,
                          checkpoint_every=2, progress=False)
  assert summary.resumed and summary.start_step == 6 and summary.final_step == 8
  after = run_dir_lib.load_run(copy)
  assert after.step == 8
  changed = [np.abs(a.numpy() - b.numpy()).max() > 0 for a, b in
             zip(before.model.generator.weights, after.model.generator.weights)]
  assert any(changed)


def test_gradient_penalty_of_a_linear_critic():
  """A critic with weights of norm 1 has gradient norm 1 everywhere: no
  penalty; scaled by 3, the penalty is (3 - 1)²."""
  gan = PianorollGAN(latent_dim=4, generator_channels=8, critic_channels=8)
  real = tf.random.uniform((2, 64, 84))
  fake = tf.random.uniform((2, 64, 84))
  direction = np.random.default_rng(0).normal(size=(64 * 84,)).astype('float32')
  direction /= np.linalg.norm(direction)

  def linear(scale):
    return lambda rolls, training=True: tf.reshape(rolls, (-1, 64 * 84)) @ \
        (scale * direction[:, None])

  gan.critic = linear(1.0)
  assert float(gan.gradient_penalty(real, fake)) == pytest.approx(0, abs=1e-5)
  gan.critic = linear(3.0)
  assert float(gan.gradient_penalty(real, fake)) == pytest.approx(4.0, rel=1e-4)



def test_each_step_updates_the_critic_as_often_as_configured():
  """The default config's 5 critic updates per generator update (the tiny
  config, which the shared runs train, makes one)."""
  assert configs.get_config('pianoroll_gan').model.critic_updates_per_generator_update == 5
  gan = PianorollGAN(num_steps=16, num_pitches=12, latent_dim=4,
                     generator_channels=4, critic_channels=4,
                     critic_updates_per_generator_update=3)
  gan(gan.example_inputs([]))
  gan.make_optimizers()
  critic_before = [w.numpy() for w in gan.critic.weights]
  values = gan.adversarial_step(tf.random.uniform((2, 16, 12)))
  assert int(gan.critic_optimizer.iterations) == 3
  assert int(gan.generator_optimizer.iterations) == 1
  assert all(np.isfinite(float(v)) for v in values.values())
  assert any(np.abs(a - b.numpy()).max() > 0
             for a, b in zip(critic_before, gan.critic.weights))

def test_generates_midi_of_the_asked_length(gan_run, tmp_path):
  run_dir, _ = gan_run
  paths = generate.generate(run_dir, str(tmp_path), num_outputs=2, num_bars=6,
                            seed=3, render_png=True)
  assert len(paths) == 2
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    assert sequence.notes
    # 6 bars of 4/4 at 120 qpm are 12 s; no note outlasts them.
    assert max(n.end_time for n in sequence.notes) <= 12.0 + 1e-6
    assert os.path.exists(path[:-4] + '.png')
  again = generate.generate(run_dir, str(tmp_path / 'again'), num_outputs=2,
                            num_bars=6, seed=3)
  assert open(again[0], 'rb').read() == open(paths[0], 'rb').read()
  bernoulli = generate.generate(run_dir, str(tmp_path / 'b'), num_bars=4, seed=3,
                                binarize='bernoulli')
  assert note_seq.midi_file_to_note_sequence(bernoulli[0]).notes


def test_latent_walk_keeps_the_noise_standard_normal():
  rng = np.random.default_rng(0)
  z = adversarial.latent_walk(2000, 3, 8, 0.5, rng)
  assert abs(z.std() - 1) < 0.03
  corr = np.corrcoef(z[:, 0].ravel(), z[:, 1].ravel())[0, 1]
  assert corr == pytest.approx(np.sqrt(1 - 0.25), abs=0.03)
  same = adversarial.latent_walk(2, 3, 8, 0.0, rng)
  np.testing.assert_allclose(same[:, 0], same[:, 2])


def test_flags_of_the_other_kind_are_errors(gan_run, tiny_runs, tmp_path):
  run_dir, _ = gan_run
  with pytest.raises(UsageError, match='--primer_pitches'):
    generate.generate(run_dir, str(tmp_path), primer_pitches=[60])
  with pytest.raises(UsageError, match='binarize'):
    generate.generate(run_dir, str(tmp_path), binarize='round')
  with pytest.raises(UsageError, match='num_bars'):
    generate.generate(tiny_runs['performance_with_dynamics_tiny'], str(tmp_path),
                      num_bars=8)


def test_cli_generates_and_evaluates(gan_run, tmp_path):
  run_dir, _ = gan_run
  out = tmp_path / 'out'
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_dir}', f'--output_dir={out}',
      '--num_outputs=1', '--num_bars=8', '--seed=2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert len(list(out.glob('*.mid'))) == 1
  metrics_json = tmp_path / 'metrics.json'
  result = testing_lib.run_program(
      'musicrnn.evaluate', f'--run_dir={run_dir}', f'--output_json={metrics_json}')
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.load(open(metrics_json))
  assert metrics['segments'] == 9 and 'generated' in metrics
  assert metrics['generated']['bars'] == adversarial.AdversarialEvaluation.NUM_SAMPLES * 4
