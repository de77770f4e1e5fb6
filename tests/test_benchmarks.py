"""Benchmarks run in smoke mode and write the JSON they promise."""

import json
import math
import os
import subprocess
import sys

import pytest

from musicrnn.pipelines import readers
import testing_lib


def test_convert_benchmark_smoke(tmp_path):
  out = tmp_path / 'convert.json'
  result = subprocess.run(
      [sys.executable, os.path.join('benchmarks', 'convert_benchmark.py'),
       '--smoke', f'--output_json={out}', '--workers=1'],
      capture_output=True, text=True, cwd=testing_lib.REPO_ROOT, timeout=600)
  assert result.returncode == 0, result.stderr
  with open(out) as f:
    results = json.load(f)
  assert results['baseline']['midi_files'] == 4
  (run,) = results['pipeline']
  assert run['files_seen'] == run['converted'] + run['duplicates'] + run['failed']
  assert run['notes'] == results['baseline']['notes'] > 0
  assert run['speed_ratio_vs_baseline'] > 0
  assert 'musicrnn_convert, 1 worker(s)' in result.stdout


def test_generation_benchmark_smoke(tmp_path):
  out = tmp_path / 'generation.json'
  result = subprocess.run(
      [sys.executable, os.path.join('benchmarks', 'generation_benchmark.py'),
       '--smoke', f'--output_json={out}', '--batch_sizes=1,2'],
      capture_output=True, text=True, cwd=testing_lib.REPO_ROOT, timeout=600)
  assert result.returncode == 0, result.stderr
  with open(out) as f:
    results = json.load(f)
  assert [r['batch_size'] for r in results['runs']] == [1, 2]
  for r in results['runs']:
    assert r['compiled_events_per_second'] > 0 and r['naive_events_per_second'] > 0
  assert 'CPU' in results['device'] or 'GPU' in results['device']


def test_cached_step_benchmark_smoke(tmp_path):
  results = _smoke_run('cached_step_benchmark', tmp_path)
  assert [m['family'] for m in results['models']] == ['music_transformer',
                                                      'dilated_cnn']
  for model in results['models']:
    assert [r['position'] for r in model['runs']] == [8, 32]
    for r in model['runs']:
      assert r['cached_seconds_per_token'] > 0
      assert r['recomputed_seconds_per_token'] > 0


def test_relative_attention_benchmark_smoke(tmp_path):
  results = _smoke_run('relative_attention_benchmark', tmp_path)
  assert results['max_abs_difference'] < 1e-4
  assert [r['length'] for r in results['runs']] == [64]
  for r in results['runs']:
    assert r['naive_embedding_tensor_bytes'] == r['length'] * r['skewed_embedding_rows_bytes']
    assert r['skewed_peak_bytes'] >= 0 and r['naive_peak_bytes'] > 0


def test_dataset_benchmark_smoke(tmp_path):
  results = _smoke_run('dataset_benchmark', tmp_path, '--workers=1')
  (run,) = results['pipeline']
  baseline = results['baseline']
  # The same examples and events, made two ways.
  assert run['examples'] == baseline['examples'] > 0
  assert run['events'] == baseline['events']
  assert run['speed_ratio_vs_baseline'] > 0


def test_training_benchmark_smoke(tmp_path):
  results = _smoke_run('training_benchmark', tmp_path,
                       '--families=event_lstm,pianoroll_gan')
  assert [(r['family'], r['size']) for r in results['runs']] == [
      ('event_lstm', 'default'), ('pianoroll_gan', 'default')]
  for r in results['runs']:
    assert r['musicrnn_events_per_second'] > 0
    assert r['baseline_events_per_second'] > 0
    assert r['speed_ratio'] == pytest.approx(
        r['musicrnn_events_per_second'] / r['baseline_events_per_second'], rel=0.01)
  assert 'CPU' in results['device'] or 'GPU' in results['device']


def test_xla_benchmark_smoke(tmp_path):
  # One family keeps it quick; test_compiled_step checks XLA against the
  # graph step for the event models.
  results = _smoke_run('xla_benchmark', tmp_path, '--families=pianoroll_gan')
  (gan,) = results['runs']
  assert gan['family'] == 'pianoroll_gan' and gan['static_length'] == 64
  base, xla = gan['baseline'], gan['xla']
  # Both modes trained on the same batches: the same piano-roll steps,
  # 2 steps of 4 segments of 64.
  assert base['events'] == xla['events'] == 2 * 4 * 64
  assert math.isfinite(base['loss']) and math.isfinite(xla['loss'])
  assert gan['speed_ratio'] == pytest.approx(
      xla['events_per_second'] / base['events_per_second'], rel=0.01)


def test_fuzz_benchmark_smoke(tmp_path):
  results = _smoke_run('fuzz_benchmark', tmp_path)
  fuzzing = results['fuzzing']
  assert fuzzing['inputs_tried'] > 0
  assert fuzzing['uncaught_exceptions'] == 0
  assert sum(fuzzing['outcomes'].values()) == fuzzing['inputs_tried']
  assert set(fuzzing['outcomes']) <= {'converted', *readers.REASONS}
  runs = results['overhead']['runs']
  assert runs['isolated_reader']['speed_ratio_vs_note_seq'] > 0
  assert runs['isolated_reader']['notes'] == runs['note_seq_in_process']['notes'] > 0
  assert results['peak_rss_mb']['this_process'] > 0


def test_mixing_benchmark_smoke(tmp_path):
  results = _smoke_run('mixing_benchmark', tmp_path)
  orders = results['orders']
  assert list(orders) == ['sources', 'project', 'shuffled']
  # The same records and eval split in every order.
  assert len({o['eval_events'] for o in orders.values()}) == 1
  assert results['train_sources'] == 11
  for o in orders.values():
    assert 0 < o['distinct_sources_in_window'] <= results['train_sources']
    assert abs(o['eval_nll'] - o['train_loss_last']) < 1.0
  assert results['project_minus_shuffled_nll'] == pytest.approx(
      orders['project']['eval_nll'] - orders['shuffled']['eval_nll'])


def _smoke_run(benchmark, tmp_path, *args):
  """Runs benchmarks/<benchmark>.py --smoke; returns the JSON it wrote."""
  out = tmp_path / f'{benchmark}.json'
  result = subprocess.run(
      [sys.executable, os.path.join('benchmarks', f'{benchmark}.py'), '--smoke',
       f'--output_json={out}', *args],
      capture_output=True, text=True, cwd=testing_lib.REPO_ROOT, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out) as f:
    return json.load(f)
