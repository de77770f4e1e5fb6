"""Helpers every musicrnn Beam pipeline shares.

- `make_pipeline_options`: Beam options from pass-through command-line args,
  DirectRunner by default, with unknown args refused instead of ignored.
- `StagedOutputs`: outputs are written under a hidden staging folder beside
  their final place and renamed into place only when the whole pipeline has
  succeeded, the completeness marker (the summary) last. A failed or killed
  run leaves no output that looks complete, and its rerun replaces what it
  left; an existing complete output is refused unless `overwrite` is set.
- `Tally`: a named Beam counter that is also emitted as data, so that a run's
  summary counts come from the pipeline itself on every runner.
- `ParDoWithOutputs` and `end`: what every runner musicrnn is tested on can
  run (see their docstrings: Beam's DaskRunner runs neither a multi-output
  ParDo nor more than one sink).
"""

import difflib
import json
import logging
import os
import posixpath
import re
import struct
import uuid

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io import tfrecordio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options import pipeline_options as beam_options

from musicrnn.errors import UsageError
from musicrnn.errors import first_line

COUNTS_TAG = 'counts'


def _beam_argument_parser():
  """An argparse parser that knows every registered Beam pipeline option."""
  parser = beam_options._BeamArgumentParser(allow_abbrev=False)  # pylint: disable=protected-access
  seen = set()
  for cls in beam_options.PipelineOptions.__subclasses__():
    if str(cls) in seen:
      continue
    seen.add(str(cls))
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  return parser


DASK_RUNNER_NAMES = ('DaskRunner', 'dask')


def _register_dask_options(beam_args):
  """Imports Beam's Dask runner, whose options (--dask_client_address, ...)
  exist only once its module is imported, when `beam_args` ask for it."""
  if not any(a.lstrip('-').startswith('dask_') or a.split('=', 1)[-1] in
             DASK_RUNNER_NAMES for a in beam_args):
    return
  try:
    import apache_beam.runners.dask.dask_runner  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  except ImportError as e:
    raise UsageError(
        f'the Dask runner needs dask ({first_line(e)}); install it with '
        'pip install -e ".[dask]" (or pip install "dask[distributed]")') from e


def make_pipeline_options(beam_args, own_flags=()):
  """Builds PipelineOptions from the args an entry point did not consume.

  Args:
    beam_args: command-line args left after the entry point parsed its own
      flags, e.g. ['--runner=DataflowRunner', '--project=p'].
    own_flags: names of the entry point's own flags, to suggest on a typo.

  Returns:
    PipelineOptions, with `--runner` defaulting to DirectRunner.

  Raises:
    UsageError: an arg is neither a Beam pipeline option nor one of ours,
      naming the closest valid flag.
  """
  beam_args = list(beam_args)
  _register_dask_options(beam_args)
  try:
    parser = _beam_argument_parser()
  except AttributeError:  # Beam changed its private parser: skip the check.
    parser = None
  if parser is not None:
    _, unknown = parser.parse_known_args(beam_args)
    unknown = [a for a in unknown if a.startswith('-')]
    if unknown:
      known = [o for a in parser._actions for o in a.option_strings]  # pylint: disable=protected-access
      known += ['--' + f for f in own_flags]
      name = unknown[0].split('=', 1)[0]
      hint = difflib.get_close_matches(name, known, n=1)
      raise UsageError(
          f'unknown flag {name}'
          + (f' (did you mean {hint[0]}?)' if hint else '')
          + '; flags that are not this program\'s own must be Beam pipeline '
          'options (see --helpfull)')
  options = beam_options.PipelineOptions(beam_args)
  standard = options.view_as(beam_options.StandardOptions)
  if not standard.runner:
    standard.runner = 'DirectRunner'
  return options


def make_pipeline(options):
  """A beam.Pipeline for `options`, run locally without fetching anything.

  Beam's DirectRunner first tries the Prism runner, which downloads a binary
  at run time; musicrnn must not download anything. For DirectRunner we run
  the FnApiRunner (what DirectRunner falls back to for batch pipelines, and
  what honours --direct_running_mode and --direct_num_workers) ourselves.
  `--runner=DaskRunner` is Beam's Dask runner (which Beam knows only by its
  module path). Every other runner (Dataflow, Flink, Spark, Portable, Prism,
  ...) is Beam's own.
  """
  runner = options.view_as(beam_options.StandardOptions).runner
  if runner in DASK_RUNNER_NAMES:
    _register_dask_options(['--runner=DaskRunner'])
    from apache_beam.runners.dask import dask_runner  # pylint: disable=import-outside-toplevel
    _spread_on_reshuffle()
    # Its Create warns, once per Create, that its default partition size
    # changed in Beam 2.6x; the Reshuffles above set the partitions that count.
    logging.getLogger('apache_beam.runners.dask.transform_evaluator').setLevel(
        logging.ERROR)
    return _DaskPipeline(runner=dask_runner.DaskRunner(), options=options)
  if not is_local(options):
    return beam.Pipeline(options=options)
  # pylint: disable=import-outside-toplevel
  from apache_beam.portability.api import beam_provision_api_pb2
  from apache_beam.runners.portability import portable_runner
  from apache_beam.runners.portability.fn_api_runner import fn_runner
  encoded = portable_runner.JobServiceHandle.encode_pipeline_options(
      options.get_all_options())
  provision_info = fn_runner.ExtendedProvisionInfo(
      beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
  return beam.Pipeline(
      runner=fn_runner.FnApiRunner(provision_info=provision_info),
      options=options)


def _spread_on_reshuffle():
  """Makes Beam's DaskRunner run a Reshuffle as a split of its input into
  more partitions (--dask_npartitions, default two per Dask worker) instead
  of as nothing.

  Beam's DaskRunner keeps the partitions of a pipeline's `Create` all the way
  through: musicrnn_convert starts from one element (the input folder), so
  without this every file would be read in one partition by one worker. A
  partition sets its DoFns up again (convert starts a parsing process), so
  they are few and large.
  """
  # pylint: disable=import-outside-toplevel,protected-access
  from apache_beam.runners.dask import overrides
  from apache_beam.runners.dask import transform_evaluator

  class Spread(transform_evaluator.DaskBagOp):

    def apply(self, input_bag, side_inputs=None):
      wanted = self.bag_kwargs.get('npartitions') or 2 * _dask_workers()
      if input_bag.npartitions >= wanted:
        return input_bag
      return input_bag.repartition(npartitions=wanted)

  transform_evaluator.TRANSLATIONS[overrides._Reshuffle] = Spread


def _dask_workers():
  """The workers of the Dask cluster the runner is connected to (1 if that
  cannot be told)."""
  try:
    from dask import distributed  # pylint: disable=import-outside-toplevel
    return max(1, len(distributed.default_client().scheduler_info()['workers']))
  except Exception:  # pylint: disable=broad-except
    return 1


class _DaskPipeline(beam.Pipeline):
  """A pipeline that closes the Dask client its runner opened (and the
  local cluster the client started, without --dask_client_address) once the
  run has ended; Beam's DaskRunner leaves it open."""

  def __exit__(self, exc_type, exc_val, exc_tb):
    try:
      super().__exit__(exc_type, exc_val, exc_tb)
    finally:
      client = getattr(getattr(self, 'result', None), 'client', None)
      if client is not None:
        client.close()


def is_local(options):
  """True when `options` run the pipeline on this machine (DirectRunner)."""
  runner = options.view_as(beam_options.StandardOptions).runner
  return runner in (None, 'DirectRunner', 'direct', 'Direct')


def runs_in_this_process(options):
  """True when `options` run the pipeline's DoFns in this very process (the
  DirectRunner in memory or on threads), not in worker processes."""
  return is_local(options) and options.view_as(
      beam_options.DirectOptions).direct_running_mode != 'multi_processing'


def join(base, *parts):
  """os.path.join for local paths, '/'-joins for URLs (gs://, s3://, ...)."""
  if '://' in base:
    return posixpath.join(base, *parts)
  return os.path.join(base, *parts)


def exists(path):
  return FileSystems.exists(path)


def matching(pattern):
  """Paths matching a glob pattern (any Beam file system), sorted."""
  result = FileSystems.match([pattern])[0]
  return sorted(m.path for m in result.metadata_list)


def count_records(path):
  """The number of records in a TFRecord file, read by seeking from header
  to header (no record is read or checked)."""
  count = 0
  with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
    while True:
      header = f.read(12)
      if len(header) < 12:
        return count
      length, = struct.unpack('<Q', header[:8])
      f.seek(length + 4, os.SEEK_CUR)
      count += 1


_SHARD = re.compile(r'^(.*)-(\d{5})-of-(\d{5})$')


def check_whole_shard_sets(paths):
  """Raises UsageError when `paths` hold part of a set of shards
  (`name-00001-of-00004` without all four): the output of a run killed while
  publishing, or a copy that lost files."""
  sets = {}
  for path in paths:
    match = _SHARD.match(path)
    if match:
      sets.setdefault((match.group(1), int(match.group(3))), set()).add(
          int(match.group(2)))
  for (prefix, total), found in sorted(sets.items()):
    if found != set(range(total)):
      missing = sorted(set(range(total)) - found)
      raise UsageError(
          f'{prefix}-*-of-{total:05d} is incomplete: shard(s) '
          f'{", ".join(str(m) for m in missing[:5])} of {total} missing; '
          'rerun the program that wrote it')


class StagedOutputs:
  """Outputs written to a staging folder, published whole at the end.

  Usage:
    staged = StagedOutputs(output_dir, name, overwrite, marker=final_marker)
    staged.refuse_existing(final_patterns)   # before the long run
    ... pipeline writes under staged.dir ...
    staged.publish([(staged_path, final_path), ...], (staged_marker, final_marker),
                   final_patterns)

  The marker (a run's summary) is published last, so outputs without it are
  the leftovers of a run killed while publishing: they are replaced without
  `overwrite`, with a warning. So are staging folders of killed runs.
  """

  def __init__(self, output_dir, name, overwrite, marker=None):
    self.output_dir = output_dir
    self.overwrite = overwrite
    self.marker = marker
    self._prefix = f'.{name}.staging-'
    self.dir = join(output_dir, self._prefix + uuid.uuid4().hex[:12])

  def path(self, *parts):
    return join(self.dir, *parts)

  def existing(self, patterns):
    found = []
    for pattern in patterns:
      found.extend(matching(pattern))
    return sorted(set(found))

  def refuse_existing(self, patterns):
    """Raises UsageError when a complete output exists and overwrite is not
    set; removes staging folders that killed runs left behind.

    Returns:
      The existing outputs (to be replaced).
    """
    stale = self._stale_staging()
    if stale:
      logging.warning('removing %d staging folder(s) of an interrupted run: %s',
                      len(stale), ', '.join(stale))
      FileSystems.delete(stale)
    found = self.existing(patterns)
    complete = self.marker is None or self.marker in found
    if found and complete and not self.overwrite:
      shown = ', '.join(found[:3]) + (' ...' if len(found) > 3 else '')
      raise UsageError(
          f'output already exists: {shown}; choose another output or pass '
          '--overwrite to replace it')
    if found and not complete:
      logging.warning('replacing the incomplete output of an interrupted run '
                      '(no %s): %s', self.marker, ', '.join(found))
    return found

  def _stale_staging(self):
    """Staging folders of other (killed) runs of this output."""
    if '://' not in self.output_dir:
      if not os.path.isdir(self.output_dir):
        return []
      names = os.listdir(self.output_dir)
    else:  # object stores: a folder is the prefix of its files
      start = len(self.output_dir.rstrip('/')) + 1
      names = {p[start:].split('/')[0] for p in
               matching(join(self.output_dir, self._prefix + '*', '**'))}
    return sorted(join(self.output_dir, n) for n in names
                  if n.startswith(self._prefix) and join(self.output_dir, n) != self.dir)

  def publish(self, moves, marker, replace_patterns):
    """Moves staged files into place, the marker file last.

    Args:
      moves: list of (staged_path, final_path), published in order.
      marker: (staged_path, final_path) of the file whose presence says the
        output is complete; published after everything else.
      replace_patterns: globs of the previous outputs to delete first (only
        reached with overwrite set, when there are none, or when they are
        incomplete).
    """
    old = self.refuse_existing(replace_patterns)
    if old:
      # Remove the old marker first: from here until the new marker lands,
      # the output does not look complete.
      old_sorted = sorted(old, key=lambda p: p != marker[1])
      FileSystems.delete(old_sorted)
    for src, dst in list(moves) + [marker]:
      FileSystems.rename([src], [dst])
    self.cleanup()

  def cleanup(self):
    if FileSystems.exists(self.dir):
      try:
        FileSystems.delete([self.dir])
      except Exception:  # pylint: disable=broad-except
        logging.warning('could not remove staging folder %s', self.dir)


class Tally:
  """Named Beam counters that double as data for the run summary.

  `tally(name, n)` increments the Beam counter `namespace:name` (visible in
  runner UIs) and returns a tagged output ('counts', (name, n)) that a DoFn
  yields, so the pipeline can total the counts itself.
  """

  def __init__(self, namespace):
    self.namespace = namespace
    self._counters = {}

  def __call__(self, name, n=1):
    counter = self._counters.get(name)
    if counter is None:
      counter = self._counters[name] = Metrics.counter(self.namespace, name)
    counter.inc(n)
    return beam.pvalue.TaggedOutput(COUNTS_TAG, (name, n))


class _TagOutputs(beam.DoFn):
  """Runs `fn` and yields each of its outputs as (tag, value), the main
  ones under `main`."""

  def __init__(self, fn, main):
    self._fn = fn
    self._main = main

  def setup(self):
    self._fn.setup()

  def start_bundle(self):
    self._fn.start_bundle()

  def process(self, element):
    for output in self._fn.process(element) or ():
      if isinstance(output, beam.pvalue.TaggedOutput):
        yield output.tag, output.value
      else:
        yield self._main, output

  def finish_bundle(self):
    if list(self._fn.finish_bundle() or ()):
      raise ValueError(f'{type(self._fn).__name__}.finish_bundle yields '
                       'outputs, which some runners drop (Dask)')

  def teardown(self):
    self._fn.teardown()


class _OnlyTag(beam.DoFn):

  def __init__(self, tag):
    self._tag = tag

  def process(self, element):
    tag, value = element
    if tag == self._tag:
      yield value


class ParDoWithOutputs(beam.PTransform):
  """`beam.ParDo(fn).with_outputs(*tags, main=main)` for every runner.

  `fn` yields its main outputs and `beam.pvalue.TaggedOutput`s as usual;
  the result is a dict, tag -> PCollection (the main one under `main`).
  Beam's DaskRunner puts every output of a multi-output ParDo into each of
  its PCollections; here the DoFn has one output of (tag, value) pairs and
  each tag is picked out by a ParDo of its own, which every runner runs
  (fused with the DoFn on the local and portable runners).
  """

  def __init__(self, fn, *tags, main='main'):
    super().__init__()
    self._fn = fn
    self._tags = tags
    self._main = main

  def expand(self, pcoll):
    tagged = pcoll | 'Run' >> beam.ParDo(_TagOutputs(self._fn, self._main))
    return {tag: tagged | f'Only_{tag}' >> beam.ParDo(_OnlyTag(tag))
            for tag in (self._main,) + tuple(self._tags)}


def end(*results):
  """Joins the last PCollections of a pipeline's branches (what its sinks
  return) into one, applied last.

  Beam's DaskRunner computes only the last transform applied and what it
  depends on: without this, a pipeline's other sinks would not run there.
  """
  return (results
          | 'EndFlatten' >> beam.Flatten()
          | 'End' >> beam.Filter(lambda unused: False))


def _gather(pcoll, label):
  """All elements of `pcoll` as one list, in one element (none when the
  collection is empty): a GroupByKey on one key, which every runner runs
  (`beam.combiners.ToList` fills an empty input from a side input, which
  Beam's DaskRunner computes again from the start of the pipeline)."""
  return (pcoll
          | f'{label}Key' >> beam.Map(lambda element: (None, element))
          | f'{label}Group' >> beam.GroupByKey()
          | f'{label}Values' >> beam.Map(lambda keyed: list(keyed[1])))


def sum_counts(count_pcolls, label='SumCounts'):
  """Sums ('name', n) pairs into a PCollection of one dict, name -> total."""
  return (
      _gather(count_pcolls
              | f'{label}Flatten' >> beam.Flatten()
              | f'{label}Sum' >> beam.CombinePerKey(sum), f'{label}Gather')
      | f'{label}Dict' >> beam.Map(lambda kv: dict(sorted(kv))))


class _WriteLines(beam.DoFn):

  def __init__(self, path):
    self._path = path

  def process(self, lines):
    with FileSystems.create(self._path) as f:
      for line in sorted(lines):
        f.write(line.encode('utf-8') + b'\n')
    yield self._path


class WriteLines(beam.PTransform):
  """Strings -> the text file `path`, one per line in sorted order, written
  by one worker at once (no temporary files, no side inputs: Beam's
  WriteToText needs both, and Beam's DaskRunner computes every side input
  again from the start of the pipeline). For small outputs: dead letters,
  counts. An empty collection writes nothing (`read_text` gives '').
  Yields the path."""

  def __init__(self, path):
    super().__init__()
    self._path = path

  def expand(self, lines):
    return (_gather(lines, 'Gather')
            | 'Write' >> beam.ParDo(_WriteLines(self._path)))


def read_text(path):
  """The text of a `WriteLines` file; '' when it wrote nothing."""
  if not FileSystems.exists(path):
    return ''
  with FileSystems.open(path) as f:
    return f.read().decode('utf-8')


def total_counts(count_pcolls, path, label='TotalCounts'):
  """Sums ('name', n) pairs and writes them as one JSON object to `path`."""
  return (
      sum_counts(count_pcolls, label)
      | f'{label}Json' >> beam.Map(json.dumps)
      | f'{label}Write' >> WriteLines(path))


def read_counts(path):
  """The counts `total_counts` wrote ({} when there were none)."""
  return json.loads(read_text(path) or '{}')


def write_tfrecord(file_handle, record):
  """Appends one record to an open file in TFRecord framing (Beam's own
  encoder, the one WriteToTFRecord uses)."""
  tfrecordio._TFRecordUtil.write_record(file_handle, record)  # pylint: disable=protected-access


def read_tfrecords(path):
  """Yields the records of a TFRecord file (any Beam file system), checking
  each record's checksums."""
  with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
    while True:
      record = tfrecordio._TFRecordUtil.read_record(f)  # pylint: disable=protected-access
      if record is None:
        return
      yield record
