"""The 'adversarial' task: a generator and its critic over piano rolls (the
piano-roll GAN; `protocols.AdversarialPair`).

- Training: the pair's own critic and generator updates
  (`adversarial_step`) with its two optimizers; metrics averaged over
  replicas and steps.
- Evaluation: the pair has no likelihood: MuseGAN's metrics of the split's
  real segments and of generated ones, and the critic's Wasserstein
  estimate.
- Generation: rolls from noise, longer outputs joined from a latent walk,
  binarised by a threshold or Bernoulli draws; decoded by the codec.
"""

import numpy as np
import tensorflow as tf

from musicrnn import encodings
from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.metrics import pianoroll as pianoroll_metrics
from musicrnn.models import protocols
from musicrnn.tasks import base
from musicrnn.tasks import optimization
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources


class AdversarialObjective:
  """The pair's own critic and generator updates (`adversarial_step`) with
  its two optimizers; its metrics are averaged over replicas and steps."""

  bar_labels = ['critic', 'generator', 'W']
  loss_unit = None   # a critic loss and a generator loss

  def __init__(self, model, config, strategy, loss_scale=False):
    self.model = model
    self.replicas = strategy.num_replicas_in_sync
    del config   # the model holds its learning rates
    self.optimizers = model.make_optimizers(loss_scale=loss_scale)

  def replica_step(self, features):
    rolls = features[schema.PIANOROLL]
    values = self.model.adversarial_step(rolls)
    values['segments'] = tf.cast(tf.shape(rolls)[0], tf.float32)
    return values

  def record(self, totals, steps, elapsed):
    # Each step's value is the sum over replicas of replica means.
    record = {name: value / (steps * self.replicas)
              for name, value in totals.items() if name != 'segments'}
    record['segments'] = totals['segments']
    record['segments_per_second'] = totals['segments'] / elapsed
    for name, optimizer in self.optimizers.items():
      record[name.replace('optimizer', 'learning_rate')] = (
          optimization.learning_rate_value(optimizer))
    return record

  @staticmethod
  def bar_values(record):
    return [('critic', record['critic_loss']),
            ('generator', record['generator_loss']),
            ('W', record['wasserstein'])]

  @staticmethod
  def log_line(record):
    return ('critic_loss {critic_loss:.4f} generator_loss {generator_loss:.4f} '
            'gradient_penalty {gradient_penalty:.4f} wasserstein '
            '{wasserstein:.4f} {steps_per_second:.2f} steps/s '
            '{segments_per_second:.0f} segments/s'.format(**record))


class AdversarialEvaluation:
  """MuseGAN metrics of the split's real segments and of `NUM_SAMPLES`
  generated ones (cells above 0.5 sound), and the critic's Wasserstein
  estimate mean D(real) - mean D(generated). The arguments are
  NextTokenEvaluation's; it runs on one device."""

  # Segments generated per evaluation.
  NUM_SAMPLES = 100
  # No likelihood to choose a best model by.
  selection_metric = None

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


def latent_walk(num_outputs, num_segments, latent_dim, latent_step, rng):
  """Noise [num_outputs, num_segments, latent_dim] for joined segments.

  Segment k's noise is sqrt(1 - a²)·z(k-1) + a·ε with a = `latent_step`:
  each vector is still standard normal (what the generator was trained
  on), and neighbouring segments are correlated (1 - a² ... a = 1 makes
  them independent, a = 0 repeats one segment).
  """
  z = rng.standard_normal((num_outputs, num_segments, latent_dim))
  keep = np.sqrt(1.0 - latent_step ** 2)
  for k in range(1, num_segments):
    z[:, k] = keep * z[:, k - 1] + latent_step * z[:, k]
  return z.astype(np.float32)


class AdversarialTask(base.Task):
  """A generator and its critic over piano rolls (see the module docstring)."""

  name = 'adversarial'
  protocol = protocols.AdversarialPair
  objective = AdversarialObjective
  evaluation = AdversarialEvaluation
  # binarize None: 'threshold' (a cell sounds above `threshold`).
  options = {'num_bars': None, 'binarize': None, 'threshold': 0.5,
             'latent_step': 0.5}

  def generate(self, run, output_dir, *, num_outputs=1, seed=None,
               render_png=False, render_wav=False, num_bars=None,
               binarize=None, threshold=0.5, latent_step=0.5):
    """Samples piano rolls and writes them as MIDI; returns the paths.

    Args:
      run: a loaded piano-roll GAN run.
      num_bars: bars per output (default one segment). Longer outputs join
        segments end to end, generated from a latent walk (`latent_walk`),
        so neighbouring segments share material; the last one is cut to
        length.
      binarize: 'threshold' (the default: a cell sounds where its
        probability exceeds `threshold`) or 'bernoulli' (each cell drawn
        with its probability).
      latent_step: 0..1, how far the noise moves between joined segments.
    """
    binarize = outputs.check_binarize(binarize or 'threshold', threshold)
    if not 0 <= latent_step <= 1:
      raise UsageError(f'--latent_step must be in [0, 1], got {latent_step}')
    settings = run.codec.settings
    bars_per_segment = settings.num_bars
    num_bars = num_bars or bars_per_segment
    if num_bars < 1:
      raise UsageError(f'--num_bars must be at least 1, got {num_bars}')
    num_segments = -(-num_bars // bars_per_segment)
    rng = np.random.default_rng(seed)
    noise = latent_walk(num_outputs, num_segments, run.model.latent_dim,
                        latent_step, rng)
    probabilities = run.model(
        {'noise': noise.reshape(num_outputs * num_segments, -1)}).numpy()
    steps, pitches = run.codec.segment_shape
    probabilities = probabilities.reshape(num_outputs, num_segments * steps,
                                          pitches)
    probabilities = probabilities[:, :num_bars * settings.steps_per_bar]
    if binarize == 'threshold':
      rolls = probabilities > threshold
    else:
      rolls = rng.random(probabilities.shape) < probabilities
    sequences = [run.codec.decode(roll.astype(np.uint8)) for roll in rolls]
    return outputs.write_outputs(run.config.name, sequences, output_dir,
                                 step=run.step, render_png=render_png,
                                 render_wav=render_wav)

