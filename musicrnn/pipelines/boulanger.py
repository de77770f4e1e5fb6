"""The polyphonic-music benchmark of Boulanger-Lewandowski, Bengio and
Vincent (ICML 2012): its piano rolls as published, and its unit.

  splits = boulanger.read_mat('JSB_Chorales.mat')
  # {'train': [uint8 [frames, 88], ...], 'valid': [...], 'test': [...]}
  boulanger.frame_nll(probabilities, splits['test'])   # nats per frame

The four datasets of the paper (JSB Chorales, Nottingham, MuseData,
Piano-midi.de) are MATLAB files holding `traindata`, `validdata` and
`testdata`: one array per piece, frames x 88 keys (MIDI 21-108), 0/1. They
are read exactly as published: no resampling, no transposition, the
paper's splits.

The unit of the published tables: the Bernoulli NLL summed over the 88
keys, summed over every predicted frame of every piece of a split, divided
by the number of predicted frames (frame-weighted). A sequence model does
not predict the first frame of a piece (it has no past); the paper's "Note
1-Gram" row predicts every frame (11.06 on JSB test, 10.25 on Nottingham;
without the first frames they would be 11.09 and 10.26). A mean of
per-piece means is a different number.
"""

import numpy as np

from musicrnn.errors import UsageError

KEYS = 88
# MIDI pitch of the first key (A0); the last is 108 (C8).
MIN_PITCH = 21
# The published splits, by the name the paper's files give them.
SPLITS = {'train': 'traindata', 'valid': 'validdata', 'test': 'testdata'}


def read_mat(path):
  """{'train', 'valid', 'test': [uint8 [frames, 88] per piece]} of a
  benchmark `.mat` file.

  Raises:
    UsageError: not a MATLAB file, a split missing, or a piece that is not
      0/1 frames of 88 keys.
  """
  import scipy.io  # pylint: disable=import-outside-toplevel
  try:
    contents = scipy.io.loadmat(path)
  except (OSError, ValueError, TypeError, scipy.io.matlab.MatReadError) as e:
    raise UsageError(f'{path} is not a MATLAB .mat file of the 2012 '
                     f'polyphonic benchmark: {e}') from e
  missing = [name for name in SPLITS.values() if name not in contents]
  if missing:
    raise UsageError(f'{path} has no {", ".join(missing)} (a benchmark file '
                     f'holds {", ".join(SPLITS.values())})')
  splits = {}
  for split, name in SPLITS.items():
    pieces = []
    for i, piece in enumerate(np.ravel(contents[name])):
      piece = np.asarray(piece)
      if piece.ndim != 2 or piece.shape[1] != KEYS or not np.isin(
          piece, (0, 1)).all():
        raise UsageError(f'{path}: piece {i} of {name} is not 0/1 frames of '
                         f'{KEYS} keys (shape {piece.shape})')
      pieces.append(piece.astype(np.uint8))
    splits[split] = pieces
  return splits


def frame_nll(probabilities, rolls, epsilon=1e-7):
  """NLL in nats per predicted frame, the unit of the published tables.

  Args:
    probabilities: per piece, float [predicted frames, 88]: the probability
      of each key sounding in each frame the model predicts, the last ones
      of the piece: all of its frames, or all but the first (a sequence
      model, which predicts a frame from the frames before).
    rolls: per piece, 0/1 [frames, 88].
    epsilon: probabilities are clipped to [epsilon, 1 - epsilon].

  Returns:
    The summed Bernoulli NLL over keys and predicted frames of every piece,
    divided by the number of predicted frames.
  """
  total, frames = 0.0, 0
  for p, roll in zip(probabilities, rolls, strict=True):
    p = np.clip(np.asarray(p, np.float64), epsilon, 1 - epsilon)
    roll = np.asarray(roll, np.float64)
    if p.shape[1:] != roll.shape[1:] or len(p) not in (len(roll), len(roll) - 1):
      raise ValueError(f'probabilities {p.shape} do not cover the frames '
                       f'{roll.shape} of a piece, or all but its first')
    roll = roll[len(roll) - len(p):]
    total -= float(np.sum(roll * np.log(p) + (1 - roll) * np.log1p(-p)))
    frames += len(roll)
  return total / max(frames, 1)


def key_frequencies(rolls):
  """float [88]: how often each key sounds in the frames of `rolls` (the
  "Note 1-Gram" model of the 2012 table predicts these everywhere)."""
  return np.concatenate(rolls).mean(axis=0)
