"""musicrnn_quickstart runs end to end on the bundled corpus."""

import os
import subprocess
import sys

import testing_lib


def _quickstart(*args):
  return subprocess.run(
      [sys.executable, '-m', 'musicrnn.quickstart', *args],
      capture_output=True, text=True, cwd=testing_lib.REPO_ROOT, timeout=900)


def test_quickstart_end_to_end(tmp_path):
  out = str(tmp_path / 'qs')
  result = _quickstart(f'--output_dir={out}')
  assert result.returncode == 0, result.stderr
  assert 'files seen 12 = converted 12 + duplicates 0 + failed 0' in result.stdout
  assert '== [1] convert' in result.stdout
  sequences = testing_lib.read_notesequences(
      [os.path.join(out, 'notesequences.tfrecord')])
  assert len(sequences) == 12
  assert all(len(s.notes) > 100 for s in sequences.values())
  assert {s.collection_name for s in sequences.values()} == {'quickstart'}

  again = _quickstart(f'--output_dir={out}')
  assert again.returncode == 2
  assert 'already exists' in again.stderr and '--overwrite' in again.stderr
  assert _quickstart(f'--output_dir={out}', '--overwrite').returncode == 0
