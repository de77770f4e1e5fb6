"""Benchmarks run in smoke mode, write the JSON they promise, and their
figures say what they are for (the compiled sampler beats the naive loop,
skewing needs less memory than the naive form, the cache beats recomputing).

Beyond the figures, each test checks what the test knows without the
benchmark: how many files, notes, examples or frames the fixture or dataset
holds, byte counts from shapes and dtypes, the configs' settings, and that
a baseline and the measured path gave the same output where the benchmark
compares them. The only comparisons of times are the ones a benchmark
exists to show (compiled against naive, cached against recomputed), by
margins far wider than a loaded machine's noise.

Each runs in this process (its main, with its own flags; see
testing_lib.run_program); the relative-attention benchmark measures each
form's peak memory in a fresh process of its own."""

import glob
import json
import math
import os
import resource
import sys

import keras
import note_seq
import numpy as np
import pytest

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import tasks
from musicrnn.generation import sampler
from musicrnn.models.event_lstm import EventLSTM
from musicrnn.pipelines import readers
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.tfrecords import description as description_lib
import testing_lib

def test_convert_benchmark_smoke(tmp_path):
  results, result = _smoke_run('convert_benchmark', tmp_path, '--workers=1')
  # --smoke reads tests/testdata/midi: its files and notes, counted here.
  files, notes = _midi_fixtures('midi')
  assert results['music_files'] == len(files) == 4
  baseline = results['baseline']
  assert (baseline['midi_files'], baseline['ok'], baseline['notes']) == (
      len(files), len(files), notes)
  assert [r['midi_reader'] for r in results['pipeline']] == ['symusic', 'note_seq']
  for run in results['pipeline']:
    assert run['workers'] == 1
    # Every fixture converted once, nothing failed or duplicated.
    assert (run['files_seen'], run['converted'], run['notesequences']) == (
        len(files), len(files), len(files))
    assert run['duplicates'] == run['failed'] == 0 and run['failed_by_reason'] == {}
    # Each reader wrote the notes note-seq reads in the fixtures.
    assert run['notes'] == notes
    _assert_rate(run['files_per_second'], run['files_seen'], run['seconds'])
    _assert_rate(run['notes_per_second'], run['notes'], run['seconds'])
    # The ratio is of the two rates, the pipeline's over the baseline's.
    assert run['speed_ratio_vs_baseline'] == pytest.approx(
        run['files_per_second'] / baseline['files_per_second'], rel=0.02, abs=1e-3)
  _assert_finite_positive(baseline['seconds'], baseline['files_per_second'],
                          baseline['notes_per_second'])
  assert 'musicrnn_convert, symusic, 1 worker(s)' in result.stdout


def test_convert_benchmark_compares_the_readers_file_by_file(tmp_path):
  results, result = _smoke_run(
      'convert_benchmark', tmp_path, '--compare_readers',
      f'--input_dir={testing_lib.TESTDATA}', smoke=False)
  corpora = results['corpora']
  assert sorted(corpora) == ['broken', 'midi', 'pop']
  for corpus, found in corpora.items():
    # Every MIDI file of the sub-folder, counted here.
    assert found['midi_files'] == len(_midi_fixtures(corpus, read=False)[0])
    assert found['different'] == 0 and found['different_files'] == []
    assert found['midi_files'] == (
        found['equal'] + sum(found['read_by_note_seq'].values())
        + found['both_fail'] + found['only_symusic_reads'])
    # Each reader's time, and their ratio.
    assert found['fast_reader_speed_ratio'] == pytest.approx(
        found['note_seq_reader_seconds'] / found['fast_reader_seconds'], rel=0.1)
  assert corpora['midi']['equal'] == 4
  # mr_blue_sky.mid holds a note-on and a note-off of one pitch on one tick:
  # the raw pass reads that track, no file goes to note-seq.
  assert corpora['pop']['equal'] == 2 and corpora['pop']['read_by_note_seq'] == {}
  assert corpora['pop']['fallback_rate'] == 0.0
  assert corpora['broken']['both_fail'] == 4
  assert 'pop: ' in result.stdout


def test_generation_benchmark_smoke(tmp_path):
  results, _ = _smoke_run('generation_benchmark', tmp_path, '--batch_sizes=1,2')
  assert results['model'] == 'untrained EventLSTM 1x16 (smoke)'
  num_steps = results['num_steps']
  assert num_steps == 20   # --smoke's events per output
  assert [r['batch_size'] for r in results['runs']] == [1, 2]
  for r in results['runs']:
    assert set(r) == {'batch_size', 'compiled_seconds', 'compiled_events_per_second',
                      'compiled_seconds_per_step', 'naive_seconds',
                      'naive_events_per_second', 'speed_ratio'}
    # Events are counted across the batch: batch x num_steps per output.
    for method in ('compiled', 'naive'):
      _assert_rate(r[f'{method}_events_per_second'], r['batch_size'] * num_steps,
                   r[f'{method}_seconds'])
    # The figure's point: one compiled loop beats a Python call per event.
    assert r['compiled_events_per_second'] > r['naive_events_per_second'] > 0
    assert r['speed_ratio'] > 1
  assert 'CPU' in results['device'] or 'GPU' in results['device']
  # The baseline does the work it is timed for: num_steps events after the
  # primer for each sequence of the batch, ids of the model's vocabulary,
  # as the compiled sampler makes them.
  benchmark = sys.modules['generation_benchmark']
  model = EventLSTM(40, rnn_layer_sizes=(16,), control_sizes={'note_density': 8})
  primer = np.zeros((2, 1), np.int32)
  controls = benchmark._controls(model, 2, num_steps + 1)  # pylint: disable=protected-access
  naive = benchmark.naive_loop(model, primer, num_steps, controls)
  compiled = sampler.sample(model, primer, num_steps, controls=controls, seed=0)
  assert naive.shape == compiled.shape == (2, 1 + num_steps)
  assert naive.min() >= 0 and naive.max() < 40


def test_generation_benchmark_without_baseline_smoke(tmp_path):
  results, _ = _smoke_run('generation_benchmark', tmp_path, '--batch_sizes=1',
                          '--nonaive_baseline')
  (run,) = results['runs']
  assert set(run) == {'batch_size', 'compiled_seconds', 'compiled_events_per_second',
                      'compiled_seconds_per_step'}
  assert results['num_steps'] == 20
  _assert_rate(run['compiled_events_per_second'], results['num_steps'],
               run['compiled_seconds'])
  assert run['compiled_seconds_per_step'] == pytest.approx(
      run['compiled_seconds'] / results['num_steps'], rel=0.01)


@pytest.mark.parametrize('beam', [(), ('--beam_size=2', '--branch_factor=2')],
                         ids=['sample', 'beam_search'])
def test_generation_benchmark_state_masks_smoke(tmp_path, beam):
  results, result = _smoke_run('generation_benchmark', tmp_path,
                               '--batch_sizes=1,2', '--state_masks',
                               '--repeats=2', '--nonaive_baseline', *beam)
  # --smoke with --state_masks: a tiny performance model (its codec has a
  # grammar), 20 events per output.
  assert results['model'] == 'untrained performance_with_dynamics_tiny (smoke)'
  assert results['num_steps'] == 20
  assert [r['batch_size'] for r in results['state_masks']] == [1, 2]
  for r in results['state_masks']:
    assert set(r) == {'batch_size', 'off_seconds', 'off_events_per_second',
                      'on_seconds', 'on_events_per_second', 'on_over_off_seconds'}
    for side in ('off', 'on'):
      _assert_rate(r[f'{side}_events_per_second'], r['batch_size'] * 20,
                   r[f'{side}_seconds'])
    assert r['on_over_off_seconds'] == pytest.approx(
        r['on_seconds'] / r['off_seconds'], rel=0.01)
  assert 'state masks, compiled, fastest of 2:' in result.stdout


def test_generation_benchmark_beam_smoke(tmp_path):
  results, _ = _smoke_run('generation_benchmark', tmp_path, '--batch_sizes=2',
                          '--beam_size=2', '--branch_factor=2',
                          '--steps_per_iteration=3')
  assert results['beam'] == {'beam_size': 2, 'branch_factor': 2,
                             'steps_per_iteration': 3}
  (run,) = results['runs']
  assert run['batch_size'] == 2 and results['num_steps'] == 20
  # Events of the batch's outputs, not of the beams searched.
  _assert_rate(run['compiled_events_per_second'], 2 * results['num_steps'],
               run['compiled_seconds'])
  _assert_rate(run['naive_events_per_second'], 2 * results['num_steps'],
               run['naive_seconds'])
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
  # The CNN feeds one-hot events to a dense layer (no embedding table): a
  # step reads every float32 weight, and its whole state, whose bytes are
  # counted here from the shapes and dtypes.
  config, model, _ = smoke_data.untrained_model('dilated_cnn_tiny')
  assert config.model.embedding_size == 0
  assert all(w.dtype == 'float32' for w in model.weights)
  state = sum(int(np.prod(s.shape)) * s.dtype.size
              for s in model.initial_state(1, 136))
  reported = results['models'][1]
  assert reported['parameters'] == model.count_params()
  assert reported['model'] == config.model.to_dict()
  assert [r['step_bytes'] for r in reported['runs']] == [
      4 * model.count_params() + state] * 2
  for entry in results['models']:
    for r in entry['runs']:
      _assert_finite_positive(r['cached_seconds_per_token'],
                              r['recomputed_seconds_per_token'])


def test_relative_attention_benchmark_smoke(tmp_path):
  # One length long enough for the peak resident memory to tell the forms
  # apart (--smoke's 64 is not): the naive form's [heads, L, L, D] gather is
  # 128 MiB, what skewing needs beyond the logits a few.
  results, _ = _smoke_run('relative_attention_benchmark', tmp_path,
                          '--lengths=512', smoke=False)
  assert results['max_abs_difference'] < 1e-4
  (r,) = results['runs']
  assert r['length'] == 512
  # The tensors that set the forms apart, float32 (4 bytes) at the default
  # 4 heads of 32: [heads, L, L, D] gathered, [heads, L, D] rows, [heads, L, L].
  heads, depth, length = 4, 32, 512
  assert (results['num_heads'], results['head_dim']) == (heads, depth)
  assert r['naive_embedding_tensor_bytes'] == 4 * heads * length * length * depth == 128 << 20
  assert r['skewed_embedding_rows_bytes'] == 4 * heads * length * depth
  assert r['logits_bytes'] == 4 * heads * length * length
  # The naive form holds its O(L^2 D) tensor at its peak; skewing never
  # builds one, and needs a fraction of the naive form's memory.
  assert r['naive_peak_bytes'] >= r['naive_embedding_tensor_bytes']
  assert r['skewed_peak_bytes'] < r['naive_embedding_tensor_bytes']
  assert r['memory_ratio'] > 4


def test_dataset_benchmark_smoke(tmp_path):
  results, _ = _smoke_run('dataset_benchmark', tmp_path, '--workers=1')
  # --smoke converts tests/testdata/midi and uses the tiny config.
  files, notes = _midi_fixtures('midi')
  assert results['config'] == 'performance_with_dynamics_tiny'
  assert (results['notesequences'], results['notes']) == (len(files), notes)
  (run,) = results['pipeline']
  baseline = results['baseline']
  # The same examples and events, made two ways; the ratio is of the rates.
  assert run['examples'] == baseline['examples'] > 0
  assert run['events'] == baseline['events']
  # Each example holds min_events..max_events events of the config.
  data = configs.get_config('performance_with_dynamics_tiny').data
  assert (data.min_events * run['examples'] <= run['events']
          <= data.max_events * run['examples'])
  for figures in (run, baseline):
    _assert_finite_positive(figures['seconds'], figures['events_per_second'],
                            figures['notes_per_second'],
                            figures['notesequences_per_second'])
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
  assert results['smoke'] and results['steps'] == 2
  for r, name in zip(results['runs'], ('performance_with_dynamics_tiny',
                                       'pianoroll_gan_tiny')):
    # The tiny configs as registered: the model and batch both sides trained.
    config = configs.get_config(name)
    assert r['config'] == name
    assert r['model'] == json.loads(json.dumps(config.model.to_dict()))
    assert r['batch_size'] == config.train.batch_size
    _assert_finite_positive(r['musicrnn_events_per_second'],
                            r['baseline_events_per_second'])
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
  assert results['smoke'] and results['steps'] == 2
  config = configs.get_config('pianoroll_gan_tiny')
  assert gan['config'] == 'pianoroll_gan_tiny'
  assert gan['batch_size'] == config.train.batch_size == 4
  base, xla = gan['baseline'], gan['xla']
  # Both modes trained on the same batches: the same piano-roll steps,
  # 2 timed steps of 4 segments of 64.
  assert base['events'] == xla['events'] == 2 * 4 * 64
  assert math.isfinite(base['loss']) and math.isfinite(xla['loss'])
  for mode in (base, xla):
    _assert_finite_positive(mode['events_per_second'], mode['warm_up_seconds'])
  assert gan['speed_ratio'] == pytest.approx(
      xla['events_per_second'] / base['events_per_second'], rel=0.01)


def test_fuzz_benchmark_smoke(tmp_path):
  # This process's peak resident set, in MiB (Linux's ru_maxrss is in KiB),
  # before and after: the benchmark's, read in between, lies between them.
  peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  results, _ = _smoke_run('fuzz_benchmark', tmp_path)
  peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  # --smoke's seeds: the fixtures of tests/testdata/midi and pop, all of
  # which note-seq reads.
  files, notes = _midi_fixtures('midi', 'pop')
  assert results['seed_files'] == [os.path.relpath(p) for p in files]
  assert not results['heavy']
  assert results['limits'] == {'max_seconds_per_file': 5.0,
                               'max_memory_per_file_mb': 512}
  fuzzing = results['fuzzing']
  assert fuzzing['inputs_tried'] > 0
  assert fuzzing['uncaught_exceptions'] == 0
  assert sum(fuzzing['outcomes'].values()) == fuzzing['inputs_tried']
  assert set(fuzzing['outcomes']) <= {'converted', *readers.REASONS}
  assert fuzzing['timeouts'] == fuzzing['outcomes'].get(readers.REASON_TIMEOUT, 0)
  _assert_rate(fuzzing['inputs_per_second'], fuzzing['inputs_tried'],
               fuzzing['seconds'])
  overhead = results['overhead']
  assert (overhead['seed_files'], overhead['rounds']) == (len(files), 1)
  runs = overhead['runs']
  assert sorted(runs) == ['isolated_reader', 'note_seq_in_process',
                          'read_music_bytes_in_process']
  # Every way of reading read each seed once and gave the notes note-seq
  # reads in them; the ratio is of the rates.
  base = runs['note_seq_in_process']
  for run in runs.values():
    assert run['files'] == len(files)
    assert run['notes'] == notes
    _assert_rate(run['files_per_second'], run['files'], run['seconds'])
    assert run['speed_ratio_vs_note_seq'] == pytest.approx(
        run['files_per_second'] / base['files_per_second'], rel=0.02, abs=1e-3)
  assert peak_before - 0.1 <= results['peak_rss_mb']['this_process'] <= peak_after + 0.1


def test_mixing_benchmark_smoke(tiny_datasets, tmp_path):
  # --smoke's settings on the session's dataset of the bundled corpus (the
  # one --smoke builds: benchmarks/smoke_data.py's corpus_dataset).
  results, _ = _smoke_run('mixing_benchmark', tmp_path,
                          f'--dataset={tiny_datasets["performance_with_dynamics_tiny"]}',
                          '--steps=6', '--window=200', smoke=False)
  dataset = tiny_datasets['performance_with_dynamics_tiny']
  splits = description_lib.read_description(dataset)['splits']
  orders = results['orders']
  assert list(orders) == ['sources', 'project', 'shuffled']
  assert (results['steps'], results['window'], results['seed']) == (6, 200, 1)
  # The dataset's train records and sources, as dataset.json counts them.
  assert results['train_examples'] == splits['train']['examples']
  assert results['train_sources'] == splits['train']['notesequences'] == 11
  # The same eval split in every order, scored on every event but each
  # example's first (the next-event predictions).
  for o in orders.values():
    assert o['eval_events'] == splits['eval']['events'] - splits['eval']['examples']
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
  assert results['smoke'] and results['num_steps'] == 6
  # Both scored on the same eval frames: every frame of the eval split but
  # each example's first (the next-frame predictions), as dataset.json
  # counts them. The BCE run's loss is its BCE, the focal run's well below it.
  splits = description_lib.read_description(frame_dataset)['splits']
  for run in runs.values():
    assert run['frames'] == splits['eval']['events'] - splits['eval']['examples']
  assert runs['pianoroll_lstm']['loss'] == pytest.approx(runs['pianoroll_lstm']['bce'])
  assert runs['pianoroll_lstm_focal']['loss'] < runs['pianoroll_lstm_focal']['bce']
  for run in runs.values():
    assert set(run['generated_silent_share']) == {'bernoulli', 'threshold'}
    # --smoke generates 2 outputs of 16 frames, the silent primer frame not
    # counted: shares of 2 x 15 frames.
    for share in run['generated_silent_share'].values():
      assert 0 <= share <= 1 and share * 30 == pytest.approx(round(share * 30))
  assert 0 <= results['eval_silent_share'] < 0.5
  assert 'eval data:' in result.stdout


def test_sample_quality_benchmark_smoke(tiny_runs, tmp_path):
  # --smoke's generations (2 files of 6 s) of the session's tiny run.
  run_dir = tiny_runs['performance_with_dynamics_tiny']
  work = tmp_path / 'work'
  (entry,), result = _smoke_run('sample_quality_benchmark', tmp_path,
                                f'--runs=tiny={run_dir}', f'--work_dir={work}',
                                '--variants=max_polyphony=3')
  assert entry['smoke'] and (entry['num_samples'], entry['sample_seconds'],
                             entry['seed']) == (2, 6.0, 1)
  rows = entry['rows']
  assert [(r['run'], r['variant'], r['options']) for r in rows] == [
      ('tiny', 'nostate_masks', {'state_masks': False}),
      ('tiny', 'state_masks', {'state_masks': True}),
      ('tiny', 'max_polyphony=3', {'max_polyphony': 3})]
  for row in rows:
    assert row['config'] == 'performance_with_dynamics_tiny'
    # The figures of musicrnn_evaluate --samples_dir on the files written,
    # against the eval music cut as long as the samples.
    folder = work / 'tiny' / row['variant']
    assert len(list(folder.glob('*.mid'))) == row['files'] == 2
    report = evaluate_lib.evaluate_samples(str(folder), run_dir=run_dir,
                                           chunk_seconds=6.0)
    assert row['eval_chunks'] == report['sequences']['reference'] > 0
    for column, name in (('pitch_class', 'pitch_class_histogram'),
                         ('ioi', 'ioi_histogram'),
                         ('velocity', 'velocity_histogram'),
                         ('duration', 'duration_histogram')):
      assert row['distances'][column] == report[name]['distance']
    for name in ('polyphony', 'notes_per_second', 'long_note_share',
                 'scale_consistency'):
      assert row['samples'][name] == report[name]['generated']['mean']
      assert row['eval'][name] == report[name]['reference']['mean']
    assert row['samples']['ngram_overlap'] == report['ngram_overlap_8']['generated']
    assert row['polyphony_ratio'] == pytest.approx(
        row['samples']['polyphony'] / row['eval']['polyphony'])
    # Every generation is scored against the same eval music.
    assert row['eval'] == rows[0]['eval']
    assert f'| tiny | {row["variant"]} | 2 / {row["eval_chunks"]} |' in result.stdout
  # The option reached the sampler: never more than 3 notes at once.
  capped = rows[2]
  assert 0 < capped['samples']['polyphony'] <= 3
  assert '| run | generation | files / eval chunks | polyphony |' in result.stdout


def test_studio_latency_benchmark_smoke(tiny_runs, tmp_path):
  # The page in Chromium over the tiny run: the bundled corpus's first piece,
  # its first 5 seconds continued by 2 (--smoke), a first call and one more.
  studio_browser = testing_lib.import_benchmark_library('studio_browser')
  if studio_browser.missing() and os.environ.get('CI') != 'true':
    pytest.skip(studio_browser.missing())
  run_dir = tiny_runs['multiconditioned_performance_with_dynamics_tiny']
  work = tmp_path / 'work'
  entry, _ = _smoke_run('studio_latency_benchmark', tmp_path,
                        f'--run_dir={run_dir}', f'--work_dir={work}',
                        '--repeats=1', '--nobaseline')
  assert (entry['primer'], entry['keep_seconds'], entry['continuation_seconds'],
          len(entry['later_calls'])) == ('bach_846.mid', 5.0, 2.0, 1)
  calls = [entry['first_call'], *entry['later_calls']]
  # The server's share is inside the time from the click to the sound.
  for call in calls:
    assert 0 < call['server_seconds'] <= call['click_to_sound_seconds']
  assert entry['later_click_to_sound_median_seconds'] == calls[1][
      'click_to_sound_seconds']
  # Two requests of the page, each a MIDI file that holds the kept 5
  # seconds and the 2 more, and the WAV the page played.
  made = glob.glob(str(work / 'studio' / 'requests' / '*' / 'outputs' / '*.mid'))
  assert len(made) == 2
  for path in made:
    sequence = note_seq.midi_file_to_note_sequence(path)
    assert 5.0 < sequence.total_time <= 7.0 + 1e-6
  assert len(glob.glob(str(work / 'studio' / 'files' / '*' / 'music.wav'))) == 2


def test_sample_quality_benchmark_reads_its_flags(tmp_path):
  # What it is given is checked before anything runs.
  for flag, message in (
      ('--runs=no_label', "--runs takes label=RUN_DIR,...; got 'no_label'"),
      ('--variants=max_polyphony', '--variants takes option=value'),
      ('--variants=polyphony_limit=3', "'polyphony_limit' is not a generation "
       'option; they are'),
      ('--variants=temperature=warm', 'temperature is a number')):
    result = testing_lib.run_program('sample_quality_benchmark', '--runs=a=/x',
                                     flag, f'--output_json={tmp_path}/r.json')
    assert result.returncode == 1 and message in result.stderr, (flag, result)
  result = testing_lib.run_program('sample_quality_benchmark')
  assert result.returncode == 1 and '--runs=label=RUN_DIR,... is required' \
      in result.stderr
  options = tasks.every_option()
  parse = sys.modules['sample_quality_benchmark'].parse_variant
  assert parse('temperature=0.9,primer_pitches=[60,64,67],top_k=8',
               options) == {'temperature': 0.9, 'primer_pitches': [60, 64, 67],
                            'top_k': 8}
  assert parse('max_note_duration=0', options) == {'max_note_duration': 0.0}
  assert not os.path.exists(tmp_path / 'r.json')


def _midi_fixtures(*folders, read=True):
  """(sorted paths of the MIDI files in tests/testdata/<folder>s, the notes
  note-seq reads in them, or None without `read`)."""
  paths = sorted(p for folder in folders
                 for p in glob.glob(testing_lib.testdata(folder, '*'))
                 if p.lower().endswith(readers.MIDI_EXTENSIONS))
  if not read:
    return paths, None
  return paths, sum(len(note_seq.midi_file_to_note_sequence(p).notes)
                    for p in paths)


def _assert_finite_positive(*values):
  for value in values:
    assert math.isfinite(value) and value > 0, values


def _assert_rate(per_second, count, seconds):
  """`per_second` is `count` things per second of `seconds` (both rounded
  in the JSON)."""
  _assert_finite_positive(per_second, seconds)
  assert per_second * seconds == pytest.approx(count, rel=0.02)


def _benchmark_module(name):
  """benchmarks/<name>.py imported as a module, as run_program loads it
  (its absl flags defined once in this process)."""
  return testing_lib.load_program(name)


def test_training_benchmark_music_vae_against_keras_of_its_shape(
    music_vae_dataset, tmp_path):
  """MusicVAE's rows: the baseline is a plain Keras model with MusicVAE's
  weights, shape for shape; the trainer ran teacher forced, as it does."""
  import training_benchmark  # pylint: disable=import-outside-toplevel
  config = configs.get_config('cat-mel_2bar_small_tiny')
  ours = models.build_model(config, encodings.codec_from_config(config), [])
  ours(ours.example_inputs([]))
  theirs = training_benchmark.vae_keras_model(config, 90)
  assert sorted(tuple(w.shape) for w in theirs.trainable_weights) == sorted(
      tuple(w.shape) for w in ours.trainable_weights)
  results, _ = _smoke_run('training_benchmark', tmp_path,
                          '--families=music_vae',
                          f'--melody_data={music_vae_dataset}')
  (run,) = results['runs']
  assert (run['family'], run['config']) == ('music_vae',
                                            'cat-mel_2bar_small_tiny')
  _assert_finite_positive(run['musicrnn_events_per_second'],
                          run['baseline_events_per_second'])


def _smoke_run(benchmark, tmp_path, *flags, smoke=True):
  """Runs benchmarks/<benchmark>.py [--smoke] in this process; returns the
  JSON it wrote and its ProgramResult."""
  out = tmp_path / f'{benchmark}.json'
  result = testing_lib.run_program(
      benchmark, *(['--smoke'] if smoke else []), f'--output_json={out}', *flags)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out) as f:
    return json.load(f), result


def test_polyphonic_benchmark_smoke(tmp_path):
  """Every kind of row on a file in the benchmark's layout: the JSON holds
  what the issue names, the 1-gram is the frequencies' NLL over predicted
  frames, each trained row scored the test frames a sequence model
  predicts, and the table puts the published rows beside ours."""
  from musicrnn.pipelines import boulanger  # pylint: disable=import-outside-toplevel
  splits = testing_lib.random_benchmark_splits()
  path = str(tmp_path / 'JSB_Chorales.mat')
  testing_lib.write_benchmark_mat(path, splits)
  rows = ['note_1gram', 'lstm', 'tcn', 'frame_events_lstm',
          'lstm_pitch_window', 'tcn+lstm_pitch_window']
  results, result = _smoke_run('polyphonic_benchmark', tmp_path,
                               f'--data={path}', f'--rows={",".join(rows)}',
                               f'--work_dir={tmp_path / "work"}')
  assert [r['row'] for r in results] == rows
  _check_ensemble(path, results[2], results[4], results[5])
  results = results[:4]
  for r in results:
    assert r['dataset'] == 'JSB_Chorales'
    for key in ('output', 'parameters', 'valid_nll', 'test_nll',
                'frame_accuracy', 'cpu_seconds'):
      assert key in r, (r['row'], key)
    assert math.isfinite(r['valid_nll']) and math.isfinite(r['test_nll'])
  one_gram = results[0]
  p = boulanger.key_frequencies(splits['train'])
  test = [r for r in splits['test'] if len(r) >= 2]
  assert one_gram['test_nll'] == pytest.approx(boulanger.frame_nll(
      [np.tile(p, (len(r) - 1, 1)) for r in test], test))
  assert one_gram['parameters'] == 88
  predicted = sum(len(r) - 1 for r in test)
  for r in results[1:]:
    assert r['test_frames'] == predicted, r['row']
    assert r['config'].endswith('_tiny') and r['best_step'] >= 2
  assert [r['output'] for r in results] == ['independent'] * 3 + ['joint']
  assert results[2]['published_row'] == 'TCN'
  assert results[2]['published_test_nll'] == 8.10
  assert '| TCN: **musicrnn `tcn`** |' in result.stdout
  assert '| RNN-NADE (Hessian-free) | joint | | | | 5.56 |' in result.stdout


def _check_ensemble(path, first, second, ensemble):
  """The averaged row: its parameters and time are its members' together;
  by the convexity of -log its NLL is at most the mean of theirs; and the
  key probabilities it averages are those its members' evaluation scored
  (one member alone scores its own test NLL)."""
  from musicrnn.pipelines import boulanger  # pylint: disable=import-outside-toplevel
  from musicrnn.runs import run_dir as run_dir_lib  # pylint: disable=import-outside-toplevel
  benchmark = _benchmark_module('polyphonic_benchmark')
  assert ensemble['members'] == [first['row'], second['row']]
  assert ensemble['parameters'] == first['parameters'] + second['parameters']
  assert ensemble['cpu_seconds'] >= first['cpu_seconds'] + second['cpu_seconds']
  assert ensemble['test_frames'] == first['test_frames']
  for split in ('valid_nll', 'test_nll'):
    assert ensemble[split] <= (first[split] + second[split]) / 2 + 1e-9
  assert 0.0 <= ensemble['frame_accuracy'] <= 1.0
  rolls = boulanger.read_mat(path)
  run = run_dir_lib.load_run(first['run_dir'], best=True)
  nll, _ = benchmark.ensemble_scores([run], rolls['test'])
  assert nll == pytest.approx(first['test_nll'], rel=1e-5)
  assert benchmark.ensemble_scores([run, run], rolls['test'])[0] == (
      pytest.approx(nll, rel=1e-9))


def test_magenta_rnn_benchmark_smoke(tmp_path):
  """A melody config trains on the fixtures' tracks, is scored and
  generates files note-seq reads; the JSON says what was left out (the
  drums and lead sheets train in tests/test_event_sequence_rnn.py)."""
  results, result = _smoke_run('magenta_rnn_benchmark', tmp_path,
                               '--rows=lookback_rnn',
                               f'--work_dir={tmp_path / "work"}')
  assert [r['row'] for r in results] == ['lookback_rnn']
  for r in results:
    assert r['config'] == r['row'] + '_tiny' and r['steps'] == 6
    assert r['train_examples'] >= 1 and r['eval_steps'] > 0
    assert math.isfinite(r['eval_nll_per_step'])
    assert len(r['generated_notes']) == 2 and min(r['generated_notes']) > 0
  assert results[0]['left_out']['tracks_dropped_polyphonic_melody'] > 0
  assert 'lookback_rnn: loss' in result.stdout


def test_magenta_rnn_benchmark_keeps_groove_official_split(tmp_path):
  """Groove's train and validation performances, as info.csv splits them."""
  benchmark = _benchmark_module('magenta_rnn_benchmark')
  groove = tmp_path / 'groove'
  rows = [('drummer1/session1/1_funk_80_beat_4-4.mid', 'train'),
          ('drummer1/session1/2_rock_90_fill_4-4.mid', 'validation'),
          ('drummer2/session1/3_jazz_120_beat_4-4.mid', 'test')]
  lines = ['drummer,midi_filename,split']
  for name, split in rows:
    (groove / os.path.dirname(name)).mkdir(parents=True, exist_ok=True)
    (groove / name).write_bytes(b'MThd')
    lines.append(f'x,{name},{split}')
  (groove / 'info.csv').write_text('\n'.join(lines) + '\n')
  folders = benchmark.groove_splits(str(groove), str(tmp_path / 'work'))
  assert sorted(folders) == ['train', 'validation']
  assert os.listdir(folders['train']) == [
      'drummer1__session1__1_funk_80_beat_4-4.mid']
  assert os.listdir(folders['validation']) == [
      'drummer1__session1__2_rock_90_fill_4-4.mid']


def test_polyphonic_benchmark_runs_a_row_in_stages(tmp_path):
  """Nottingham's event LSTM trains in two stages: stopped at a step, then
  resumed from its checkpoint at a lower dropout; the run records it."""
  path = str(tmp_path / 'Nottingham.mat')
  testing_lib.write_benchmark_mat(path, testing_lib.random_benchmark_splits(
      seed=4, sizes=(('train', (12, 20, 9)), ('valid', (6,)), ('test', (7,)))))
  results, _ = _smoke_run('polyphonic_benchmark', tmp_path, f'--data={path}',
                          '--rows=frame_events_lstm',
                          f'--work_dir={tmp_path / "work"}')
  (row,) = results
  assert row['stages'] == [[2494, 'dropout_rate=0.1']]
  saved = json.loads(open(os.path.join(row['run_dir'], 'config.json')).read())
  assert saved['config']['model']['dropout_rate'] == 0.1
  assert math.isfinite(row['test_nll']) and row['best_step'] >= 2


@testing_lib.requires_shared_data
def test_polyphonic_benchmark_reproduces_the_note_1_gram(tmp_path):
  path = os.path.join(testing_lib.SHARED_DATA, 'boulanger2012',
                      'Nottingham.mat')
  results, _ = _smoke_run('polyphonic_benchmark', tmp_path, f'--data={path}',
                          '--rows=note_1gram', smoke=False)
  (row,) = results
  assert row['test_nll_every_frame'] == pytest.approx(10.25, abs=0.005)
  assert row['test_nll'] == pytest.approx(10.26, abs=0.005)
  assert row['published_test_nll'] == 10.25


def test_polyphonic_benchmark_event_frame_accuracy_is_the_greedy_frames(
    tmp_path):
  """The frame accuracy the benchmark computes for an event model over
  frames equals decoding each frame greedily by the model's full pass on
  the true past, one token at a time (keys rising, until FRAME_END)."""
  from musicrnn.pipelines import boulanger  # pylint: disable=import-outside-toplevel
  from musicrnn.runs import run_dir as run_dir_lib  # pylint: disable=import-outside-toplevel
  from musicrnn.tfrecords import sources  # pylint: disable=import-outside-toplevel
  from musicrnn.training import trainer  # pylint: disable=import-outside-toplevel
  benchmark = _benchmark_module('polyphonic_benchmark')
  path = str(tmp_path / 'Fixture.mat')
  testing_lib.write_benchmark_mat(path, testing_lib.random_benchmark_splits(
      seed=3, sizes=(('train', (12, 20)), ('valid', (6,)), ('test', (7, 9)))))
  config = configs.get_config('frame_events_lstm_tiny')
  data = str(tmp_path / 'data')
  boulanger.create_dataset(config, path, data)
  trainer.train(config, data, str(tmp_path / 'run'), num_steps=20,
                eval_every=20, progress=False, seed=2)
  run = run_dir_lib.load_run(str(tmp_path / 'run'))
  accuracy, frames = benchmark.event_frame_accuracy(run, data, batch_size=1)
  codec = run.codec
  end = codec.frame_end_id
  hits = wrong = count = 0
  for example in sources.open_source(data).records('test', shuffle=False,
                                                   repeat=False):
    tokens = list(example['tokens'].numpy())
    truth = codec.frames(tokens)
    boundaries = [t for t, token in enumerate(tokens[:-1]) if token == end]
    for k, t in enumerate(boundaries):
      prefix, keys, last = tokens[:t + 1], [], -1
      while True:
        logits = keras.ops.convert_to_numpy(
            run.model({'tokens': np.asarray([prefix], np.int32)}))[0, -1]
        allowed = np.arange(codec.vocab_size) > last
        allowed[end] = True
        token = int(np.where(allowed, logits, -np.inf).argmax())
        if token == end:
          break
        keys.append(token)
        prefix.append(token)
        last = token
      predicted = np.zeros(88, np.uint8)
      predicted[keys] = 1
      true = truth[k + 1]
      hits += int((predicted & true).sum())
      wrong += int((predicted ^ true).sum())
      count += 1
  assert frames == count == 6 + 8
  assert accuracy == pytest.approx(hits / (hits + wrong) if hits + wrong else 0.0)
