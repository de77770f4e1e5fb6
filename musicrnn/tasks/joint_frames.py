"""The 'joint_frames' task: frame models that score a whole frame exactly
(the RNN-NADE; `protocols.JointFrameModel`).

- Training: Adam on the summed negative log-likelihood of the real next
  frames (log p(frame) over all of a frame's bits at once, in nats) over
  the global batch's frames, global-norm clipping; the optimizer and step
  as the next-token task's.
- Evaluation: NLL in nats per predicted frame, frame-weighted (the sum of
  -log p(frame) over every real frame of the split over their number, as
  Boulanger-Lewandowski et al. 2012 report it), and the frame-level
  accuracy of Bay et al. (2009) of the greedy next frame (each key set
  where its probability given the keys set below it exceeds one half).
- Generation: each frame drawn whole from the model's joint distribution,
  key by key, in one compiled loop; decoded by the codec.
"""

import tensorflow as tf

from musicrnn.generation import outputs
from musicrnn.generation import sampler
from musicrnn.models import protocols
from musicrnn.tasks import base
from musicrnn.tasks import multi_label
from musicrnn.tasks import next_token
from musicrnn.tasks import optimization


def frame_nll(model, features, labels, weights, training=False):
  """(summed -log p(frame) in nats, frames) over the real frames of a
  batch: `labels` [batch, time, bits] are the next frames, `weights`
  [batch, time] 1 on real frames."""
  log_p = model.log_prob(features, labels, training=training)
  weights = tf.cast(weights, log_p.dtype)
  return -tf.reduce_sum(log_p * weights), tf.reduce_sum(weights)


def evaluation_sums(model, features, labels, weights):
  """Sums over the real frames of a batch: (NLL in nats, frames, true
  positives, false positives, false negatives of the greedy next frame,
  silent greedy frames, silent frames of the data)."""
  params = model(features, training=False)
  log_p = model.frame_log_prob(params, labels)
  labels = tf.cast(labels, tf.float32)
  weights = tf.cast(weights, tf.float32)
  predicted = tf.cast(model.sample_frame(
      params, tf.fill(tf.shape(labels), 0.5)), tf.float32)

  def frames(value):
    return tf.reduce_sum(value * weights)

  def keys(value):
    return frames(tf.reduce_sum(value, axis=-1))

  return (frames(-log_p), tf.reduce_sum(weights),
          keys(predicted * labels), keys(predicted * (1 - labels)),
          keys((1 - predicted) * labels),
          frames(tf.cast(tf.reduce_max(predicted, -1) == 0, tf.float32)),
          frames(tf.cast(tf.reduce_max(labels, -1) == 0, tf.float32)))


class JointFramesObjective(next_token.NextTokenObjective):
  """Adam on the summed NLL of the real frames over the global batch's
  frames; the optimizer and step as the next-token objective's."""

  bar_labels = ['loss', 'lr', 'frames/s']
  loss_unit = 'nats/frame'

  def sums(self, features, labels, weights):
    nll, frames = frame_nll(self.model, features, labels, weights,
                            training=True)
    return nll, {'nll': nll, 'frames': frames}

  def record(self, totals, steps, elapsed):
    del steps
    frames = max(totals['frames'], 1.0)
    return {'loss': totals['nll'] / frames,
            'learning_rate': optimization.learning_rate_value(self.optimizer),
            'frames': totals['frames'],
            'frames_per_second': totals['frames'] / elapsed}

  @staticmethod
  def bar_values(record):
    return [('loss', record['loss']), ('lr', record['learning_rate']),
            ('frames/s', record['frames_per_second'])]

  @staticmethod
  def log_line(record):
    return ('loss {loss:.4f} nats/frame lr {learning_rate:.2g} '
            '{steps_per_second:.2f} steps/s {frames_per_second:.0f} '
            'frames/s'.format(**record))


class JointFramesEvaluation(base.SummedEvaluation):
  """A joint frame model on every real frame of a split: NLL per frame and
  the greedy next frame's accuracy, precision and recall over keys.
  Arguments as NextTokenEvaluation's."""

  selection_metric = 'nll_per_frame'

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    del config
    super().__init__(model, lambda f, l, w: evaluation_sums(model, f, l, w),
                     strategy, jit_compile, num_workers)

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """Metrics over every real frame of `split` of `data`:

      nll_per_frame     the sum of -log p(frame) (nats) over every real
                        frame, divided by their number (frame-weighted, not
                        a mean of per-piece means); 'nll' is the same
      frame_accuracy    Bay et al. (2009): TP / (TP + FP + FN), each summed
                        over every frame, of the greedy next frame (key d
                        set where p(x_d = 1 | the keys set below d) > 0.5)
      precision, recall, f1   of the greedy frames' keys
      silent_frames_predicted, silent_frames_data   shares of the frames
      frames, batches

    Arguments as NextTokenEvaluation.evaluate."""
    del seed   # every frame is scored; the greedy frame draws nothing
    totals, batches = self._totals(data, batch_size, split, max_batches,
                                   static_length)
    nll, frames, hits, false_positives, misses, silent_predicted, silent = (
        totals or [0.0] * 7)
    precision = hits / max(hits + false_positives, 1.0)
    recall = hits / max(hits + misses, 1.0)
    per_frame = nll / max(frames, 1.0)
    return {
        'nll_per_frame': per_frame, 'nll': per_frame,
        'frame_accuracy': hits / max(hits + false_positives + misses, 1.0),
        'precision': precision, 'recall': recall,
        'f1': (2 * precision * recall / (precision + recall)
               if precision + recall else 0.0),
        'silent_frames_predicted': silent_predicted / max(frames, 1.0),
        'silent_frames_data': silent / max(frames, 1.0),
        'frames': int(frames), 'batches': batches}

  @staticmethod
  def describe(metrics):
    return (f'NLL {metrics["nll_per_frame"]:.4f} nats/frame, frame accuracy '
            f'{metrics["frame_accuracy"]:.4f} (greedy frames: precision '
            f'{metrics["precision"]:.3f}, recall {metrics["recall"]:.3f}, '
            f'silent {metrics["silent_frames_predicted"]:.3f} / '
            f'{metrics["silent_frames_data"]:.3f} in the data) over '
            f'{metrics["frames"]} frames')


class JointFramesTask(base.Task):
  """Frame models that score whole frames (see the module docstring)."""

  name = 'joint_frames'
  protocol = protocols.JointFrameModel
  objective = JointFramesObjective
  evaluation = JointFramesEvaluation
  # binarize None: 'bernoulli' (each key drawn given the keys below it).
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
    """Samples frames and writes them as MIDI; returns the paths.

    Args:
      run: a loaded run of a joint frame model.
      num_steps: frames to generate after the primer (default 1000); or
      duration_seconds: the output's length, primer included, at the
        codec's tempo (`settings.qpm`); or
      num_bars: bars to generate after the primer (`outputs.bar_steps`
        frames: steps_per_quarter x 4).
      temperature: divides each key's logit (given the keys below it)
        before its sigmoid.
      binarize: 'bernoulli' (the default: each key drawn with its
        probability given the keys drawn below it) or 'threshold' (set
        where that probability exceeds `threshold`; 0.5 is the greedy
        frame Magenta's RNN-NADE generates).
      primer_midi, primer_pitches, primer_frames, primer_melody,
        primer_drums: what the outputs continue (`primers.primer_events`;
        frames of the primer).
      qpm: the tempo of a primer of pitches, melody events or drums
        (default 120), and the output's (`runs.generate`).
    """
    binarize = outputs.check_binarize(binarize or 'bernoulli', threshold)
    return multi_label.generate_frames(
        run, output_dir,
        lambda primer, steps: sampler.sample_joint_frames(
            run.model, primer, steps, temperature=temperature,
            binarize=binarize, threshold=threshold, seed=seed),
        num_outputs=num_outputs, num_steps=num_steps,
        duration_seconds=duration_seconds, temperature=temperature,
        primer_midi=primer_midi, primer_pitches=primer_pitches,
        primer_frames=primer_frames, render_png=render_png,
        render_wav=render_wav, primer_melody=primer_melody,
        primer_drums=primer_drums, qpm=qpm, num_bars=num_bars)
