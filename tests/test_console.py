"""What a person sees: which stderr lines are library noise, and progress
summed across Beam worker processes."""

import logging
import os
import subprocess
import sys

from musicrnn import console
from musicrnn.pipelines import progress


def test_library_start_up_lines_are_noise_and_real_warnings_are_not():
  noise = [
      'WARNING: All log messages before absl::InitializeLog() is called are '
      'written to STDERR',
      'I0000 00:00:1796158563.504362    3255 cudart_stub.cc:31] Could not find '
      'cuda drivers on your machine, GPU will not be used.',
      'E0000 00:00:1796158570.022049    3255 cuda_platform.cc:52] failed call '
      'to cuInit: INTERNAL: CUDA error',
      'To enable the following instructions: AVX2 FMA, in other operations, '
      'rebuild TensorFlow with the appropriate compiler flags.',
      'E0000 00:00:1796240903.863942   13912 util.cc:131] oneDNN supports '
      'DT_INT32 only on platforms with AVX-512. Falling back to the default '
      'Eigen-based implementation if present.',
      'INFO:apache_beam.runners.worker.sdk_worker:Control channel established.',
      'INFO:__main__:Logging handler created.',
      'WARNING:root:apitools not found, and bigquery client libraries are not '
      'available despite the import not raising an ImportError.',
      'WARNING:__main__:No semi_persistent_directory found:  User registered objects',
      "/x/pydub/utils.py:170: RuntimeWarning: Couldn't find ffmpeg or avconv - "
      'defaulting to ffmpeg, but may not work',
      '  warn("Couldn\'t find ffmpeg or avconv - defaulting to ffmpeg, but may '
      'not work", RuntimeWarning)',
  ]
  kept = [
      '21:00:28 musicrnn dataset: config performance_with_dynamics, 1 input files',
      'WARNING:root:musicrnn convert: reader child restarted after a crash',
      'E0000 00:00:1796158570.022049    3255 bfc_allocator.cc:485] Allocator ran '
      'out of memory trying to allocate 2.0GiB',
      'Traceback (most recent call last):',
      'musicrnn_train: error: --num_steps must be at least 1, got 0',
  ]
  assert [line for line in noise if not console.is_noise(line)] == []
  assert [line for line in kept if console.is_noise(line)] == []


def test_verbose_is_read_before_flags_are_parsed():
  assert console.verbose_requested(['musicrnn_train', '--run_dir=r', '--verbose'])
  assert not console.verbose_requested(['musicrnn_train', '--noverbose'])
  assert not console.verbose_requested(['musicrnn_train', '--verbose=false'])


def test_progress_is_summed_over_the_counters_of_every_worker():
  with progress.Reporter('convert', 'files', total=10, interval=3600) as reporter:
    first = progress.Counter(reporter.folder, 'convert', 'files')
    second = progress.Counter(reporter.folder, 'convert', 'files')
    for _ in range(3):
      first.add()
    second.add(failed=1)
    second.add()
    first.flush()
    second.flush()
    assert reporter.counts() == (5, 1, 0)
    # The first line that shows work done gives no time left: the time so
    # far went mostly to starting the pipeline.
    first_line = reporter.line(5, 1, elapsed=2.0)
    # Later lines count from it: 4 more files in 0.5 s.
    line = reporter.line(9, 1, elapsed=2.5, first=(5, 2.0))
    folder = reporter.folder
  assert first_line == 'musicrnn convert: 5/10 files (50%), 1 failed, 2.5 files/s'
  assert line == ('musicrnn convert: 9/10 files (90%), 1 failed, 8.0 files/s, '
                  'about 1 s left')
  assert not os.path.exists(folder)


def test_a_total_listed_in_the_pipeline_reaches_the_progress_line():
  with progress.Reporter('convert', 'files', interval=3600) as reporter:
    lister = progress.Counter(reporter.folder, 'convert', 'files')
    worker = progress.Counter(reporter.folder, 'convert', 'files')
    assert reporter.line(*reporter.counts()[:2], elapsed=1.0) == (
        'musicrnn convert: 0 files (of a total not known yet)')
    lister.add_total(6)
    lister.add_total(2)
    worker.add(4)
    lister.flush()
    worker.flush()
    done, failed, listed = reporter.counts()
    assert (done, failed, listed) == (4, 0, 8)
    assert reporter.line(done, failed, 2.0, listed, first=(2, 1.0)) == (
        'musicrnn convert: 4/8 files (50%), 2.0 files/s, about 2 s left')


def test_without_a_shared_folder_each_worker_logs_its_own_counts(caplog):
  caplog.set_level(logging.INFO)
  with progress.Reporter('dataset', 'NoteSequences', enabled=False) as reporter:
    assert reporter.folder is None
    counter = progress.Counter(reporter.folder, 'dataset', 'NoteSequences')
    counter.add()
  assert 'this worker has done 1 NoteSequences (0 failed)' in caplog.text


def test_a_program_s_stderr_is_filtered_and_keeps_its_order_with_stdout():
  """As a program (not a test) sees it: library noise written straight to
  descriptor 2, by the program or its children, is dropped; what remains
  reaches the terminal in the order written, stdout lines included."""
  code = '\n'.join([
      'import os, subprocess, sys',
      'from musicrnn import console',
      'console.quiet(["musicrnn_x"])',
      'print("musicrnn: first, to stderr", file=sys.stderr)',
      'os.write(2, b"I0000 00:00:1.5    7 cudart_stub.cc:31] no GPU\\n")',
      'subprocess.run([sys.executable, "-c", "import sys; '
      'print(\'INFO:apache_beam:worker chatter\', file=sys.stderr); '
      'print(\'WARNING:root:a real warning from a worker\', file=sys.stderr)"])',
      'print("second, to stdout")',
      'print("third, to stderr", file=sys.stderr)',
      'print("fourth, to stdout")',
  ])
  result = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
  assert result.returncode == 0, result.stdout
  assert result.stdout.splitlines() == [
      'musicrnn: first, to stderr', 'WARNING:root:a real warning from a worker',
      'second, to stdout', 'third, to stderr', 'fourth, to stdout']


def test_a_program_whose_stderr_reader_went_away_does_not_hang():
  """`musicrnn_x 2>&1 | head -1`: once nobody reads the terminal side, the
  filter drops what comes, and writers never block on a full pipe."""
  code = '\n'.join([
      'import sys, time',
      'from musicrnn import console',
      'console.quiet(["musicrnn_x"])',
      'print("first", file=sys.stderr, flush=True)',
      'time.sleep(0.5)',
      'for _ in range(2000):',
      '  print("x" * 200, file=sys.stderr)',
      '  print("y")',
      'print("done", file=sys.stderr)',
  ])
  process = subprocess.Popen([sys.executable, '-c', code],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  assert process.stderr.readline() == b'first\n'
  process.stderr.close()
  assert process.wait(timeout=60) == 0
