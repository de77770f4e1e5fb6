"""musicrnn_quickstart runs end to end on the bundled corpus (tiny setting)."""

import json
import os
import subprocess
import sys

import note_seq
import pytest

from musicrnn import quickstart
from musicrnn.errors import UsageError
from musicrnn.runs import evaluate as evaluate_lib
import testing_lib

TINY = ('--config=performance_with_dynamics_tiny', '--hparams=learning_rate=1e-2',
        '--num_steps=40', '--num_outputs=2', '--duration_seconds=3', '--seed=0')


def _quickstart(*args):
  return subprocess.run(
      [sys.executable, '-m', 'musicrnn.quickstart', *args],
      capture_output=True, text=True, cwd=testing_lib.REPO_ROOT, timeout=900)


def test_quickstart_end_to_end(tmp_path):
  out = str(tmp_path / 'qs')
  result = _quickstart(f'--output_dir={out}', *TINY)
  assert result.returncode == 0, result.stderr[-3000:]
  for number, stage in enumerate(('convert', 'dataset', 'train', 'generate',
                                   'compare'), 1):
    assert f'== [{number}/5] {stage}' in result.stdout
  # The console as a person reads it: musicrnn's lines, none of TensorFlow's
  # start-up or the libraries' chatter (a process of its own: TensorFlow's
  # runtime writes those lines straight to descriptor 2 when it starts).
  library = [line for line in (result.stdout + result.stderr).splitlines()
             if testing_lib.LIBRARY_LINES.search(line)]
  assert not library, library
  # Each stage's summary once (musicrnn's log line).
  assert (result.stdout + result.stderr).count(
      'files seen 12 = converted 12 + duplicates 0 + failed 0') == 1
  assert f'Everything is in {out}' in result.stdout
  # What to do next names the run, the studio among it.
  assert f'musicrnn_studio --run_dir={os.path.join(out, "run")}' in result.stdout

  sequences = testing_lib.read_notesequences(
      [os.path.join(out, 'notesequences.tfrecord')])
  assert len(sequences) == 12
  assert {s.collection_name for s in sequences.values()} == {'quickstart'}
  with open(os.path.join(out, 'dataset', 'dataset.json')) as f:
    assert json.load(f)['splits']['train']['examples'] > 0

  with open(os.path.join(out, 'quickstart.json')) as f:
    summary = json.load(f)
  assert summary['train_loss']['last'] < summary['train_loss']['first']
  assert set(summary['seconds']) == {'convert', 'dataset', 'train', 'generate',
                                     'compare', 'total'}
  midis = sorted(f for f in os.listdir(os.path.join(out, 'generated'))
                 if f.endswith('.mid'))
  assert len(midis) == 2
  for name in midis:
    sequence = note_seq.midi_file_to_note_sequence(
        os.path.join(out, 'generated', name))
    assert sequence.notes and sequence.total_time <= 3.0 + 1e-6
    for ext in ('.png', '.wav'):
      assert os.path.exists(os.path.join(out, 'generated', name[:-4] + ext))

  # The samples' figures beside the eval music's, as musicrnn_evaluate
  # --samples_dir gives them, in quickstart.json and on the console.
  report = evaluate_lib.evaluate_samples(os.path.join(out, 'generated'),
                                         run_dir=os.path.join(out, 'run'))
  figures = summary['samples']
  for name in ('polyphony', 'long_note_share'):
    assert figures[name] == {'samples': report[name]['generated']['mean'],
                             'music': report[name]['reference']['mean']}
  assert figures['note_duration_distance'] == report['duration_histogram'][
      'distance']
  assert (figures['files'], figures['eval_chunks']) == (
      2, report['sequences']['reference'])
  assert figures['eval_chunks'] > 0 and figures['capped']
  assert figures['polyphony']['samples'] > 0 and figures['polyphony']['music'] > 0
  assert 0 <= figures['note_duration_distance'] <= 1
  # The lines printed are those of the figures in quickstart.json (their
  # wording: test_quickstart_describes_the_samples_for_a_newcomer).
  assert quickstart.describe_figures(figures) in result.stdout

  # Run again (in this process: the one quick start above is the program's
  # own): the finished stages are skipped, the run is already trained.
  again = testing_lib.run_program('musicrnn.quickstart', f'--output_dir={out}',
                                  *TINY)
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stdout.count('already done') == 3
  assert 'steps 0 ->' not in again.stdout


def test_quickstart_describes_the_samples_for_a_newcomer():
  figures = {'polyphony': {'samples': 23.24, 'music': 2.71},
             'long_note_share': {'samples': 0.25, 'music': 0.004},
             'note_duration_distance': 0.4123, 'files': 3, 'eval_chunks': 14,
             'chunk_seconds': 20.0, 'note_cap_seconds': 5.0, 'capped': True}
  assert quickstart.describe_figures(figures).splitlines() == [
      '   notes sounding at once:            23.2  (the music: 2.7)',
      '   notes ended by the 5 s note cap:  25.0%  (the music: 0.4% of its '
      'notes last 5 s or more)',
      '   note-length distance:              0.41  (0: note lengths spread as '
      'in the music, 1: no length in common)']
  # Music of an encoding that ends its own notes: no cap to name.
  uncapped = quickstart.describe_figures(dict(figures, capped=False))
  assert 'notes lasting 5 s or more:  25.0%  (the music: 0.4%' in uncapped
  assert 'cap' not in uncapped


def test_quickstart_refuses_configs_it_cannot_run(tmp_path):
  for name in ('pianoroll_lstm_tiny', 'polyphony_tiny'):
    with pytest.raises(UsageError, match=f"'{name}' cuts music at every tempo"):
      quickstart.run_quickstart(str(tmp_path), config_name=name)
  with pytest.raises(UsageError, match=r'of a duration; config '
                     r"'pianoroll_gan_tiny' is a pianoroll_gan \(task "
                     r'adversarial\), whose generation takes --num_bars'):
    quickstart.run_quickstart(str(tmp_path), config_name='pianoroll_gan_tiny')
