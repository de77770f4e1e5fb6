"""Musical statistics of generated music against real music (numpy; the
note cap is the performance encoding's MAX_NOTE_DURATION_SECONDS).

  stats = music.sequence_stats(sequence)
  report = music.compare(generated_sequences, eval_sequences,
                         training_sequences=train_sequences)

Per NoteSequence (`sequence_stats`):
  pitch_class_histogram  notes per pitch class (12 counts)
  velocity_histogram     notes per velocity bin (VELOCITY_BIN_EDGES)
  ioi_histogram          inter-onset intervals per bin (IOI_BIN_EDGES, s):
                         the gaps between successive distinct onset times
  duration_histogram     note durations per bin (DURATION_BIN_EDGES, s):
                         log-spaced from 10 ms; the last bin, from
                         LONG_NOTE_SECONDS up, holds the notes generation's
                         note cap ended
  pitch_range            highest minus lowest pitch (semitones)
  pitches_used           distinct pitches
  polyphony              notes sounding at once, averaged over the time at
                         least one sounds
  notes_per_second       notes / (last note end - first note start)
  empty_beat_rate        share of beats (at the first tempo, 120 qpm if none)
                         between the first onset and the last note end in
                         which no note sounds
  scale_consistency      the largest share of notes in one major scale
                         (Mogren 2016; natural minors are modes of these)
  long_note_share        share of notes lasting LONG_NOTE_SECONDS or more:
                         in generated music, the notes the note cap
                         (performance.MAX_NOTE_DURATION_SECONDS, 5 s) ended;
                         in real music, the notes the cap would cut

`compare` pools the histograms of each set and gives their total-variation
distance (0: same distribution, 1: disjoint), the mean and standard
deviation of every scalar for both sets, and, with training sequences, the
share of 8-note n-grams (pitches in onset order, ties by pitch) of each set
that occur verbatim in training: high for the generated set means
memorisation (the eval set's share is the baseline).
"""

import numpy as np

from musicrnn.encodings import performance

PITCH_CLASSES = 12
# 8 velocity bins of 16 MIDI steps each.
VELOCITY_BIN_EDGES = np.arange(0, 129, 16)
# Inter-onset intervals, in seconds: log-spaced bins from 10 ms to 4 s.
IOI_BIN_EDGES = np.concatenate([[0.0], np.geomspace(0.01, 4.0, 16), [np.inf]])
# A note at least this long (s) was ended by generation's note cap (in real
# music: would be cut by it). 1 ms below the cap: a capped note written to
# MIDI and read back can end a tick short of it.
LONG_NOTE_SECONDS = performance.MAX_NOTE_DURATION_SECONDS - 0.001
# Note durations, in seconds: log-spaced bins from 10 ms to LONG_NOTE_SECONDS,
# then one bin from there up (the capped notes).
DURATION_BIN_EDGES = np.concatenate(
    [[0.0], np.geomspace(0.01, LONG_NOTE_SECONDS, 16), [np.inf]])
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NGRAM_LENGTH = 8
DEFAULT_QPM = 120.0

HISTOGRAMS = ('pitch_class_histogram', 'velocity_histogram', 'ioi_histogram',
              'duration_histogram')
SCALARS = ('pitch_range', 'pitches_used', 'polyphony', 'notes_per_second',
           'empty_beat_rate', 'scale_consistency', 'long_note_share')


def _arrays(sequence):
  """(pitch, velocity, start, end) arrays of the pitched notes."""
  notes = [n for n in sequence.notes if not n.is_drum]
  pitch = np.array([n.pitch for n in notes], np.int64)
  velocity = np.array([n.velocity for n in notes], np.int64)
  start = np.array([n.start_time for n in notes], np.float64)
  end = np.array([n.end_time for n in notes], np.float64)
  return pitch, velocity, start, end


def polyphony(start, end):
  """Mean number of sounding notes over the time at least one sounds."""
  if not len(start):
    return 0.0
  times = np.concatenate([start, end])
  deltas = np.concatenate([np.ones_like(start), -np.ones_like(end)])
  order = np.lexsort((deltas, times))   # at equal times, ends before starts
  times, deltas = times[order], deltas[order]
  counts = np.cumsum(deltas)[:-1]
  spans = np.diff(times)
  sounding = counts > 0
  covered = spans[sounding].sum()
  return float((counts[sounding] * spans[sounding]).sum() / covered) if covered else 0.0


def empty_beat_rate(start, end, beat_seconds):
  """Share of beats from the first onset to the last note end with no sound."""
  if not len(start):
    return 1.0
  origin = start.min()
  num_beats = max(int(np.ceil((end.max() - origin) / beat_seconds - 1e-9)), 1)
  sounding = np.zeros(num_beats, bool)
  first = np.floor((start - origin) / beat_seconds + 1e-9).astype(int)
  last = np.ceil((end - origin) / beat_seconds - 1e-9).astype(int) - 1
  for a, b in zip(first, np.maximum(last, first)):
    sounding[a:min(b, num_beats - 1) + 1] = True
  return float(1.0 - sounding.mean())


def scale_consistency(pitch):
  """The largest share of notes that fit one of the 12 major scales."""
  if not len(pitch):
    return 0.0
  counts = np.bincount(pitch % PITCH_CLASSES, minlength=PITCH_CLASSES)
  best = max(counts[[(tonic + step) % PITCH_CLASSES for step in MAJOR_SCALE]].sum()
             for tonic in range(PITCH_CLASSES))
  return float(best / len(pitch))


def long_note_share(start, end):
  """Share of notes lasting LONG_NOTE_SECONDS or more (0 without notes)."""
  if not len(start):
    return 0.0
  return float(np.mean(end - start >= LONG_NOTE_SECONDS))


def inter_onset_intervals(start):
  onsets = np.unique(np.round(start, 6))
  return np.diff(onsets)


def beat_seconds(sequence):
  qpm = sequence.tempos[0].qpm if sequence.tempos else DEFAULT_QPM
  return 60.0 / (qpm or DEFAULT_QPM)


def sequence_stats(sequence):
  """Every per-sequence statistic of the module doc, as a dict."""
  pitch, velocity, start, end = _arrays(sequence)
  span = float(end.max() - start.min()) if len(pitch) else 0.0
  return {
      'notes': int(len(pitch)),
      'pitch_class_histogram': np.bincount(
          pitch % PITCH_CLASSES, minlength=PITCH_CLASSES).astype(np.int64),
      'velocity_histogram': np.histogram(velocity, VELOCITY_BIN_EDGES)[0],
      'ioi_histogram': np.histogram(inter_onset_intervals(start), IOI_BIN_EDGES)[0],
      'duration_histogram': np.histogram(end - start, DURATION_BIN_EDGES)[0],
      'pitch_range': int(pitch.max() - pitch.min()) if len(pitch) else 0,
      'pitches_used': int(len(np.unique(pitch))),
      'polyphony': polyphony(start, end),
      'notes_per_second': float(len(pitch) / span) if span > 0 else 0.0,
      'empty_beat_rate': empty_beat_rate(start, end, beat_seconds(sequence)),
      'scale_consistency': scale_consistency(pitch),
      'long_note_share': long_note_share(start, end),
  }


def histogram_distance(p, q):
  """Total-variation distance of two count histograms: 0 equal, 1 disjoint."""
  p = np.asarray(p, np.float64)
  q = np.asarray(q, np.float64)
  if p.sum() == 0 or q.sum() == 0:
    return float('nan')
  return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def ngram_codes(sequence, n=NGRAM_LENGTH):
  """Each n-note window of pitches (onset order, ties by pitch) as one int."""
  pitch, _, start, _ = _arrays(sequence)
  if len(pitch) < n:
    return np.zeros(0, np.int64)
  pitch = pitch[np.lexsort((pitch, start))]
  windows = np.lib.stride_tricks.sliding_window_view(pitch, n)
  return (windows << (7 * np.arange(n - 1, -1, -1))).sum(axis=1)


def training_ngrams(sequences, n=NGRAM_LENGTH):
  """The sorted unique n-gram codes of a collection (memory: 8 bytes each)."""
  codes = [ngram_codes(s, n) for s in sequences]
  if not codes:
    return np.zeros(0, np.int64)
  codes = np.sort(np.concatenate(codes))
  # Sorting then dropping repeats: numpy's hash-based np.unique is several
  # times slower on millions of int64.
  return codes[np.concatenate([[True], codes[1:] != codes[:-1]])] if len(codes) \
      else codes


def ngram_overlap(sequences, training_codes, n=NGRAM_LENGTH):
  """Share of the n-grams of `sequences` found verbatim in `training_codes`."""
  codes = [ngram_codes(s, n) for s in sequences]
  codes = np.concatenate(codes) if codes else np.zeros(0, np.int64)
  if not len(codes):
    return float('nan')
  positions = np.searchsorted(training_codes, codes)
  found = training_codes[np.minimum(positions, len(training_codes) - 1)] == codes \
      if len(training_codes) else np.zeros(len(codes), bool)
  return float(found.mean())


def pool(stats_list):
  """Summed histograms and per-sequence scalar arrays of a list of stats."""
  pooled = {name: np.sum([s[name] for s in stats_list], axis=0)
            if stats_list else None for name in HISTOGRAMS}
  for name in SCALARS:
    pooled[name] = np.array([s[name] for s in stats_list], np.float64)
  pooled['notes'] = int(sum(s['notes'] for s in stats_list))
  pooled['sequences'] = len(stats_list)
  return pooled


def _moments(values):
  if not len(values):
    return {'mean': float('nan'), 'std': float('nan')}
  return {'mean': float(values.mean()), 'std': float(values.std())}


def compare(generated, reference, training_sequences=None, n=NGRAM_LENGTH):
  """Statistics of `generated` against `reference` NoteSequences.

  Returns:
    A JSON-able dict: 'sequences' and 'notes' per set; for each histogram,
    both normalised histograms and their distance; for each scalar, the mean
    and std per set; with `training_sequences`, 'ngram_overlap' per set.
    Also '_pooled' (numpy, for figures; drop it before writing JSON).
  """
  generated_pool = pool([sequence_stats(s) for s in generated])
  reference_pool = pool([sequence_stats(s) for s in reference])
  report = {
      'sequences': {'generated': generated_pool['sequences'],
                    'reference': reference_pool['sequences']},
      'notes': {'generated': generated_pool['notes'],
                'reference': reference_pool['notes']},
  }
  for name in HISTOGRAMS:
    g, r = generated_pool[name], reference_pool[name]
    report[name] = {
        'distance': histogram_distance(g, r) if g is not None and r is not None
                    else float('nan'),
        'generated': _normalised(g), 'reference': _normalised(r)}
  for name in SCALARS:
    report[name] = {'generated': _moments(generated_pool[name]),
                    'reference': _moments(reference_pool[name])}
  if training_sequences is not None:
    codes = training_ngrams(training_sequences, n)
    report[f'ngram_overlap_{n}'] = {
        'generated': ngram_overlap(generated, codes, n),
        'reference': ngram_overlap(reference, codes, n),
        'training_ngrams': int(len(codes))}
  report['_pooled'] = {'generated': generated_pool, 'reference': reference_pool}
  return report


def _normalised(counts):
  if counts is None or counts.sum() == 0:
    return None
  return [float(c) for c in counts / counts.sum()]
