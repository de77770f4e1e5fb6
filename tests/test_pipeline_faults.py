"""Pipelines that survive being killed, and give the same result on any
number of workers.

"The same result" is the same records in each split or output, with the
same counts: how a runner orders records within a file, and how many files
it shards a split into when left to choose, are the runner's (tf.data
shuffles when reading).
"""

import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import splits
from musicrnn.errors import UsageError
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset

import testing_lib

CORPUS = os.path.join(testing_lib.REPO_ROOT, 'musicrnn', 'quickstart_corpus')
CONFIG = 'performance_with_dynamics_tiny'
TWO_WORKERS = ['--direct_num_workers=2', '--direct_running_mode=multi_processing']


def _records(pattern):
  """The multiset of records in the files matching `pattern`."""
  files = sorted(tf.io.gfile.glob(pattern))
  assert files, pattern
  return collections.Counter(r.numpy() for r in tf.data.TFRecordDataset(files))


def _lines(path):
  with open(path, encoding='utf-8') as f:
    return sorted(f.read().splitlines())


def _summary(output_file):
  with open(output_file + convert.SUMMARY_SUFFIX, encoding='utf-8') as f:
    summary = json.load(f)
  for key in ('seconds', 'files_per_second', 'output_file', 'output_files'):
    summary.pop(key)
  return summary


def _description(output_dir):
  with open(os.path.join(output_dir, dataset.DATASET_JSON), encoding='utf-8') as f:
    description = json.load(f)
  for split in description['splits'].values():
    split.pop('files')   # the runner's sharding
  return description


def _stats(output_dir):
  with open(os.path.join(output_dir, dataset.STATS_JSON), encoding='utf-8') as f:
    return json.load(f)


def assert_same_conversion(a, b):
  assert _records(a) == _records(b)
  assert _lines(a + convert.DEADLETTER_SUFFIX) == _lines(b + convert.DEADLETTER_SUFFIX)
  assert _lines(a + convert.DUPLICATES_SUFFIX) == _lines(b + convert.DUPLICATES_SUFFIX)
  assert _summary(a) == _summary(b)


def assert_same_dataset(a, b):
  for split in splits.SPLITS:
    assert _records(os.path.join(a, f'{split}.tfrecord-*')) == \
        _records(os.path.join(b, f'{split}.tfrecord-*'))
  assert _stats(a) == _stats(b)
  assert _description(a) == _description(b)


@pytest.fixture
def reference(corpus_notesequences, tiny_datasets):
  """An uninterrupted one-worker conversion and dataset of the corpus (the
  session's: a quarter of it eval)."""
  return corpus_notesequences, tiny_datasets[CONFIG]


def _kill_once_staging(args, output_dir):
  """Runs a program, SIGKILLs it once it is writing its staged outputs."""
  process = subprocess.Popen(args, cwd=testing_lib.REPO_ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
      if os.path.isdir(output_dir) and any(
          '.staging-' in n for n in os.listdir(output_dir)):
        process.send_signal(signal.SIGKILL)
        process.wait()
        return
      time.sleep(0.01)
    raise AssertionError(f'{args[2]} ended before it was killed: {process.poll()}')
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()


def _visible(folder):
  return sorted(n for n in os.listdir(folder) if not n.startswith('.'))


def test_killed_convert_leaves_nothing_complete_and_its_rerun_matches(
    reference, tmp_path):
  output = tmp_path / 'out'
  output.mkdir()
  output_file = str(output / 'ns.tfrecord')
  args = [f'--input_dir={CORPUS}', f'--output_file={output_file}']
  _kill_once_staging([sys.executable, '-m', 'musicrnn.convert', *args], str(output))
  assert _visible(output) == []          # nothing that looks like an output
  # The rerun need not be a process of its own.
  result = testing_lib.run_program('musicrnn.convert', *args)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'staging folder(s) of an interrupted run' in result.stderr
  assert sorted(os.listdir(output)) == _visible(output)   # the leftovers are gone
  assert_same_conversion(output_file, reference[0])


def test_killed_create_dataset_leaves_nothing_complete_and_its_rerun_matches(
    reference, tmp_path):
  output = tmp_path / 'dataset'
  args = [f'--config={CONFIG}', f'--input={reference[0]}', f'--output_dir={output}',
          '--eval_ratio=0.25']
  _kill_once_staging([sys.executable, '-m', 'musicrnn.create_dataset', *args],
                     str(output))
  assert _visible(output) == []
  with pytest.raises(UsageError, match='holds no dataset'):
    from musicrnn.tfrecords import sources  # pylint: disable=import-outside-toplevel
    sources.open_source(str(output))
  result = testing_lib.run_program('musicrnn.create_dataset', *args)
  assert result.returncode == 0, result.stderr[-3000:]
  assert sorted(os.listdir(output)) == _visible(output)
  assert_same_dataset(str(output), reference[1])


def test_outputs_of_a_run_killed_while_publishing(reference, tmp_path):
  """Killed between renames: shards in place, the summary (marker) not."""
  output_file = str(tmp_path / 'ns.tfrecord')
  convert.convert_directory(CORPUS, output_file, num_shards=3)
  os.remove(output_file + convert.SUMMARY_SUFFIX)
  os.remove(output_file + '-00001-of-00003')
  # The next step refuses the partial set of shards...
  with pytest.raises(UsageError, match=r'ns.tfrecord-\*-of-00003 is incomplete: '
                     r'shard\(s\) 1 of 3 missing'):
    dataset.create_dataset(configs.get_config(CONFIG), output_file + '-*',
                           str(tmp_path / 'dataset'))
  # ...and the same command again replaces it without --overwrite.
  convert.convert_directory(CORPUS, output_file, num_shards=3)
  assert _records(output_file + '-*') == _records(reference[0])
  # A complete output is still refused without --overwrite.
  with pytest.raises(UsageError, match='output already exists'):
    convert.convert_directory(CORPUS, output_file, num_shards=3)


def test_one_and_two_workers_give_the_same_dataset(reference, tmp_path):
  # (test_convert.py shows the same of musicrnn_convert.)
  out = str(tmp_path / 'dataset')
  dataset.create_dataset(configs.get_config(CONFIG), reference[0], out,
                         eval_ratio=0.25,
                         pipeline_options=beam_utils.make_pipeline_options(TWO_WORKERS))
  assert_same_dataset(out, reference[1])
