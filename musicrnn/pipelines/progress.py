"""One progress line for a local Beam run, summed across worker processes.

With `--direct_running_mode=multi_processing` every worker process runs its
own copies of a DoFn, and no process sees the others' counts. Each DoFn
copy writes its counts to a small file of its own in a shared local folder;
the driver sums the files and logs one line every few seconds:

  with progress.Reporter('convert', 'files', total=1615) as reporter:
    ... beam.ParDo(MyDoFn(progress_dir=reporter.folder)) ...

  class MyDoFn(beam.DoFn):
    def setup(self):
      self._progress = progress.Counter(self._progress_dir, 'convert', 'files')
    def process(self, element):
      ...
      self._progress.add(failed=...)

On other runners (Dataflow, Flink, Spark) there is no shared folder: pass
`progress_dir=None` and each DoFn copy logs its own counts, which the
runner's log viewer shows by worker.
"""

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid

_WRITE_SECONDS = 1.0
_REPORT_SECONDS = 10.0
_FIRST_REPORT_SECONDS = 3.0
_POLL_SECONDS = 1.0


class Counter:
  """Counts the items one DoFn copy has done (and how many failed).

  Args:
    folder: the Reporter's folder, or None to log this copy's counts.
    label: what the run is called in the log line ('convert').
    unit: what is counted ('files').
  """

  def __init__(self, folder, label, unit):
    self._folder = folder
    self._label = label
    self._unit = unit
    self._path = folder and os.path.join(folder, f'{uuid.uuid4().hex}.json')
    self.done = 0
    self.failed = 0
    self.total = 0
    self._start = time.time()
    self._last = 0.0

  def add(self, n=1, failed=0):
    self.done += n
    self.failed += failed
    self.flush(force=False)

  def add_total(self, n):
    """Adds `n` to the run's total (for work that is listed in the
    pipeline, such as the files of an input folder)."""
    self.total += n
    self.flush(force=False)

  def flush(self, force=True):
    """Writes the counts, at most once a second unless `force`; without a
    folder, logs them, at most every 10 s."""
    now = time.time()
    if self._folder is None:
      if now - self._last >= _REPORT_SECONDS:
        self._last = now
        logging.info('musicrnn %s: this worker has done %d %s (%d failed), '
                     '%.1f/s', self._label, self.done, self._unit, self.failed,
                     self.done / max(now - self._start, 1e-9))
      return
    if not force and now - self._last < _WRITE_SECONDS:
      return
    self._last = now
    tmp = f'{self._path}.tmp'
    try:
      with open(tmp, 'w', encoding='utf-8') as f:
        json.dump({'done': self.done, 'failed': self.failed,
                   'total': self.total}, f)
      os.replace(tmp, self._path)
    except OSError:
      pass  # the run has ended and its folder is gone: nothing to report


class Reporter:
  """Logs the summed counts of every Counter writing to `folder`.

  A context manager: unless `enabled` is False (a remote runner, whose
  workers cannot reach a local folder), a thread logs `musicrnn LABEL: 812/1615 files (50%),
  3 failed, 24.1 files/s, about 33 s left` every `interval` seconds while
  the counts move, and the folder is removed on exit. Without a `total`,
  the Counters' `add_total` calls give it.
  """

  def __init__(self, label, unit, total=None, interval=_REPORT_SECONDS,
               enabled=True):
    self.label = label
    self.unit = unit
    self.total = total
    self.interval = interval
    self.enabled = enabled
    self.folder = None
    self._stop = threading.Event()
    self._thread = None
    self._start = None
    self._reported = None
    self._first = None

  def __enter__(self):
    if not self.enabled:
      # folder None: each Counter logs its own counts
      logging.info('musicrnn %s: each worker logs its own progress (the '
                   'runner\'s log viewer shows it by worker)', self.label)
      return self
    self.folder = tempfile.mkdtemp(prefix=f'musicrnn-{self.label}-progress-')
    self._start = time.time()
    self._thread = threading.Thread(target=self._loop, daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc):
    if not self.enabled:
      return False
    self._stop.set()
    self._thread.join()
    shutil.rmtree(self.folder, ignore_errors=True)
    return False

  def counts(self):
    """(done, failed, total), summed over the Counters' files."""
    done = failed = total = 0
    for name in os.listdir(self.folder):
      if not name.endswith('.json'):
        continue
      try:
        with open(os.path.join(self.folder, name), encoding='utf-8') as f:
          record = json.load(f)
      except (OSError, ValueError):
        continue  # replaced while being read: counted next time
      done += record.get('done', 0)
      failed += record.get('failed', 0)
      total += record.get('total', 0)
    return done, failed, total

  def line(self, done, failed, elapsed, listed=0, first=None):
    """The progress line; `listed`: the Counters' total, used when the
    Reporter was given none. `first`: (done, elapsed) when a line first
    showed work done. The rate and the time left count from there: the
    time before it went to starting the pipeline and its workers, which
    the rest of the run does not pay again. Until then, the line gives the
    rate since the start and no time left."""
    if first is not None and done > first[0] and elapsed > first[1]:
      rate = (done - first[0]) / (elapsed - first[1])
      since_first = True
    else:
      rate = done / max(elapsed, 1e-9)
      since_first = False
    total = self.total or listed
    text = f'musicrnn {self.label}: {done}'
    if total:
      text += f'/{total} {self.unit} ({100 * done / total:.0f}%)'
    else:
      text += f' {self.unit} (of a total not known yet)'
    if failed:
      text += f', {failed} failed'
    if done:
      text += f', {rate:.1f} {self.unit}/s'
    if total and 0 < done < total and rate > 0 and since_first:
      text += f', about {max(1, round((total - done) / rate))} s left'
    return text

  def _loop(self):
    # A first line soon, showing the run has started; then a line every
    # interval while the counts move, and one as soon as a total listed in
    # the pipeline changes (the listing is done: the line gains its '/N').
    first = min(_FIRST_REPORT_SECONDS, self.interval)
    next_report = time.time() + first
    reported_listed = 0
    while not self._stop.wait(min(_POLL_SECONDS, first)):
      now = time.time()
      due = now >= next_report
      if not due and (self.total or not self._listed_changed(reported_listed)):
        continue
      done, failed, listed = self.counts()
      if (done, listed) != self._reported:
        self._reported = (done, listed)
        reported_listed = listed
        logging.info('%s', self.line(done, failed, now - self._start, listed,
                                     self._first))
        if done and self._first is None:
          self._first = (done, now - self._start)
      if due:
        next_report = now + self.interval

  def _listed_changed(self, reported):
    return self.counts()[2] != reported
