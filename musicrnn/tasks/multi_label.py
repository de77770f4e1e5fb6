"""The 'multi_label' task: frame models, a sigmoid per bit of the next frame
(the piano-roll LSTM; `protocols.FrameModel`).

- Training: Adam on the summed loss of the real frames (the mean over each
  frame's bits: `train.loss` 'bce' or 'focal') over the global batch's
  frames; the optimizer as the next-token task's.
- Evaluation: the training loss, BCE per bit, and the next frame's onset
  precision, recall and F1 over every real frame.
- Generation: frames drawn bit by bit (Bernoulli or a threshold), a key held
  only after it sounded; decoded by the codec.
"""

import keras
import numpy as np
import tensorflow as tf

from musicrnn import encodings
from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.generation import primers
from musicrnn.generation import sampler
from musicrnn.models import protocols
from musicrnn.tasks import base
from musicrnn.tasks import next_token
from musicrnn.tasks import optimization

LOSSES = ('bce', 'focal')


def frame_loss(labels, logits, train_config):
  """[batch, time] loss of each frame, the mean over its bits: binary
  cross-entropy (`train.loss='bce'`) or focal loss (`'focal'`, with
  `train.focal_alpha` weighting set bits against clear ones and
  `train.focal_gamma` down-weighting bits already predicted well, Lin et
  al. 2017)."""
  loss = train_config.get('loss', 'bce')
  if loss not in LOSSES:
    raise UsageError(f'train.loss must be one of {", ".join(LOSSES)}, got {loss!r}')
  if loss == 'bce':
    return keras.losses.binary_crossentropy(labels, logits, from_logits=True)
  return keras.losses.binary_focal_crossentropy(
      labels, logits, apply_class_balancing=True,
      alpha=train_config.focal_alpha, gamma=train_config.focal_gamma,
      from_logits=True)


def frame_sums(model, train_config, features, labels, weights, training=False,
               onset_bits=True):
  """Sums over the real frames of a batch: (loss, BCE per bit, frames,
  true positives, predicted bits, true bits, silent frames of the data,
  silent frames predicted, NLL, true positives among all bits, wrong bits).
  A bit is predicted where its
  probability exceeds 0.5. The NLL is the BCE summed over a frame's bits:
  the 2012 polyphonic benchmark's nats per frame once divided by the frames.
  With `onset_bits` (frames of `FrameRollCodec`) the positives count the
  onset bits, the first half of a frame; else every bit (`KeyFrameCodec`)."""
  logits = model(features, training=training)
  labels = tf.cast(labels, logits.dtype)
  loss = frame_loss(labels, logits, train_config)
  bce = keras.losses.binary_crossentropy(labels, logits, from_logits=True)
  predicted = tf.cast(logits > 0.0, logits.dtype)
  scored, true_bits = predicted, labels
  if onset_bits:
    keys = logits.shape[-1] // 2
    scored, true_bits = predicted[..., :keys], labels[..., :keys]

  def frames(value):
    return tf.reduce_sum(value * weights)

  return (frames(loss), frames(bce), tf.reduce_sum(weights),
          frames(tf.reduce_sum(scored * true_bits, -1)),
          frames(tf.reduce_sum(scored, -1)), frames(tf.reduce_sum(true_bits, -1)),
          frames(tf.cast(tf.reduce_max(labels, -1) == 0, logits.dtype)),
          frames(tf.cast(tf.reduce_max(predicted, -1) == 0, logits.dtype)),
          frames(bce * logits.shape[-1]),
          frames(tf.reduce_sum(predicted * labels, -1)),
          frames(tf.reduce_sum(tf.abs(predicted - labels), -1)))


def frame_accuracy(hits, wrong):
  """Bay et al. (2009)'s frame-level accuracy, TP / (TP + FP + FN) summed
  over every frame: `hits` true positives, `wrong` false positives plus
  false negatives (0 when nothing was predicted or true)."""
  return hits / (hits + wrong) if hits + wrong else 0.0


class MultiLabelObjective(next_token.NextTokenObjective):
  """Adam on the summed loss of the real frames over the global batch's
  frames; the optimizer and step as the next-token objective's."""

  bar_labels = ['loss', 'onset F1', 'lr', 'frames/s']
  loss_unit = 'per bit'

  def sums(self, features, labels, weights):
    loss, bce, frames, hits, predicted, true, _, _, _, _, _ = frame_sums(
        self.model, self.config.train, features, labels, weights, training=True,
        onset_bits=encodings.codec_from_config(self.config).onset_bits)
    return loss, {'loss': loss, 'bce': bce, 'frames': frames,
                  'onset_hits': hits, 'onsets_predicted': predicted,
                  'onsets': true}

  def record(self, totals, steps, elapsed):
    del steps
    frames = max(totals['frames'], 1.0)
    hits = totals['onset_hits']
    return {'loss': totals['loss'] / frames, 'bce': totals['bce'] / frames,
            'onset_f1': 2 * hits / max(totals['onsets_predicted']
                                       + totals['onsets'], 1.0),
            'learning_rate': optimization.learning_rate_value(self.optimizer),
            'frames': totals['frames'],
            'frames_per_second': totals['frames'] / elapsed}

  @staticmethod
  def bar_values(record):
    return [('loss', record['loss']), ('onset F1', record['onset_f1']),
            ('lr', record['learning_rate']),
            ('frames/s', record['frames_per_second'])]

  @staticmethod
  def log_line(record):
    return ('loss {loss:.4f} bce {bce:.4f} onset_f1 {onset_f1:.3f} lr '
            '{learning_rate:.2g} {steps_per_second:.2f} steps/s '
            '{frames_per_second:.0f} frames/s'.format(**record))


class MultiLabelEvaluation(base.SummedEvaluation):
  """A frame model on every real frame of a split: the training loss per
  bit, BCE per bit, the NLL per frame (nats: the 2012 polyphonic
  benchmark's unit, frame-weighted), the frame accuracy of Bay et al., the
  next frame's onset (or, for frames without onset bits, key) precision,
  recall and F1 (bits above 0.5), and the share of silent frames in the
  data and among the predicted next frames. Arguments as
  NextTokenEvaluation's."""

  selection_metric = 'nll_per_frame'

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    train_config = config['train']
    self.loss = train_config.get('loss', 'bce')
    onset_bits = encodings.codec_from_config(config).onset_bits
    self.scored = 'onset' if onset_bits else 'key'
    super().__init__(
        model, lambda f, l, w: frame_sums(model, train_config, f, l, w,
                                          onset_bits=onset_bits),
        strategy, jit_compile, num_workers)

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """{'loss', 'bce', 'nll_per_frame', 'frame_accuracy', 'onset_precision',
    'onset_recall', 'onset_f1' (of the keys when the frames have no onset
    bits: `scored`), 'silent_frames_data', 'silent_frames_predicted',
    'frames', 'batches'} over `split` of `data`; arguments as
    NextTokenEvaluation.evaluate."""
    del seed
    totals, batches = self._totals(data, batch_size, split, max_batches,
                                   static_length)
    (loss, bce, frames, hits, predicted, true, silent, silent_predicted, nll,
     all_hits, wrong) = totals or [0.0] * 11
    precision = hits / max(predicted, 1.0)
    recall = hits / max(true, 1.0)
    return {
        'loss': loss / max(frames, 1.0), 'loss_kind': self.loss,
        'bce': bce / max(frames, 1.0),
        'nll_per_frame': nll / max(frames, 1.0),
        'frame_accuracy': frame_accuracy(all_hits, wrong),
        'scored': self.scored,
        'onset_precision': precision, 'onset_recall': recall,
        'onset_f1': (2 * precision * recall / (precision + recall)
                     if precision + recall else 0.0),
        'silent_frames_data': silent / max(frames, 1.0),
        'silent_frames_predicted': silent_predicted / max(frames, 1.0),
        'frames': int(frames), 'batches': batches}

  @staticmethod
  def describe(metrics):
    scored = metrics.get('scored', 'onset')
    return (f'{metrics["loss_kind"]} loss {metrics["loss"]:.4f}, BCE '
            f'{metrics["bce"]:.4f} per bit, NLL {metrics["nll_per_frame"]:.3f} '
            f'nats per frame, frame accuracy {metrics["frame_accuracy"]:.3f}, '
            f'{scored} F1 {metrics["onset_f1"]:.3f} '
            f'(precision {metrics["onset_precision"]:.3f}, recall '
            f'{metrics["onset_recall"]:.3f}), silent frames '
            f'{metrics["silent_frames_predicted"]:.3f} predicted / '
            f'{metrics["silent_frames_data"]:.3f} in the data, over '
            f'{metrics["frames"]} frames')


class MultiLabelTask(base.Task):
  """Frame models (see the module docstring)."""

  name = 'multi_label'
  protocol = protocols.FrameModel
  objective = MultiLabelObjective
  evaluation = MultiLabelEvaluation
  # binarize None: 'bernoulli' (each bit drawn with its probability).
  options = {'num_steps': None, 'duration_seconds': None, 'temperature': 1.0,
             'binarize': None, 'threshold': 0.5, 'primer_midi': None,
             'primer_pitches': None, 'primer_frames': None,
             'primer_melody': None, 'primer_drums': None, 'qpm': None,
             'num_bars': None}

  def generate(self, run, output_dir, *, num_outputs=1, seed=None,
               render_png=False, render_wav=False, num_steps=None,
               duration_seconds=None, temperature=1.0, binarize=None,
               threshold=0.5, primer_midi=None, primer_pitches=None,
               primer_frames=None, primer_melody=None, primer_drums=None,
               qpm=None, num_bars=None):
    """Samples frame rolls and writes them as MIDI; returns the paths.

    Args:
      run: a loaded run of a frame model.
      num_steps: frames to generate after the primer (default 1000); or
      duration_seconds: the output's length, primer included, at the
        codec's tempo (`settings.qpm`); or
      num_bars: bars to generate after the primer (`outputs.bar_steps`
        frames: steps_per_quarter x 4).
      temperature: divides every bit's logit before its sigmoid.
      binarize: 'bernoulli' (the default: each bit drawn with its
        probability) or 'threshold' (set where its probability exceeds
        `threshold`); a key is held only after it sounded
        (`sampler.sample_frames`).
      primer_midi, primer_pitches, primer_frames, primer_melody,
        primer_drums: what the outputs continue (`primers.primer_events`;
        frames of the primer).
      qpm: the tempo of a primer of pitches, melody events or drums
        (default 120), and the output's (`runs.generate`).
    """
    binarize = outputs.check_binarize(binarize or 'bernoulli', threshold)
    return generate_frames(
        run, output_dir,
        lambda primer, steps: sampler.sample_frames(
            run.model, primer, steps, temperature=temperature,
            binarize=binarize, threshold=threshold, seed=seed,
            onset_bits=run.codec.onset_bits),
        num_outputs=num_outputs, num_steps=num_steps,
        duration_seconds=duration_seconds, temperature=temperature,
        primer_midi=primer_midi, primer_pitches=primer_pitches,
        primer_frames=primer_frames, render_png=render_png,
        render_wav=render_wav, primer_melody=primer_melody,
        primer_drums=primer_drums, qpm=qpm, num_bars=num_bars)


def generate_frames(run, output_dir, draw, *, num_outputs, num_steps,
                    duration_seconds, temperature, primer_midi,
                    primer_pitches, primer_frames, render_png, render_wav,
                    primer_melody=None, primer_drums=None, qpm=None,
                    num_bars=None):
  """Frames of a frame model written as MIDI; returns the paths: the
  options checked, the primer (`primers.primer_events`) repeated for each
  output, `draw(primer [outputs, frames, bits], num_steps)`'s frames decoded
  by the codec (`outputs.write_outputs`). A frame is a step of the metric
  grid: `num_bars` bars are `outputs.bar_steps` frames."""
  outputs.check_steps(num_steps, duration_seconds, num_bars)
  outputs.check_temperature(temperature)
  codec = run.codec
  if num_bars is not None:
    num_steps = outputs.bar_steps(codec, num_bars)
  primer = primers.primer_events(
      codec, primer_midi, primer_pitches, primer_frames,
      primer_melody=primer_melody, primer_drums=primer_drums, qpm=qpm)
  frames_per_second = (codec.settings.steps_per_quarter * codec.settings.qpm
                       / 60.0)
  if duration_seconds is not None:
    num_steps = int(round(duration_seconds * frames_per_second)) - len(primer)
    if num_steps < 1:
      raise UsageError(
          f'the primer lasts {len(primer) / frames_per_second:.1f} s, as long '
          f'as --duration_seconds={duration_seconds:g} or longer: nothing '
          'would be generated; give a longer --duration_seconds or a '
          'shorter primer')
  elif num_steps is None:
    num_steps = outputs.DEFAULT_NUM_STEPS
  frames = draw(np.tile(primer[None], (num_outputs, 1, 1)), num_steps)
  primer_seconds = (len(primer) / frames_per_second
                    if any((primer_midi, primer_pitches, primer_frames,
                            primer_melody, primer_drums)) else 0.0)
  return outputs.write_outputs(
      run.config.name, [codec.decode(f) for f in frames], output_dir,
      step=run.step, render_png=render_png, render_wav=render_wav,
      primer_seconds=primer_seconds)

