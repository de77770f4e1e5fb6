"""musicrnn_evaluate: NLL of a run, as JSON."""

import json
import math

import pytest

from musicrnn.errors import UsageError
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import sources
import testing_lib

PLAIN = 'performance_with_dynamics_tiny'


def test_evaluate_run_matches_the_trainers_last_eval(tiny_runs):
  metrics = evaluate_lib.evaluate_run(tiny_runs[PLAIN])
  with open(f'{tiny_runs[PLAIN]}/eval_metrics.json') as f:
    trained = json.load(f)
  assert metrics['step'] == trained['step'] == 60
  assert metrics['events'] == trained['events'] > 0
  assert metrics['nll'] == pytest.approx(trained['nll'], rel=1e-5)
  assert metrics['perplexity'] == pytest.approx(math.exp(metrics['nll']))
  assert 0 <= metrics['accuracy'] <= 1


def test_other_encoding_is_refused(tiny_runs, tiny_datasets):
  with pytest.raises(UsageError, match='Build a dataset'):
    evaluate_lib.evaluate_run(tiny_runs[PLAIN], tiny_datasets['polyphony_tiny'])


def test_any_cut_of_the_music_scores_a_run(tiny_runs, tiny_datasets):
  """A run of 30 s chunks is scored on whole-piece windows (the transformer's
  data), the same encoding cut otherwise; a control window that means
  something else is refused."""
  windows = tiny_datasets['music_transformer_tiny']
  metrics = evaluate_lib.evaluate_run(tiny_runs[PLAIN], windows)
  assert metrics['events'] > 0 and math.isfinite(metrics['nll'])
  multi = 'multiconditioned_performance_with_dynamics_tiny'
  config, _ = run_dir_lib.load(tiny_runs[multi])
  config.controls.note_density_window_seconds = 5.0
  with pytest.raises(UsageError, match='note_density_window_seconds=3.0'):
    description_lib.check_encoding(config, sources.open_source(
        tiny_datasets[multi]).description, 'data', training=False)


def test_cli_writes_json(tiny_runs, tmp_path):
  out = tmp_path / 'nll.json'
  result = testing_lib.run_program(
      'musicrnn.evaluate', f'--run_dir={tiny_runs[PLAIN]}', f'--output_json={out}',
      '--split=train', '--max_batches=2')
  assert result.returncode == 0, result.stderr
  metrics = json.loads(out.read_text())
  assert metrics['split'] == 'train' and metrics['batches'] == 2
  assert json.loads(result.stdout)['nll'] == metrics['nll']
  # The trainer's name for the data: the flag meant is suggested.
  result = testing_lib.run_program(
      'musicrnn.evaluate', f'--run_dir={tiny_runs[PLAIN]}', f'--eval_data={tmp_path}')
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].endswith(
      'unknown flag --eval_data; this program calls it --data')
