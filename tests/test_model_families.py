"""Every trainable family on the shared trainer and generator: the Polyphony
RNN, the Music Transformer and the dilated CNN train on the bundled corpus
(loss falls), reload from their run directory, step incrementally exactly as
their full pass, and generate MIDI that note-seq reads back."""

import json
import os
import shutil

import note_seq
import numpy as np
import pytest

from musicrnn.encodings import polyphony
from musicrnn.errors import UsageError
from musicrnn.generation import primers
from musicrnn.generation import sampler
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import optimization
import testing_lib

# {config: the tiny dataset it trains on}; conftest.py's family_runs gives
# {config: (run_dir, TrainSummary)} after 60 steps.
FAMILIES = testing_lib.FAMILIES


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_tiny_config_trains_and_loss_falls(name, family_runs):
  run_dir, summary = family_runs[name]
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6 and all(np.isfinite(losses))
  assert losses[-1] < losses[0] - 0.3, losses
  assert summary.evals and summary.evals[-1]['nll'] < losses[0]
  saved = json.load(open(os.path.join(run_dir, 'config.json')))
  assert saved['config']['name'] == name


def test_a_crop_run_scores_fixed_windows_only(family_runs):
  """The transformer trained on random crops: its eval split (fixed windows)
  scores it; the train split holds whole pieces and is refused."""
  run_dir, summary = family_runs['music_transformer_tiny']
  metrics = evaluate_lib.evaluate_run(run_dir)
  assert metrics['nll'] == pytest.approx(summary.evals[-1]['nll'], rel=1e-4)
  with pytest.raises(UsageError, match='holds whole performances'):
    evaluate_lib.evaluate_run(run_dir, split='train')


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_reloaded_run_steps_as_its_full_pass(name, family_runs, tiny_datasets):
  run_dir, summary = family_runs[name]
  run = run_dir_lib.load_run(run_dir)
  assert run.step == summary.final_step == 60
  assert type(run.model).__name__ == {'polyphony_tiny': 'EventLSTM',
                                      'music_transformer_tiny': 'MusicTransformer',
                                      'dilated_cnn_tiny': 'DilatedCNN'}[name]
  # The reloaded weights are the trained ones: the eval NLL is the trainer's.
  metrics = run.task.evaluation(run.model, run.config).evaluate(
      tiny_datasets[FAMILIES[name]], batch_size=4)
  assert metrics['nll'] == pytest.approx(summary.evals[-1]['nll'], rel=1e-4)
  tokens = np.random.default_rng(0).integers(
      0, run.codec.vocab_size, size=(2, 40)).astype(np.int32)
  full = run.model({'tokens': tokens}).numpy()
  states = run.model.initial_state(2, 40)
  for t in range(40):
    logits, states = run.model.step({'tokens': tokens[:, t]}, states)
    np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4)


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_reordered_states_step_as_the_reordered_full_pass(name, family_runs):
  """Beam search's `reorder_states`, compiled as the sampler compiles it,
  then steps: the logits are the full pass over the reordered histories,
  across the transformer's cache chunks (shared, not copied) and their
  boundaries. The steps are traced without XLA: a compiled step called from
  Python compiles again at every position (0.8 s each, 116 s for this
  test); compiled steps run in the sampler's loop, which
  test_compiled_sampler_equals_the_naive_loop checks."""
  import tensorflow as tf
  model = run_dir_lib.load_run(family_runs[name][0]).model
  length = 150
  tokens = np.random.default_rng(1).integers(
      0, model.vocab_size, size=(3, length)).astype(np.int32)
  step = tf.function(lambda t, s: model.step({'tokens': t}, s))
  reorder = tf.function(model.reorder_states, jit_compile=True)
  reorders = {31: [2, 2, 0], 64: [1, 0, 1], 100: [0, 0, 2], 128: [2, 1, 1],
              140: [1, 2, 0]}
  states = model.initial_state(3, length)
  history = tokens[:, :0]
  for t in range(length):
    if t in reorders:
      states = reorder(states, tf.constant(reorders[t], tf.int32))
      history = history[reorders[t]]
    history = np.concatenate([history, tokens[:, t:t + 1]], axis=1)
    logits, states = step(tokens[:, t], states)
    if t in reorders or t == length - 1:
      full = model({'tokens': history}).numpy()[:, -1]
      np.testing.assert_allclose(logits.numpy(), full, atol=1e-4)


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_generates_midi_note_seq_reads(name, family_runs, tmp_path):
  run_dir, _ = family_runs[name]
  paths = generate.generate(run_dir, str(tmp_path), num_outputs=2, num_steps=150,
                            primer_pitches=[60, 64, 67], seed=3)
  assert len(paths) == 2
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    assert len(sequence.notes) >= 3
    first = sorted((n.start_time, n.pitch) for n in sequence.notes)[:3]
    assert sorted(p for _, p in first) == [60, 64, 67]
  again = generate.generate(run_dir, str(tmp_path / 'again'), num_outputs=2,
                            num_steps=150, primer_pitches=[60, 64, 67], seed=3)
  assert open(again[0], 'rb').read() == open(paths[0], 'rb').read()


@pytest.mark.parametrize('name', ['music_transformer_tiny', 'dilated_cnn_tiny'])
def test_compiled_sampler_equals_the_naive_loop(name, family_runs):
  """Greedy decoding (top_k=1) through the cache or queues is the argmax
  continuation the full forward pass gives."""
  run = run_dir_lib.load_run(family_runs[name][0])
  primer = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
  fast = sampler.sample(run.model, primer, 25, top_k=1, seed=0)
  slow = sampler.sample_naively(run.model, primer, 25, top_k=1, seed=0)
  np.testing.assert_array_equal(fast, slow)
  beams = sampler.beam_search(run.model, primer, 10, beam_size=2,
                              branch_factor=2, seed=0)
  assert beams.shape == (2, 13)


def test_polyphony_primer_is_continued_and_never_ended(family_runs):
  run = run_dir_lib.load_run(family_runs['polyphony_tiny'][0])
  primer = primers.primer_events(run.codec, primer_pitches=[60, 64, 67])
  assert primer[0] == polyphony.START and polyphony.END not in primer
  # Four 16th-note steps of a held triad.
  assert list(primer).count(polyphony.STEP_END) == 4
  tokens = sampler.sample(run.model, np.tile(primer, (3, 1)), 200, seed=0,
                          temperature=3.0, banned_ids=(polyphony.END,))
  assert polyphony.END not in tokens[:, len(primer):]


def test_cli_trains_and_generates_a_transformer(family_runs, tiny_datasets, tmp_path):
  """musicrnn_train and musicrnn_generate drive a new family with no new
  scripts; a warm-up schedule continues across a resume."""
  run_dir = str(tmp_path / 'run')
  shutil.copytree(family_runs['music_transformer_tiny'][0], run_dir)
  data = tiny_datasets['music_transformer_tiny']
  # XLA's compile time is paid by each run; family_runs trains with XLA.
  result = testing_lib.run_program(
      'musicrnn.train', '--config=music_transformer_tiny', f'--train_data={data}',
      f'--run_dir={run_dir}', '--log_every=5', '--checkpoint_every=5',
      '--eval_every=100', '--seed=1', '--jit_compile=off', '--num_steps=65',
      # The learning rate family_runs trained at (testing_lib.tiny_config).
      '--hparams=learning_rate=1e-2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'steps 60 -> 65 (resumed)' in result.stdout
  # A warm-up over 10 steps, then rsqrt decay: the resumed run's rate is
  # the schedule's at step 65, not at 5 (a schedule started again).
  train_config = testing_lib.tiny_config('music_transformer_tiny').train
  schedule = optimization.learning_rate(train_config)
  assert train_config.warmup_steps == 10
  assert float(schedule(4)) == pytest.approx(train_config.learning_rate / 2)
  (rate,) = [float(line.split(' lr ')[1].split()[0])
             for line in result.stderr.splitlines() if ' lr ' in line]
  assert rate == pytest.approx(float(schedule(65)), rel=0.05)
  assert rate != pytest.approx(float(schedule(5)), rel=0.05)
  out = tmp_path / 'out'
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_dir}', f'--output_dir={out}',
      '--num_outputs=1', '--num_steps=60', '--primer_pitches=60,67', '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  (midi,) = [p for p in os.listdir(out) if p.endswith('.mid')]
  assert note_seq.midi_file_to_note_sequence(str(out / midi)).notes
