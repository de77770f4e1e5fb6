"""A global shuffle of records into shards, in bounded memory on any runner.

  shards = (keyed_records          # (example id, serialized record)
            | ShuffleToShards(folder, 'train', num_shards=8, seed=0))

Every record goes to one of `num_shards` shards, chosen by a hash of its id
and the seed, and each shard is written sorted by a second hash: the shards,
read one after another, are a uniformly random permutation of the records,
the same for the same ids and seed whatever the runner or worker count.

Two stages, so no runner holds the records in memory (a GroupByKey of the
records themselves would: the local runner keeps all of it in RAM):

  1. each bundle appends every record to a temporary file per shard (at most
     `num_shards` files open per worker), and yields a (shard, file) pair as
     it opens each file (not when the bundle ends: Beam's DaskRunner drops
     what `finish_bundle` yields);
  2. a GroupByKey of those (small) pairs gives each shard its files; one
     worker reads a shard's records (about 1/num_shards of the data), sorts
     them and writes the shard. The temporary files are left for the caller
     to delete with its staging folder (a retried step reads them again).

Yields (shard index, path, records) for every non-empty shard; the caller
names them in the end (musicrnn_create_dataset: train.tfrecord-SSSSS-of-NNNNN).
"""

import hashlib
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from musicrnn.pipelines import beam_utils

_KEY_BYTES = 8


def order_key(example_id, seed):
  """8 pseudo-random bytes per (id, seed): the first 4 pick the shard, all 8
  order the shard."""
  return hashlib.sha256(f'{seed}\0{example_id}'.encode('utf-8')).digest()[:_KEY_BYTES]


def shard_of(key, num_shards):
  return int.from_bytes(key[:4], 'big') % num_shards


class _WriteBuckets(beam.DoFn):
  """(id, record) -> the record, prefixed by its order key, appended to its
  shard's temporary file of this bundle; (shard, file) when the bundle opens
  the file. The files are closed when the bundle ends, before any runner
  hands the pairs on."""

  def __init__(self, folder, num_shards, seed):
    self._folder = folder
    self._num_shards = num_shards
    self._seed = seed

  def start_bundle(self):
    self._files = {}
    self._bundle = uuid.uuid4().hex[:16]

  def process(self, element):
    example_id, record = element
    key = order_key(example_id, self._seed)
    shard = shard_of(key, self._num_shards)
    entry = self._files.get(shard)
    if entry is None:
      path = beam_utils.join(self._folder, f'{shard:05d}-{self._bundle}')
      entry = self._files[shard] = (path, FileSystems.create(path))
      yield shard, path
    beam_utils.write_tfrecord(entry[1], key + record)

  def finish_bundle(self):
    files, self._files = self._files, {}
    for _, handle in files.values():
      handle.close()

  def teardown(self):
    # A bundle that failed leaves its files open: close them (the retry
    # writes new ones; the failed attempt's are never read).
    for _, handle in getattr(self, '_files', {}).values():
      try:
        handle.close()
      except Exception:  # pylint: disable=broad-except
        pass


class _WriteShard(beam.DoFn):
  """(shard, [temporary files]) -> the shard's records, sorted by their order
  key (then their bytes: ids repeated across inputs keep one order), written
  to `prefix-SSSSS`; or, unsorted, streamed in the order of the files. The
  temporary files stay until the caller removes the folder, so a retried
  step reads them again."""

  def __init__(self, prefix, sort):
    self._prefix = prefix
    self._sort = sort

  def process(self, element):
    shard, paths = element
    records = (record for path in sorted(paths)
               for record in beam_utils.read_tfrecords(path))
    if self._sort:
      records = sorted(records)
    path = f'{self._prefix}-{shard:05d}'
    count = 0
    with FileSystems.create(path) as f:
      for record in records:
        beam_utils.write_tfrecord(f, record[_KEY_BYTES:])
        count += 1
    yield shard, path, count


class ShuffleToShards(beam.PTransform):
  """(id, serialized record) -> shards `folder/name-SSSSS` in a random order
  fixed by the ids and `seed`; yields (shard, path, number of records).

  `sort=False` keeps each shard out of memory: a record's shard is still
  fixed by its id, its place in the shard is not (musicrnn_convert's
  NoteSequences, whose order nothing depends on).
  """

  def __init__(self, folder, name, num_shards, seed=0, sort=True):
    super().__init__()
    if num_shards < 1:
      raise ValueError(f'num_shards must be at least 1, got {num_shards}')
    self._folder = folder
    self._name = name
    self._num_shards = num_shards
    self._seed = seed
    self._sort = sort

  def expand(self, records):
    scratch = beam_utils.join(self._folder, f'{self._name}.buckets')
    return (records
            | 'WriteBuckets' >> beam.ParDo(_WriteBuckets(
                scratch, self._num_shards, self._seed))
            | 'GroupBuckets' >> beam.GroupByKey()
            | 'WriteShards' >> beam.ParDo(_WriteShard(
                beam_utils.join(self._folder, self._name), self._sort)))
