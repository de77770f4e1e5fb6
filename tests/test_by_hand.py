"""The README's by-hand commands, run as a newcomer runs them: in a fresh
working folder, with relative paths only, the console read as a person reads
it. Two are the console scripts in processes of their own, where a process is
the point: musicrnn_convert on two Beam worker processes (their logging
reaches the terminal) and `tfds build`; the others run in this process
(tests/test_quickstart.py reads the console of a whole TensorFlow program)."""

import json
import math
import os
import re
import shutil
import subprocess
import sys

import note_seq
import pytest

import testing_lib

CORPUS = os.path.join(testing_lib.REPO_ROOT, 'musicrnn', 'quickstart_corpus')
CONFIG = 'performance_with_dynamics_tiny'


def _command(name, module):
  """The installed console script, else `python -m module`."""
  script = os.path.join(os.path.dirname(sys.executable), name)
  return [script] if os.path.exists(script) else [sys.executable, '-m', module]


def _run(cwd, command, *args):
  result = subprocess.run(command + list(args), cwd=cwd, capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
  return (result.stdout + result.stderr).splitlines()


def _run_here(cwd, module, *args):
  """The same command run in this process (`module`'s main)."""
  result = testing_lib.run_program(module, *args, cwd=cwd)
  assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
  return (result.stdout + result.stderr).splitlines()


def _library_lines(lines):
  return [line for line in lines if testing_lib.LIBRARY_LINES.search(line)]


def test_readme_by_hand_with_relative_paths(tmp_path, monkeypatch):
  work = tmp_path / 'work'
  shutil.copytree(CORPUS, work / 'midi')
  convert = _command('musicrnn_convert', 'musicrnn.convert')

  # convert on two Beam worker processes: musicrnn's progress (summed over
  # the workers) and its summary once, no library chatter.
  lines = _run(work, convert, '--input_dir=midi', '--output_file=ns.tfrecord',
               '--direct_running_mode=multi_processing', '--direct_num_workers=2')
  assert not _library_lines(lines), _library_lines(lines)
  assert len([l for l in lines if 'files seen 12 = converted 12' in l]) == 1
  progress = [l for l in lines if re.search(r'musicrnn convert: \d+/12 files', l)]
  assert progress, lines
  assert sorted(os.listdir(work)) == [
      'midi', 'ns.tfrecord', 'ns.tfrecord.deadletter.jsonl',
      'ns.tfrecord.duplicates.jsonl', 'ns.tfrecord.summary.json']

  # The natural glob of convert's output takes in its side files too.
  lines = _run_here(work, 'musicrnn.create_dataset', f'--config={CONFIG}',
                    '--input=ns.tfrecord*', '--output_dir=dataset',
                    '--eval_ratio=0.25')
  assert not _library_lines(lines), _library_lines(lines)
  assert len([l for l in lines if '12 NoteSequences (train' in l]) == 1

  # Train, then resume with the same command and more steps.
  common = [f'--config={CONFIG}', '--train_data=dataset', '--run_dir=run',
            '--checkpoint_every=5', '--eval_every=10', '--log_every=5',
            '--hparams=learning_rate=1e-2', '--seed=0']
  lines = _run_here(work, 'musicrnn.train', *common, '--num_steps=10')
  assert not _library_lines(lines), _library_lines(lines)
  assert [l for l in lines if 'musicrnn train: step 5 loss' in l]
  assert len([l for l in lines if l.startswith('run ') and 'steps 0 -> 10' in l]) == 1
  assert len([l for l in lines if 'eval at step 10' in l]) == 1
  lines = _run_here(work, 'musicrnn.train', *common, '--num_steps=15')
  assert [l for l in lines if 'resumed from' in l and 'ckpt-10 at step 10' in l]
  assert len([l for l in lines if l.startswith('run ') and
              'steps 10 -> 15 (resumed)' in l]) == 1

  lines = _run_here(work, 'musicrnn.generate', '--run_dir=run',
                    '--output_dir=samples', '--num_steps=60',
                    '--primer_pitches=[60,64,67]', '--render_png', '--render_wav',
                    '--seed=1')
  assert not _library_lines(lines), _library_lines(lines)
  assert sorted(os.listdir(work / 'samples')) == [
      f'{CONFIG}_000.{ext}' for ext in ('mid', 'png', 'wav')]
  assert note_seq.midi_file_to_note_sequence(
      str(work / 'samples' / f'{CONFIG}_000.mid')).notes

  # The run folder moved elsewhere still generates, and still evaluates on
  # its dataset.
  shutil.move(str(work / 'run'), str(tmp_path / 'moved_run'))
  _run_here(tmp_path, 'musicrnn.generate', '--run_dir=moved_run',
            '--output_dir=again', '--num_steps=30', '--seed=1')
  assert os.listdir(tmp_path / 'again') == [f'{CONFIG}_000.mid']
  _run_here(tmp_path, 'musicrnn.evaluate', '--run_dir=moved_run',
            '--output_json=nll.json')
  with open(tmp_path / 'nll.json') as f:
    assert math.isfinite(json.load(f)['nll'])

  # Publishing with TFDS from the same folder, relative paths again.
  config = '{"name": "pwd_tiny_eval50", "musicrnn_config": "%s", ' \
           '"eval_ratio": 0.5}' % CONFIG
  _run(work, [os.path.join(os.path.dirname(sys.executable), 'tfds')], 'build',
       'musicrnn', '--imports=musicrnn.pipelines.tfds_builders',
       f'--config={config}', '--manual_dir=midi', '--data_dir=tfds_data')
  monkeypatch.chdir(work)
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  for split in ('train', 'eval'):
    assert len(tfds.load('musicrnn/pwd_tiny_eval50', split=split,
                         data_dir='tfds_data')) > 0


def test_run_and_dataset_moved_together_are_found_again(tiny_runs, tiny_datasets,
                                                        tmp_path, monkeypatch):
  """A working folder (dataset and run side by side) copied elsewhere: the
  run finds its dataset beside it once the original is gone."""
  from musicrnn.runs import evaluate as evaluate_lib  # pylint: disable=import-outside-toplevel
  original = tmp_path / 'original'
  shutil.copytree(tiny_datasets[CONFIG], original / 'dataset')
  monkeypatch.chdir(original)
  # Record the dataset as training from `original` with --train_data=dataset
  # --run_dir=run would.
  shutil.copytree(tiny_runs[CONFIG], original / 'run')
  with open(original / 'run' / 'config.json') as f:
    record = json.load(f)
  record['dataset']['dir'] = str(original / 'dataset')
  record['dataset']['dir_from_run'] = os.path.join('..', 'dataset')
  with open(original / 'run' / 'config.json', 'w') as f:
    json.dump(record, f)
  before = evaluate_lib.evaluate_run('run')['nll']
  shutil.copytree(original, tmp_path / 'copy')
  shutil.rmtree(original)
  monkeypatch.chdir(tmp_path / 'copy')
  metrics = evaluate_lib.evaluate_run('run')
  assert metrics['nll'] == pytest.approx(before, rel=1e-6)
  assert metrics['data_dir'] == str(tmp_path / 'copy' / 'dataset')


def test_prepare_records_the_dataset_relative_to_the_run(tmp_path, monkeypatch):
  from musicrnn import configs  # pylint: disable=import-outside-toplevel
  from musicrnn.runs import run_dir as run_dir_lib  # pylint: disable=import-outside-toplevel
  monkeypatch.chdir(tmp_path)
  os.makedirs('data/perf')
  run_dir_lib.prepare('runs/a', configs.get_config(CONFIG), {'name': 'x'},
                      {'config_name': CONFIG}, 'data/perf')
  with open('runs/a/config.json') as f:
    recorded = json.load(f)['dataset']
  assert recorded['dir'] == str(tmp_path / 'data' / 'perf')
  assert recorded['dir_from_run'] == os.path.join('..', '..', 'data', 'perf')
  assert run_dir_lib.dataset_dir('runs/a') == str(tmp_path / 'data' / 'perf')


def test_checkpoints_are_found_in_their_folder_whatever_the_index_says(
    tiny_runs, tmp_path, monkeypatch):
  """An index written with the run's old relative or absolute paths (before
  the fix, or before a move) still names checkpoints of this folder."""
  from musicrnn.runs import run_dir as run_dir_lib  # pylint: disable=import-outside-toplevel
  shutil.copytree(tiny_runs[CONFIG], tmp_path / 'run_a')
  index = tmp_path / 'run_a' / 'checkpoints' / 'checkpoint'
  text = index.read_text()
  names = re.findall(r'"(ckpt-\d+)"', text)
  assert names
  index.write_text(text.replace('"ckpt-', '"/somewhere/else/run_a/checkpoints/ckpt-'))
  monkeypatch.chdir(tmp_path)
  listed = run_dir_lib.checkpoint_paths(run_dir_lib.checkpoint_dir('run_a'))
  newest_first = sorted(set(names), key=lambda n: -int(n[len('ckpt-'):]))
  assert listed == [str(tmp_path / 'run_a' / 'checkpoints' / n) for n in newest_first]
  assert run_dir_lib.load_run('run_a').step == int(newest_first[0][len('ckpt-'):])
