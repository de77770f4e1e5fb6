"""How well a model does on a dataset split, one kind per training objective.

  evaluation = evaluation_lib.for_config(config)(model, config)
  metrics = evaluation.evaluate(data, batch_size)   # a dict
  print(evaluation.describe(metrics))               # one line

`config.train.objective` picks the kind (the trainer's objective of the
same name evaluates with it):

  next_token   autoregressive models: NLL in nats per event, perplexity and
               accuracy of the next event over every real event of the split;
  adversarial  the piano-roll GAN: the MuseGAN metrics of the split's
               segments against generated ones, and the critic's
               Wasserstein estimate;
  multi_label  the piano-roll LSTM: the training loss (binary cross-entropy
               or focal loss per bit), BCE per bit, and the onset precision,
               recall and F1 of the next frame over every real frame;
  multi_head   the note LSTM: NLL per step in total and per head (chord,
               offset, duration), and each head's accuracy.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from musicrnn import encodings
from musicrnn.errors import UsageError
from musicrnn.metrics import pianoroll as pianoroll_metrics
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources


def compiled(fn, jit_compile):
  """`fn` as an XLA-compiled tf.function, or as it is (traced into its
  caller's tf.function)."""
  return tf.function(fn, jit_compile=True) if jit_compile else fn


def event_sums(model, features, labels, weights, training=False):
  """(summed NLL in nats, correct predictions, events) over real steps."""
  logits = model(features, training=training)
  nll = keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                     from_logits=True)
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                             labels), tf.float32)
  return (tf.reduce_sum(nll * weights), tf.reduce_sum(correct * weights),
          tf.reduce_sum(weights))


class _SummedEvaluation:
  """Base of the evaluations that sum values over every batch of a split:
  `sums(features, labels, weights)` runs on each replica's part of a batch
  (XLA-compiled with `jit_compile`); `_totals` adds them up."""

  def __init__(self, model, sums, strategy, jit_compile, num_workers):
    self.model = model
    self.strategy = strategy or tf.distribute.get_strategy()
    self.num_workers = num_workers
    sums = compiled(sums, jit_compile)

    @tf.function
    def step(batch):
      values = self.strategy.run(sums, args=batch)
      return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
              for v in values]

    self._step = step

  def _totals(self, data, batch_size, split, max_batches, static_length):
    """([the values summed over every batch], batches), or (None, 0) for
    a split without a batch."""
    ds = input_lib.make_dataset(data, split, batch_size, shuffle=False,
                                repeat=False, static_length=static_length)
    if max_batches:
      ds = ds.take(max_batches)
    totals = None
    batches = 0
    ds = input_lib.shard_per_worker(ds, self.num_workers)
    for batch in self.strategy.experimental_distribute_dataset(ds):
      values = [float(v) for v in self._step(batch)]
      totals = values if totals is None else [
          t + v for t, v in zip(totals, values)]
      batches += 1
    return totals, batches


class NextTokenEvaluation(_SummedEvaluation):
  """NLL (nats per event), perplexity and accuracy of an autoregressive
  model on every real event of a split.

  Args:
    model: the model (ids in, logits out).
    config: the run's config.
    strategy: the tf.distribute strategy the model lives under (default: the
      current one); each replica scores its part of every batch.
    jit_compile: XLA compiles each replica's part.
    num_workers: hosts of a multi-worker strategy; each keeps its share of
      every batch.
  """

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    del config
    super().__init__(model, lambda f, l, w: event_sums(model, f, l, w),
                     strategy, jit_compile, num_workers)

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """{'nll', 'perplexity', 'accuracy', 'events', 'batches'} over `split` of
    `data` (a DataSource or what `sources.open_source` opens);
    `static_length`: batches of one shape (`input.make_dataset`), the same
    metrics."""
    del seed   # every event is scored: nothing is drawn
    totals, batches = self._totals(data, batch_size, split, max_batches,
                                   static_length)
    nll, correct, events = totals or [0.0, 0.0, 0.0]
    metrics = {'nll': nll / max(events, 1.0),
               'accuracy': correct / max(events, 1.0),
               'events': int(events), 'batches': batches}
    metrics['perplexity'] = math.exp(min(metrics['nll'], 50.0))
    return metrics

  @staticmethod
  def describe(metrics):
    return (f'NLL {metrics["nll"]:.4f} nats/event, perplexity '
            f'{metrics["perplexity"]:.2f}, accuracy {metrics["accuracy"]:.4f} '
            f'over {metrics["events"]} events')


class PianorollEvaluation:
  """The piano-roll GAN, which has no likelihood: MuseGAN metrics of the
  split's real segments and of `num_samples` generated ones (cells above
  0.5 sound), and the critic's Wasserstein estimate mean D(real) - mean
  D(generated). The arguments are NextTokenEvaluation's; it runs on one
  device."""

  # Segments generated per evaluation.
  NUM_SAMPLES = 100

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    del config, strategy, jit_compile, num_workers
    self.model = model

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """{'eval_data': metrics, 'generated': metrics, 'wasserstein',
    'segments', 'batches'}; metrics as
    `musicrnn.metrics.pianoroll.pianoroll_metrics`."""
    del static_length   # a segment has one shape
    source = sources.open_source(data)
    settings = encodings.codec.codec_from_spec(
        source.description['encoding']).settings
    ds = input_lib.make_dataset(source, split, batch_size, shuffle=False,
                                repeat=False)
    if max_batches:
      ds = ds.take(max_batches)
    real, real_scores, batches = [], [], 0
    for (features,) in ds:
      rolls = features[schema.PIANOROLL]
      real.append(rolls.numpy())
      real_scores.append(self.model.critic(rolls[..., None]).numpy()[:, 0])
      batches += 1
    generated = self.model({'noise': self.model.noise(
        self.NUM_SAMPLES, seed=(seed, 0))}).numpy()
    generated_scores = self.model.critic(generated[..., None]).numpy()[:, 0]
    real = (np.concatenate(real) if real
            else np.zeros((0,) + generated.shape[1:]))
    def metrics(rolls):
      return pianoroll_metrics.pianoroll_metrics(rolls, settings.steps_per_bar,
                                                 settings.min_pitch)
    return {
        'eval_data': metrics(real),
        'generated': metrics(generated > 0.5),
        'wasserstein': (float(np.concatenate(real_scores).mean()
                              - generated_scores.mean()) if real_scores
                        else float('nan')),
        'segments': int(len(real)),
        'batches': batches,
    }

  @staticmethod
  def describe(metrics):
    real, fake = metrics['eval_data'], metrics['generated']
    return ('eval data vs generated: empty bars {:.3f} / {:.3f}, pitch classes '
            'per bar {:.2f} / {:.2f}, qualified notes {:.3f} / {:.3f}; '
            'Wasserstein estimate {:.3f}'.format(
                real['empty_bar_rate'], fake['empty_bar_rate'],
                real['used_pitch_classes'], fake['used_pitch_classes'],
                real['qualified_note_rate'], fake['qualified_note_rate'],
                metrics['wasserstein']))


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


def frame_sums(model, train_config, features, labels, weights, training=False):
  """Sums over the real frames of a batch: (loss, BCE per bit, frames,
  onset true positives, predicted onsets, true onsets, silent frames of
  the data, silent frames predicted). A bit is predicted where its
  probability exceeds 0.5; the onset bits are the first half of a frame."""
  logits = model(features, training=training)
  labels = tf.cast(labels, logits.dtype)
  loss = frame_loss(labels, logits, train_config)
  bce = keras.losses.binary_crossentropy(labels, logits, from_logits=True)
  predicted = tf.cast(logits > 0.0, logits.dtype)
  keys = logits.shape[-1] // 2
  onsets, true_onsets = predicted[..., :keys], labels[..., :keys]

  def frames(value):
    return tf.reduce_sum(value * weights)

  return (frames(loss), frames(bce), tf.reduce_sum(weights),
          frames(tf.reduce_sum(onsets * true_onsets, -1)),
          frames(tf.reduce_sum(onsets, -1)), frames(tf.reduce_sum(true_onsets, -1)),
          frames(tf.cast(tf.reduce_max(labels, -1) == 0, logits.dtype)),
          frames(tf.cast(tf.reduce_max(predicted, -1) == 0, logits.dtype)))


class MultiLabelEvaluation(_SummedEvaluation):
  """A frame model (independent sigmoids per bit) on every real frame of a
  split: the training loss per bit, BCE per bit, the next frame's onset
  precision, recall and F1 (bits above 0.5), and the share of silent frames
  in the data and among the predicted next frames. Arguments as
  NextTokenEvaluation's."""

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    train_config = config['train']
    self.loss = train_config.get('loss', 'bce')
    super().__init__(
        model, lambda f, l, w: frame_sums(model, train_config, f, l, w),
        strategy, jit_compile, num_workers)

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """{'loss', 'bce', 'onset_precision', 'onset_recall', 'onset_f1',
    'silent_frames_data', 'silent_frames_predicted', 'frames', 'batches'}
    over `split` of `data`; arguments as NextTokenEvaluation.evaluate."""
    del seed
    totals, batches = self._totals(data, batch_size, split, max_batches,
                                   static_length)
    loss, bce, frames, hits, predicted, true, silent, silent_predicted = (
        totals or [0.0] * 8)
    precision = hits / max(predicted, 1.0)
    recall = hits / max(true, 1.0)
    return {
        'loss': loss / max(frames, 1.0), 'loss_kind': self.loss,
        'bce': bce / max(frames, 1.0),
        'onset_precision': precision, 'onset_recall': recall,
        'onset_f1': (2 * precision * recall / (precision + recall)
                     if precision + recall else 0.0),
        'silent_frames_data': silent / max(frames, 1.0),
        'silent_frames_predicted': silent_predicted / max(frames, 1.0),
        'frames': int(frames), 'batches': batches}

  @staticmethod
  def describe(metrics):
    return (f'{metrics["loss_kind"]} loss {metrics["loss"]:.4f}, BCE '
            f'{metrics["bce"]:.4f} per bit, onset F1 {metrics["onset_f1"]:.3f} '
            f'(precision {metrics["onset_precision"]:.3f}, recall '
            f'{metrics["onset_recall"]:.3f}), silent frames '
            f'{metrics["silent_frames_predicted"]:.3f} predicted / '
            f'{metrics["silent_frames_data"]:.3f} in the data, over '
            f'{metrics["frames"]} frames')


def head_sums(model, features, labels, weights, training=False):
  """Sums over the real steps of a multi-head model (`model.head_names`,
  `split_logits`, `split_tokens`): (NLL of all heads, then each head's NLL,
  each head's correct predictions, steps right in every head, steps)."""
  logits = model(features, training=training)
  nlls, corrects = [], []
  for part_logits, part in zip(model.split_logits(logits),
                               model.split_tokens(labels)):
    nlls.append(tf.reduce_sum(weights * keras.losses.sparse_categorical_crossentropy(
        part, part_logits, from_logits=True)))
    corrects.append(tf.cast(tf.equal(
        tf.argmax(part_logits, -1, output_type=tf.int32), part), tf.float32))
  every = tf.reduce_min(tf.stack(corrects), axis=0)
  return ((tf.add_n(nlls), *nlls,
           *[tf.reduce_sum(c * weights) for c in corrects],
           tf.reduce_sum(every * weights), tf.reduce_sum(weights)))


class MultiHeadEvaluation(_SummedEvaluation):
  """A model with one softmax head per part of a step (the note LSTM's
  chord, offset and duration) on every real step of a split: NLL in nats
  per step, in total (the heads' sum: the NLL of the whole step) and per
  head, and each head's accuracy. Arguments as NextTokenEvaluation's."""

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    del config
    super().__init__(model, lambda f, l, w: head_sums(model, f, l, w),
                     strategy, jit_compile, num_workers)

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """{'nll', 'perplexity', 'accuracy' (every head right), 'nll_<head>',
    'accuracy_<head>', 'heads', 'events', 'batches'} over `split` of `data`;
    arguments as NextTokenEvaluation.evaluate."""
    del seed
    heads = self.model.head_names
    totals, batches = self._totals(data, batch_size, split, max_batches,
                                   static_length)
    totals = totals or [0.0] * (2 * len(heads) + 3)
    steps = max(totals[-1], 1.0)
    nll, correct = totals[1:1 + len(heads)], totals[1 + len(heads):-2]
    metrics = {'nll': totals[0] / steps, 'accuracy': totals[-2] / steps,
               'heads': list(heads), 'events': int(totals[-1]),
               'batches': batches}
    for name, value, right in zip(heads, nll, correct):
      metrics[f'nll_{name}'] = value / steps
      metrics[f'accuracy_{name}'] = right / steps
    metrics['perplexity'] = math.exp(min(metrics['nll'], 50.0))
    return metrics

  @staticmethod
  def describe(metrics):
    heads = ', '.join(f'{name} {metrics[f"nll_{name}"]:.4f}'
                      for name in metrics['heads'])
    accuracy = ', '.join(f'{name} {metrics[f"accuracy_{name}"]:.3f}'
                         for name in metrics['heads'])
    return (f'NLL {metrics["nll"]:.4f} nats/step ({heads}), accuracy '
            f'{accuracy} over {metrics["events"]} steps')


# config.train.objective -> its evaluation.
EVALUATIONS = {
    'next_token': NextTokenEvaluation,
    'adversarial': PianorollEvaluation,
    'multi_label': MultiLabelEvaluation,
    'multi_head': MultiHeadEvaluation,
}


def for_config(config):
  """The evaluation class of `config.train.objective`."""
  objective = config['train']['objective']
  if objective not in EVALUATIONS:
    raise UsageError(f'train.objective must be one of '
                     f'{", ".join(EVALUATIONS)}, got {objective!r}')
  return EVALUATIONS[objective]


def evaluate_model(model, config, data, batch_size, **kwargs):
  """`model` (of `config`) on a split of `data`: the metrics of its
  objective's evaluation; kwargs as `NextTokenEvaluation.evaluate`."""
  return for_config(config)(model, config).evaluate(data, batch_size, **kwargs)
