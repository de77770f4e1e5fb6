"""The train/eval split: a hash of each source's id, never a random draw.

Rebuilding a dataset gives the same split, and every augmented or chunked
piece of one source lands in the split of its source. musicrnn_create_dataset
(`pipelines.dataset`), the TFDS builders and the musical metrics (real music
held out from training) all split with this module.

  split = splits.split_of(sequence, eval_ratio=0.1)   # 'train' or 'eval'
"""

import hashlib
import os

from musicrnn.errors import UsageError

SPLITS = ('train', 'eval')


def is_eval(key, eval_ratio):
  """Deterministic split: the first 8 bytes of SHA-256(key) as a fraction.

  Args:
    key: the text the split hashes (`split_key`).
    eval_ratio: fraction of keys in eval, in [0, 1].

  Returns:
    True when `key` falls in the eval split.
  """
  digest = hashlib.sha256(key.encode('utf-8')).digest()
  return int.from_bytes(digest[:8], 'big') / 2.0**64 < eval_ratio


def split_key(sequence, split_by):
  """The key the eval split hashes: the id, or the file's folder.

  Args:
    sequence: a NoteSequence (its id, filename and collection_name are read).
    split_by: 'id' (each source file) or 'folder' (every file of one folder
      together; a file at the top of the collection keeps its id).

  Raises:
    UsageError: `split_by` is neither.
  """
  if split_by == 'id':
    return sequence.id
  if split_by == 'folder':
    folder = os.path.dirname(sequence.filename)
    return f'{sequence.collection_name}/{folder}' if folder else sequence.id
  raise UsageError(f"data.split_by must be 'id' or 'folder', got {split_by!r}")


def split_of(sequence, eval_ratio, split_by='id'):
  """'eval' or 'train': the split `sequence` belongs to."""
  return 'eval' if is_eval(split_key(sequence, split_by), eval_ratio) else 'train'
