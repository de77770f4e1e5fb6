"""The pipelines on distributed Beam engines, run here.

- Beam's DaskRunner against a dask.distributed cluster: a scheduler and two
  worker processes on loopback, started by the test.
- Beam's PortableRunner, the path Flink and Spark take: its embedded job
  service, with the work done by SDK worker processes that an external
  worker pool (a process of its own) starts.

On each, musicrnn_convert (over the fixture folder with its broken files,
duplicates and junk) and musicrnn_create_dataset must give what the local
runner gives: the same records, counts, dead letters and duplicates.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from musicrnn import configs
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset
import testing_lib

CONFIG = 'performance_with_dynamics_tiny'


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.fixture(scope='module')
def dask_cluster():
  distributed = pytest.importorskip('dask.distributed')
  cluster = distributed.LocalCluster(
      n_workers=2, threads_per_worker=1, processes=True, host='127.0.0.1',
      dashboard_address=':0')
  try:
    yield cluster.scheduler_address
  finally:
    cluster.close()


@pytest.fixture(scope='module')
def worker_pool():
  """Beam's external worker pool on loopback: it starts an SDK worker
  process (this Python) for every worker the job service asks for."""
  port = _free_port()
  env = dict(os.environ)
  env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env['PATH']
  pool = subprocess.Popen(
      [sys.executable, '-m', 'apache_beam.runners.worker.worker_pool_main',
       f'--service_port={port}'], env=env,
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 60
    while True:
      try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        break
      except OSError:
        if pool.poll() is not None or time.time() > deadline:
          raise RuntimeError('the Beam worker pool did not start')
        time.sleep(0.2)
    yield f'localhost:{port}'
  finally:
    pool.terminate()
    pool.wait(timeout=30)


def _options(runner, dask_cluster=None, worker_pool=None):
  if runner == 'dask':
    args = ['--runner=DaskRunner', f'--dask_client_address={dask_cluster}']
  else:
    args = ['--runner=PortableRunner', '--job_endpoint=embed',
            '--environment_type=EXTERNAL', f'--environment_config={worker_pool}']
  return beam_utils.make_pipeline_options(args)


def _run(folder, options=None):
  """convert + create_dataset of the fixture folder into `folder`."""
  root = testing_lib.make_convert_input_dir(os.path.join(folder, 'input'))
  output = os.path.join(folder, 'ns', 'ns.tfrecord')
  summary = convert.convert_directory(root, output, num_shards=2,
                                      pipeline_options=options)
  built = dataset.create_dataset(
      configs.get_config(CONFIG), output + '-*', os.path.join(folder, 'dataset'),
      eval_ratio=0.5, pipeline_options=options)
  return summary, built


def _outputs(folder, summary, built):
  """Everything the runs wrote, with the run's folder taken out of paths."""

  def read(path):
    with open(path, encoding='utf-8') as f:
      return f.read().replace(folder, '<run>')

  found = {
      'summary': {k: v for k, v in json.loads(read(summary.output_files[-1])).items()
                  if k not in ('seconds', 'files_per_second')},
      'notesequences': sorted(
          record for path in summary.output_files[:2]
          for record in beam_utils.read_tfrecords(path)),
      'deadletters': sorted(read(summary.output_files[2]).splitlines()),
      'duplicates': sorted(read(summary.output_files[3]).splitlines()),
      'stats': built.stats,
  }
  data = os.path.join(folder, 'dataset')
  description = json.loads(read(os.path.join(data, 'dataset.json')))
  found['description'] = description
  for split, entry in description['splits'].items():
    # The shuffle's order is fixed by the ids and the seed: the same bytes
    # in the same order on every runner.
    found[split] = [record for name in entry['files']
                    for record in beam_utils.read_tfrecords(os.path.join(data, name))]
  return found


@pytest.fixture(scope='module')
def local(tmp_path_factory):
  folder = str(tmp_path_factory.mktemp('local'))
  return _outputs(folder, *_run(folder))


@pytest.mark.parametrize('runner', ['dask', 'portable'])
def test_the_pipelines_give_the_local_runner_s_outputs(
    runner, local, tmp_path_factory, request):
  fixture = {'dask': 'dask_cluster', 'portable': 'worker_pool'}[runner]
  options = _options(runner, **{fixture: request.getfixturevalue(fixture)})
  folder = str(tmp_path_factory.mktemp(runner))
  found = _outputs(folder, *_run(folder, options))
  assert local['summary']['files_seen'] == 16
  assert local['stats']['examples_train'] > 0 and local['stats']['examples_eval'] > 0
  for key in local:
    assert found[key] == local[key], key


def test_dask_options_are_known_to_the_binaries():
  pytest.importorskip('dask.distributed')
  options = beam_utils.make_pipeline_options(
      ['--runner=DaskRunner', '--dask_client_address=127.0.0.1:8786'])
  assert not beam_utils.is_local(options)
  assert options.get_all_options()['address'] == '127.0.0.1:8786'


def _job_bytes(make_paths):
  """The size of a conversion's job (its runner API proto)."""
  from musicrnn.pipelines import readers  # pylint: disable=import-outside-toplevel
  p = beam_utils.make_pipeline(beam_utils.make_pipeline_options([]))
  _ = make_paths(p) | convert.ReadMusicFiles('/x', 'x', readers.ReadLimits())
  return len(p.to_runner_api().SerializeToString())


def test_the_folder_is_listed_in_the_pipeline_not_in_the_job(tmp_path):
  """The job holds the folder's name, not its files (a million-file corpus
  would not fit in a Dataflow job); the listing gives the paths and the
  counts."""
  # pylint: disable=import-outside-toplevel
  import apache_beam as beam
  from apache_beam.testing import util
  few, many = str(tmp_path / 'a'), str(tmp_path / 'b')
  for folder, n in ((few, 3), (many, 3000)):
    os.makedirs(os.path.join(folder, 'sub'))
    for i in range(n):
      open(os.path.join(folder, 'sub', f'piece_{i:05d}.mid'), 'wb').close()
    open(os.path.join(folder, 'notes.txt'), 'wb').close()
  sizes = {folder: _job_bytes(lambda p, folder=folder: (
      p | convert.ListMusicFiles(folder))['paths']) for folder in (few, many)}
  # The same but for the ids Beam draws for each job.
  assert abs(sizes[few] - sizes[many]) < 200
  # What the listing on the launching machine did: the job grew with every
  # path (compressed, at least a byte each).
  listed = convert.list_music_files(many).music_files
  assert _job_bytes(lambda p: p | beam.Create(listed)) > sizes[many] + 3000

  with beam_utils.make_pipeline(beam_utils.make_pipeline_options([])) as p:
    listed_in_job = p | convert.ListMusicFiles(many)
    paths = (listed_in_job['paths'] | beam.combiners.ToList()
             | beam.Map(sorted))
    counts = beam_utils.sum_counts((listed_in_job[beam_utils.COUNTS_TAG],))
    util.assert_that(paths, util.equal_to([sorted(listed)]), label='Paths')
    util.assert_that(counts, util.equal_to(
        [{'music_files': 3000, 'ignored_files': 1}]), label='Counts')
