"""The 'multi_head' task: models with a softmax head per part of a step (the
note LSTM's chord, offset and duration; `protocols.MultiHeadModel`).

- Training: Adam on the summed NLL of every head (the NLL of the whole step)
  over the global batch's steps; the optimizer as the next-token task's.
- Evaluation: NLL per step in total and per head, and each head's accuracy.
- Generation: each head sampled at its own temperature, decoded by the codec.
"""

import math

import keras
import tensorflow as tf

from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.generation import sampler
from musicrnn.models import protocols
from musicrnn.tasks import base
from musicrnn.tasks import next_token


def head_sums(model, features, labels, weights, training=False):
  """Sums over the real steps of a multi-head model: (NLL of all heads,
  then each head's NLL, each head's correct predictions, steps right in
  every head, steps)."""
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


class MultiHeadObjective(next_token.NextTokenObjective):
  """Adam on the summed NLL of every head over the global batch's steps;
  the optimizer, step and console as the next-token objective's."""

  loss_unit = 'nats/onset'

  def sums(self, features, labels, weights):
    values = head_sums(self.model, features, labels, weights, training=True)
    heads = self.model.head_names
    named = {'nll': values[0], 'correct': values[-2], 'events': values[-1]}
    named.update({f'nll_{name}': value
                  for name, value in zip(heads, values[1:1 + len(heads)])})
    return values[0], named

  def record(self, totals, steps, elapsed):
    record = super().record(totals, steps, elapsed)
    events = max(totals['events'], 1.0)
    for name in self.model.head_names:
      record[f'loss_{name}'] = totals[f'nll_{name}'] / events
    return record

  def log_line(self, record):
    heads = ' '.join(f'{name} {record[f"loss_{name}"]:.4f}'
                     for name in self.model.head_names)
    return (f'loss {record["loss"]:.4f} ({heads}) accuracy '
            f'{record["accuracy"]:.4f} lr {record["learning_rate"]:.2g} '
            f'{record["steps_per_second"]:.2f} steps/s '
            f'{record["events_per_second"]:.0f} onsets/s')


class MultiHeadEvaluation(base.SummedEvaluation):
  """A multi-head model on every real step of a split: NLL in nats per
  step, in total (the heads' sum: the NLL of the whole step) and per head,
  and each head's accuracy. Arguments as NextTokenEvaluation's."""

  selection_metric = 'nll'

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


class MultiHeadTask(base.Task):
  """Models with a softmax head per part of a step (see the module
  docstring)."""

  name = 'multi_head'
  protocol = protocols.MultiHeadModel
  objective = MultiHeadObjective
  evaluation = MultiHeadEvaluation
  options = {'num_steps': None, 'duration_seconds': None, 'temperature': 1.0,
             'head_temperatures': None, 'primer_midi': None,
             'primer_pitches': None, 'primer_melody': None,
             'primer_drums': None, 'qpm': None, 'state_masks': True,
             'max_polyphony': 0}

  def generate(self, run, output_dir, *, num_outputs=1, seed=None,
               render_png=False, render_wav=False, num_steps=None,
               duration_seconds=None, temperature=1.0, head_temperatures=None,
               primer_midi=None, primer_pitches=None, primer_melody=None,
               primer_drums=None, qpm=None, state_masks=True,
               max_polyphony=0):
    """Samples note tuples and writes them as MIDI; returns the paths.

    Args:
      run: a loaded run of a multi-head model.
      num_steps: onsets to generate after the primer (default 1000); or
      duration_seconds: generate until each output lasts this long.
      temperature: every head's temperature, unless
      head_temperatures: one per head (chord, offset, duration), e.g.
        [1.0, 0.5, 0.5]: each head is sampled at its own
        (`sampler.sample_heads`).
      primer_midi, primer_pitches, primer_melody, primer_drums: what the
        outputs continue (`primers.primer_events`; a MIDI primer is a
        window of real music, its onsets as the codec encodes them).
      qpm: the tempo of a primer of pitches, melody events or drums
        (default 120), and the output's (`runs.generate`).
      state_masks: never draw a step that decodes to no notes (the codec's
        `grammar()`); False samples the model as it is.
      max_polyphony: above 0, no chord of more notes is drawn (with
        state_masks).
    """
    outputs.check_steps(num_steps, duration_seconds)
    heads = run.model.head_names
    temperatures = (list(head_temperatures) if head_temperatures is not None
                    else [temperature] * len(heads))
    if len(temperatures) != len(heads) or min(temperatures) <= 0:
      raise UsageError(f'--head_temperatures needs {len(heads)} numbers > 0 '
                       f'({", ".join(heads)}), got {temperatures}')
    outputs.check_temperature(temperature)
    outputs.check_max_polyphony(max_polyphony, state_masks)
    grammar = run.codec.grammar(max_polyphony) if state_masks else None

    def draw(tokens, steps, seed):
      return sampler.sample_heads(run.model, tokens, steps,
                                  temperatures=temperatures, seed=seed,
                                  grammar=grammar)

    return outputs.generate_tokens(
        run, output_dir, draw, num_outputs=num_outputs, num_steps=num_steps,
        duration_seconds=duration_seconds, seed=seed, primer_midi=primer_midi,
        primer_pitches=primer_pitches, render_png=render_png,
        render_wav=render_wav, primer_melody=primer_melody,
        primer_drums=primer_drums, qpm=qpm)

