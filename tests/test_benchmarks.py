"""Benchmarks run in smoke mode, write the JSON they promise, and their
figures say what they are for (the compiled sampler beats the naive loop,
skewing needs less memory than the naive form, the cache beats recomputing).

Each runs in this process (its main, with its own flags; see
testing_lib.run_program); the relative-attention benchmark measures each
form's peak memory in a fresh process of its own."""

import json
import math
import sys

import pytest

from musicrnn.pipelines import readers
import testing_lib


def test_convert_benchmark_smoke(tmp_path):
  results, result = _smoke_run('convert_benchmark', tmp_path, '--workers=1')
  baseline = results['baseline']
  assert baseline['midi_files'] == 4
  assert [r['midi_reader'] for r in results['pipeline']] == ['symusic', 'note_seq']
  for run in results['pipeline']:
    assert run['files_seen'] == run['converted'] + run['duplicates'] + run['failed']
    # The same notes read every way; the ratio is of the two rates.
    assert run['notes'] == baseline['notes'] > 0
    assert run['speed_ratio_vs_baseline'] == pytest.approx(
        run['files_per_second'] / baseline['files_per_second'], rel=0.02, abs=1e-3)
  assert 'musicrnn_convert, symusic, 1 worker(s)' in result.stdout


def test_convert_benchmark_compares_the_readers_file_by_file(tmp_path):
  results, result = _smoke_run(
      'convert_benchmark', tmp_path, '--compare_readers',
      f'--input_dir={testing_lib.TESTDATA}', smoke=False)
  corpora = results['corpora']
  assert sorted(corpora) == ['broken', 'midi', 'pop']
  for found in corpora.values():
    assert found['different'] == 0 and found['different_files'] == []
    assert found['midi_files'] == (
        found['equal'] + sum(found['read_by_note_seq'].values())
        + found['both_fail'] + found['only_symusic_reads'])
  assert corpora['midi']['equal'] == 4
  # mr_blue_sky.mid holds a note-on and a note-off of one pitch on one tick.
  assert corpora['pop']['read_by_note_seq'] == {'overlapping_notes_of_one_pitch': 1}
  assert corpora['pop']['fallback_rate'] == 0.5
  assert corpora['broken']['both_fail'] == 4
  assert 'pop: ' in result.stdout


def test_generation_benchmark_smoke(tmp_path):
  results, _ = _smoke_run('generation_benchmark', tmp_path, '--batch_sizes=1,2')
  assert [r['batch_size'] for r in results['runs']] == [1, 2]
  for r in results['runs']:
    # The figure's point: one compiled loop beats a Python call per event.
    assert r['compiled_events_per_second'] > r['naive_events_per_second'] > 0
    assert r['speed_ratio'] > 1
  assert 'CPU' in results['device'] or 'GPU' in results['device']


def test_generation_benchmark_without_baseline_smoke(tmp_path):
  results, _ = _smoke_run('generation_benchmark', tmp_path, '--batch_sizes=1',
                          '--nonaive_baseline')
  (run,) = results['runs']
  assert 'naive_seconds' not in run and 'speed_ratio' not in run
  assert run['compiled_seconds_per_step'] == pytest.approx(
      run['compiled_seconds'] / results['num_steps'], rel=0.01)


def test_generation_benchmark_beam_smoke(tmp_path):
  results, _ = _smoke_run('generation_benchmark', tmp_path, '--batch_sizes=2',
                          '--beam_size=2', '--branch_factor=2',
                          '--steps_per_iteration=3')
  assert results['beam'] == {'beam_size': 2, 'branch_factor': 2,
                             'steps_per_iteration': 3}
  (run,) = results['runs']
  assert run['batch_size'] == 2
  assert run['compiled_events_per_second'] == pytest.approx(
      2 * results['num_steps'] / run['compiled_seconds'], rel=0.01)
  assert run['speed_ratio'] == pytest.approx(
      run['naive_seconds'] / run['compiled_seconds'], rel=0.05)


def test_cached_step_benchmark_smoke(tmp_path):
  # The tiny configs (as --smoke) at a position long enough for the full pass
  # to cost what it does: the cache's step is cheaper there. Timed at batch
  # 1 (each batch and position is a compile of its own); the bytes a step
  # reads are checked at batch 2 below, from the benchmark's own count.
  results, _ = _smoke_run('cached_step_benchmark', tmp_path,
                          '--configs=music_transformer_tiny,dilated_cnn_tiny',
                          '--positions=8,128', '--repeats=8',
                          '--batch_sizes=1', smoke=False)
  assert [m['family'] for m in results['models']] == ['music_transformer',
                                                      'dilated_cnn']
  assert results['copy_bytes_per_second'] > 1e8
  for model in results['models']:
    runs = {r['position']: r for r in model['runs']}
    assert sorted(runs) == [8, 128] and {r['batch_size'] for r in runs.values()} == {1}
    assert 0 < runs[128]['cached_seconds_per_token'] < runs[128][
        'recomputed_seconds_per_token'], model
    for r in runs.values():
      # No step beats reading what it must read at the copy bandwidth.
      assert r['bound_ratio'] > 1, r
      assert r['bound_seconds_per_step'] == pytest.approx(
          r['step_bytes'] / results['copy_bytes_per_second'], rel=1e-3, abs=2e-6)
  benchmark = sys.modules['cached_step_benchmark']
  smoke_data = testing_lib.import_benchmark_library('smoke_data')
  step_bytes = {}
  for name in ('music_transformer_tiny', 'dilated_cnn_tiny'):
    config, model, codec = smoke_data.untrained_model(name)
    step_bytes[config.family] = {
        (batch, position): benchmark.step_bytes(model, codec.vocab_size, batch, position)
        for batch in (1, 2) for position in (8, 128)}
    # What the benchmark reported at batch 1 (each position advanced by half
    # the timed steps).
    reported = {r['position']: r['step_bytes'] for r in results['models'][
        0 if config.family == 'music_transformer' else 1]['runs']}
    assert reported == {p: benchmark.step_bytes(model, codec.vocab_size, 1, p + 4)
                        for p in (8, 128)}
    # A second sequence reads the weights once more only for its own rows.
    counts = step_bytes[config.family]
    assert counts[1, 8] < counts[2, 8] < 2 * counts[1, 8]
  # The transformer's key/value cache is read up to the position: per
  # sequence, 2 tensors of model_dim float32s per layer and position (and a
  # table entry per chunk of positions); its relative embeddings, laid out
  # in the state, once for the batch: model_dim float32s per layer and
  # distance, up to the position.
  hp = results['models'][0]['model']
  per_position = 2 * hp['num_layers'] * hp['model_dim'] * 4
  relative_per_position = hp['num_layers'] * hp['model_dim'] * 4
  for batch in (1, 2):
    counts = step_bytes['music_transformer']
    assert (counts[batch, 128] - counts[batch, 8] == pytest.approx(
        120 * (batch * per_position + relative_per_position), rel=1e-3))
  # The dilated CNN's queues do not grow with the position.
  counts = step_bytes['dilated_cnn']
  assert counts[1, 8] == counts[1, 128] and counts[2, 8] == counts[2, 128]


def test_relative_attention_benchmark_smoke(tmp_path):
  # One length long enough for the peak resident memory to tell the forms
  # apart (--smoke's 64 is not): the naive form's [heads, L, L, D] gather is
  # 128 MiB, what skewing needs beyond the logits a few.
  results, _ = _smoke_run('relative_attention_benchmark', tmp_path,
                          '--lengths=512', smoke=False)
  assert results['max_abs_difference'] < 1e-4
  (r,) = results['runs']
  assert r['length'] == 512
  assert r['naive_embedding_tensor_bytes'] == r['length'] * r['skewed_embedding_rows_bytes']
  # The naive form holds its O(L^2 D) tensor at its peak; skewing never
  # builds one, and needs a fraction of the naive form's memory.
  assert r['naive_peak_bytes'] >= r['naive_embedding_tensor_bytes']
  assert r['skewed_peak_bytes'] < r['naive_embedding_tensor_bytes']
  assert r['memory_ratio'] > 4


def test_dataset_benchmark_smoke(tmp_path):
  results, _ = _smoke_run('dataset_benchmark', tmp_path, '--workers=1')
  (run,) = results['pipeline']
  baseline = results['baseline']
  # The same examples and events, made two ways; the ratio is of the rates.
  assert run['examples'] == baseline['examples'] > 0
  assert run['events'] == baseline['events']
  assert run['speed_ratio_vs_baseline'] == pytest.approx(
      run['events_per_second'] / baseline['events_per_second'], rel=0.02, abs=1e-3)


def test_training_benchmark_smoke(fixture_datasets, tmp_path):
  # The session's datasets of the fixtures, as --smoke builds them.
  performance, pianoroll = fixture_datasets
  results, _ = _smoke_run('training_benchmark', tmp_path,
                          '--families=event_lstm,pianoroll_gan',
                          f'--performance_data={performance}',
                          f'--pianoroll_data={pianoroll}')
  assert [(r['family'], r['size']) for r in results['runs']] == [
      ('event_lstm', 'default'), ('pianoroll_gan', 'default')]
  for r in results['runs']:
    assert r['musicrnn_events_per_second'] > 0
    assert r['baseline_events_per_second'] > 0
    assert r['speed_ratio'] == pytest.approx(
        r['musicrnn_events_per_second'] / r['baseline_events_per_second'], rel=0.01)
  assert 'CPU' in results['device'] or 'GPU' in results['device']


def test_xla_benchmark_smoke(gan_dataset, tmp_path):
  # One family keeps it quick; test_compiled_step checks XLA against the
  # graph step for the event models.
  results, _ = _smoke_run('xla_benchmark', tmp_path, '--families=pianoroll_gan',
                          f'--pianoroll_data={gan_dataset}')
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
  results, _ = _smoke_run('fuzz_benchmark', tmp_path)
  fuzzing = results['fuzzing']
  assert fuzzing['inputs_tried'] > 0
  assert fuzzing['uncaught_exceptions'] == 0
  assert sum(fuzzing['outcomes'].values()) == fuzzing['inputs_tried']
  assert set(fuzzing['outcomes']) <= {'converted', *readers.REASONS}
  runs = results['overhead']['runs']
  # Every way of reading gives the same notes; the ratio is of the rates.
  base = runs['note_seq_in_process']
  for run in runs.values():
    assert run['notes'] == base['notes'] > 0
    assert run['speed_ratio_vs_note_seq'] == pytest.approx(
        run['files_per_second'] / base['files_per_second'], rel=0.02, abs=1e-3)
  assert results['peak_rss_mb']['this_process'] > 0


def test_mixing_benchmark_smoke(tiny_datasets, tmp_path):
  # --smoke's settings on the session's dataset of the bundled corpus (the
  # one --smoke builds: benchmarks/smoke_data.py's corpus_dataset).
  results, _ = _smoke_run('mixing_benchmark', tmp_path,
                          f'--dataset={tiny_datasets["performance_with_dynamics_tiny"]}',
                          '--steps=6', '--window=200', smoke=False)
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


def test_focal_loss_benchmark_smoke(frame_dataset, tmp_path):
  # --smoke's tiny configs on the session's frame dataset (the one --smoke
  # builds: benchmarks/smoke_data.py's fixture_frame_dataset).
  results, result = _smoke_run('focal_loss_benchmark', tmp_path,
                               f'--dataset={frame_dataset}')
  runs = results['runs']
  assert list(runs) == ['pianoroll_lstm', 'pianoroll_lstm_focal']
  assert [r['loss_kind'] for r in runs.values()] == ['bce', 'focal']
  # Both scored on the same eval frames; the BCE run's loss is its BCE, the
  # focal run's well below it.
  assert runs['pianoroll_lstm']['frames'] == runs['pianoroll_lstm_focal']['frames']
  assert runs['pianoroll_lstm']['loss'] == pytest.approx(runs['pianoroll_lstm']['bce'])
  assert runs['pianoroll_lstm_focal']['loss'] < runs['pianoroll_lstm_focal']['bce']
  for run in runs.values():
    assert set(run['generated_silent_share']) == {'bernoulli', 'threshold'}
    assert all(0 <= v <= 1 for v in run['generated_silent_share'].values())
  assert 0 <= results['eval_silent_share'] < 0.5
  assert 'eval data:' in result.stdout


def _smoke_run(benchmark, tmp_path, *flags, smoke=True):
  """Runs benchmarks/<benchmark>.py [--smoke] in this process; returns the
  JSON it wrote and its ProgramResult."""
  out = tmp_path / f'{benchmark}.json'
  result = testing_lib.run_program(
      benchmark, *(['--smoke'] if smoke else []), f'--output_json={out}', *flags)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out) as f:
    return json.load(f), result
