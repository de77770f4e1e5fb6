"""The 'next_token' task: autoregressive models over token ids (event LSTM,
Music Transformer, dilated CNN; `protocols.NextTokenModel`).

- Training: Adam on the summed NLL of the real next tokens over the global
  batch's tokens, global-norm clipping; with `loss_scale` (float16), Adam in
  a LossScaleOptimizer.
- Evaluation: NLL in nats per event, perplexity and accuracy of the next
  event over every real event of a split.
- Generation: sampling (temperature, top-k, top-p) or Magenta's stochastic
  beam search from a primer, with the run's control signals held at the
  user's values; decoded by the codec, notes left on capped.
- Export: a SavedModel `generate` signature running the sampling loop.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from musicrnn import encodings
from musicrnn.encodings import codec
from musicrnn.encodings import controls as controls_lib
from musicrnn.encodings import performance
from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.generation import primers
from musicrnn.generation import sampler
from musicrnn.models import protocols
from musicrnn.tasks import base
from musicrnn.tasks import optimization

MAX_NOTE_DURATION_SECONDS = performance.MAX_NOTE_DURATION_SECONDS
# Improv RNN's defaults (improv_rnn_generate): the chords a lead-sheet run
# improvises over when none are given, each held for a 4/4 bar of 16ths.
DEFAULT_BACKING_CHORDS = 'C G Am F C G F C'
DEFAULT_STEPS_PER_CHORD = 16
CHORDS = 'chords'



def event_sums(model, features, labels, weights, training=False):
  """(summed NLL in nats, correct predictions, events) over real steps."""
  logits = model(features, training=training)
  nll = keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                     from_logits=True)
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                             labels), tf.float32)
  return (tf.reduce_sum(nll * weights), tf.reduce_sum(correct * weights),
          tf.reduce_sum(weights))


def frame_event_sums(model, features, labels, weights, frame_end_id):
  """`event_sums`, then (summed NLL of the frames after the first of each
  sequence, their number) for an encoding whose frames end with
  `frame_end_id` (`FrameEventCodec`). A frame's tokens together score it
  exactly: each token's probability renormalised over the tokens the
  encoding's grammar allows after the one before (a key above the last key
  of its frame, or FRAME_END), the distribution generation samples. The
  first frame, whose first token has no past, is left out, as the 2012
  polyphonic benchmark leaves out each piece's first frame."""
  logits = model(features, training=False)
  nll = keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                     from_logits=True)
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                             labels), tf.float32)
  inputs = tf.cast(features['tokens'], tf.int32)
  # Allowed after input t: keys above it when it is a key, any key after a
  # FRAME_END; FRAME_END always.
  vocab = tf.range(frame_end_id + 1)
  last = tf.where(inputs == frame_end_id, -1, inputs)
  allowed = (vocab[None, None, :] > last[..., None]) | (
      vocab[None, None, :] == frame_end_id)
  masked = tf.where(allowed, tf.cast(logits, tf.float32), -1e9)
  frame_nll = keras.losses.sparse_categorical_crossentropy(labels, masked,
                                                           from_logits=True)
  ends = tf.cast(tf.equal(labels, frame_end_id), tf.float32) * weights
  # Label t is of a frame after the first once the inputs up to t hold a
  # FRAME_END (the first frame's may be input 0, never a label).
  later = tf.cast(tf.cumsum(tf.cast(inputs == frame_end_id, tf.float32),
                            axis=1) > 0, tf.float32)
  return (tf.reduce_sum(nll * weights), tf.reduce_sum(correct * weights),
          tf.reduce_sum(weights), tf.reduce_sum(frame_nll * weights * later),
          tf.reduce_sum(ends * later))


class NextTokenObjective:
  """Adam on the summed NLL of the real events over the global batch's
  events; with `loss_scale` (float16), Adam in a LossScaleOptimizer. The
  protocol of every objective is `musicrnn.tasks.base`'s."""

  bar_labels = ['loss', 'accuracy', 'lr', 'events/s']
  loss_unit = 'nats/event'

  def __init__(self, model, config, strategy, loss_scale=False):
    del strategy
    self.model = model
    self.config = config
    adam = keras.optimizers.Adam(optimization.learning_rate(config.train),
                                 global_clipnorm=config.train.clip_norm)
    # The checkpoint holds Adam's state, not the loss scale (which starts
    # afresh on resume): a run resumes at any precision.
    self.optimizers = {'optimizer': adam}
    self.optimizer = (keras.optimizers.LossScaleOptimizer(adam) if loss_scale
                      else adam)
    self.optimizer.build(model.trainable_variables)

  def sums(self, features, labels, weights):
    """(summed loss, then what `record` reports) over a replica's batch."""
    nll, correct, events = event_sums(self.model, features, labels, weights,
                                      training=True)
    return nll, {'nll': nll, 'correct': correct, 'events': events}

  def replica_step(self, features, labels, weights):
    context = tf.distribute.get_replica_context()
    global_weight = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                       tf.reduce_sum(weights))
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      summed, values = self.sums(features, labels, weights)
      loss = summed / tf.maximum(global_weight, 1.0)
      # Adam leaves the loss as it is; a LossScaleOptimizer scales it, and
      # unscales the gradients before clipping them.
      loss = self.optimizer.scale_loss(loss)
    grads = tape.gradient(loss, variables)
    self.optimizer.apply_gradients(zip(grads, variables))
    return values

  def record(self, totals, steps, elapsed):
    del steps
    events = max(totals['events'], 1.0)
    return {'loss': totals['nll'] / events, 'accuracy': totals['correct'] / events,
            'learning_rate': optimization.learning_rate_value(self.optimizer),
            'events': totals['events'],
            'events_per_second': totals['events'] / elapsed}

  @staticmethod
  def bar_values(record):
    return [('loss', record['loss']), ('accuracy', record['accuracy']),
            ('lr', record['learning_rate']),
            ('events/s', record['events_per_second'])]

  @staticmethod
  def log_line(record):
    return ('loss {loss:.4f} accuracy {accuracy:.4f} lr {learning_rate:.2g} '
            '{steps_per_second:.2f} steps/s {events_per_second:.0f} '
            'events/s'.format(**record))


class NextTokenEvaluation(base.SummedEvaluation):
  """NLL (nats per event), perplexity and accuracy of an autoregressive
  model on every real event of a split.

  Args:
    model: the model (ids in, logits out).
    config: the run's config.
    strategy, jit_compile, num_workers: as `base.SummedEvaluation`'s.
  """

  selection_metric = 'nll'

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    frame_end_id = encodings.codec_from_config(config).frame_end_id
    if frame_end_id is None:
      sums = lambda f, l, w: event_sums(model, f, l, w)
    else:
      sums = lambda f, l, w: frame_event_sums(model, f, l, w, frame_end_id)
      # Frames, not events, are what such a model is chosen by.
      self.selection_metric = 'nll_per_frame'
    super().__init__(model, sums, strategy, jit_compile, num_workers)

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """{'nll', 'perplexity', 'accuracy', 'events', 'batches'} over `split` of
    `data` (a DataSource or what `sources.open_source` opens), and for an
    encoding of frames (`frame_end_id`) 'nll_per_frame' (nats per frame, of
    every frame but each sequence's first) and 'frames';
    `static_length`: batches of one shape (`input.make_dataset`), the same
    metrics."""
    del seed   # every event is scored: nothing is drawn
    totals, batches = self._totals(data, batch_size, split, max_batches,
                                   static_length)
    nll, correct, events = (totals or [0.0, 0.0, 0.0])[:3]
    metrics = {'nll': nll / max(events, 1.0),
               'accuracy': correct / max(events, 1.0),
               'events': int(events), 'batches': batches}
    metrics['perplexity'] = math.exp(min(metrics['nll'], 50.0))
    if totals and len(totals) == 5:
      metrics['nll_per_frame'] = totals[3] / max(totals[4], 1.0)
      metrics['frames'] = int(totals[4])
    return metrics

  @staticmethod
  def describe(metrics):
    frames = (f', {metrics["nll_per_frame"]:.3f} nats per frame over '
              f'{metrics["frames"]} frames' if 'nll_per_frame' in metrics
              else '')
    return (f'NLL {metrics["nll"]:.4f} nats/event, perplexity '
            f'{metrics["perplexity"]:.2f}, accuracy {metrics["accuracy"]:.4f} '
            f'over {metrics["events"]} events{frames}')


def _schedules(values, batch, total):
  """{control name: [batch, total, ...]}: each control's one-step input
  held for every step of every output."""
  return {name: np.broadcast_to(value, (batch, total) + np.shape(value)).copy()
          for name, value in values.items()}


def _chord_schedule(run_codec, chords, batch, total):
  """[batch, total, size]: the codec's input of the chord over each step,
  the progression `chords` (a symbol per step) repeated to `total` steps."""
  symbols = [chords[i % len(chords)] for i in range(total)]
  vectors = run_codec.extra_inputs(CHORDS, symbols).astype(np.float32)
  return np.broadcast_to(vectors, (batch,) + vectors.shape).copy()


def _with_chords(run_codec, chords, render_chords, min_steps=0):
  """A function that writes the progression into a generated lead sheet:
  a CHORD_SYMBOL annotation at each change (note-seq's lead sheets), and
  with `render_chords` the chords as notes (note-seq's BasicChordRenderer,
  as improv_rnn_generate's --render_chords), over the output's steps, at
  least `min_steps` (the length asked for: a melody may end in silence)."""
  import note_seq  # pylint: disable=import-outside-toplevel
  seconds = run_codec.seconds_per_step()

  def finish(sequence):
    steps = max(1, min_steps,
                math.ceil(round(sequence.total_time / seconds, 6)))
    sequence.total_time = max(sequence.total_time, steps * seconds)
    for step in range(steps):
      symbol = chords[step % len(chords)]
      if step == 0 or symbol != chords[(step - 1) % len(chords)]:
        sequence.text_annotations.add(
            time=step * seconds, text=symbol,
            annotation_type=note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL)
    if render_chords:
      note_seq.BasicChordRenderer().render(sequence)
    return sequence

  return finish


class NextTokenTask(base.Task):
  """Autoregressive models over token ids (see the module docstring)."""

  name = 'next_token'
  protocol = protocols.NextTokenModel
  objective = NextTokenObjective
  evaluation = NextTokenEvaluation
  # With each control's flag: its value held for the whole output (None: the
  # control's default).
  options = {
      'num_steps': None, 'duration_seconds': None, 'temperature': 1.0,
      'top_k': 0, 'top_p': 1.0, 'primer_midi': None, 'primer_pitches': None,
      'primer_frames': None, 'primer_melody': None, 'primer_drums': None,
      'qpm': None, 'num_bars': None,
      **{control.flag: None for control in controls_lib.CONTROLS},
      'beam_size': 1, 'branch_factor': 1, 'steps_per_iteration': 1,
      'max_note_duration': MAX_NOTE_DURATION_SECONDS, 'state_masks': True,
      'max_polyphony': 0, 'mask_renormalisation': codec.RENORMALISE_BY_TYPE,
      'backing_chords': None, 'steps_per_chord': DEFAULT_STEPS_PER_CHORD,
      'render_chords': False}

  def options_for(self, codec, controls):
    """The task's options less those this run cannot use: the flags of
    controls it was not trained with, backing chords without a chord
    input, the grammar's options without a grammar (and the base's
    bars)."""
    taken = super().options_for(codec, controls)
    flags = {control.flag for _, control in controls}
    for control in controls_lib.CONTROLS:
      if control.flag not in flags:
        del taken[control.flag]
    if CHORDS not in codec.extra_input_sizes():
      for name in ('backing_chords', 'steps_per_chord', 'render_chords'):
        del taken[name]
    if codec.grammar() is None:
      for name in ('state_masks', 'max_polyphony', 'mask_renormalisation'):
        del taken[name]
    return taken

  def generate(self, run, output_dir, *, num_outputs=1, seed=None,
               render_png=False, render_wav=False, num_steps=None,
               duration_seconds=None, temperature=1.0, top_k=0, top_p=1.0,
               primer_midi=None, primer_pitches=None, primer_frames=None,
               primer_melody=None, primer_drums=None, qpm=None, num_bars=None,
               beam_size=1,
               branch_factor=1, steps_per_iteration=1,
               max_note_duration=MAX_NOTE_DURATION_SECONDS, state_masks=True,
               max_polyphony=0, mask_renormalisation=codec.RENORMALISE_BY_TYPE,
               backing_chords=None, steps_per_chord=DEFAULT_STEPS_PER_CHORD,
               render_chords=False, **control_values):
    """Samples event sequences and writes them as MIDI; returns the paths.

    Args:
      run: a loaded run.
      num_steps: events to generate after the primer (default 1000); or
      duration_seconds: generate until each output lasts this long; or
      num_bars: bars to generate after the primer, for a metric encoding
        (`outputs.bar_steps`: 16 steps a 4/4 bar of 16ths).
      temperature, top_k, top_p: how each event is drawn (`sampler.sample`).
      primer_midi, primer_pitches, primer_frames, primer_melody,
        primer_drums: what the outputs continue (`primers.primer_events`).
      qpm: the tempo of a primer of pitches, melody events or drums
        (default 120); the output's tempo is the codec's, which
        `runs.generate` sets to it.
      max_note_duration: a note still on after this many seconds ends
        (encodings whose tokens can leave a note on; 0: notes last to the
        end).
      state_masks: never draw an event that cannot mean anything in the
        state of the music so far (a NOTE_OFF of a silent pitch, ...: the
        codec's `grammar()`), and read a note struck again while it sounds
        as ending it; False samples the model as it is and decodes as
        note-seq does.
      max_polyphony: above 0, no note starts while this many sound (with
        state_masks).
      mask_renormalisation: where masked probability goes (the codec's
        `grammar()`): 'by_type' keeps a NOTE_OFF's with the NOTE_OFFs of
        the sounding notes, 'all' spreads all of it over every allowed
        event.
      beam_size, branch_factor: above 1, Magenta's stochastic beam search
        (`sampler.beam_search`) instead of plain sampling, pruning every
        `steps_per_iteration` events.
      backing_chords, steps_per_chord, render_chords: for a run over chords
        (Improv RNN, the lead_sheet encoding): the chord symbols it
        improvises over ("C G Am F"; default DEFAULT_BACKING_CHORDS), each
        held `steps_per_chord` steps and repeated if the output is longer;
        by default the output spans them once, primer included. The output
        holds them as chord symbols, and with `render_chords` as notes.
      **control_values: {control flag: value or None}, for a run conditioned
        on controls (`controls.user_inputs`): each held for the whole output.
    """
    outputs.check_steps(num_steps, duration_seconds, num_bars)
    chords = finish = None
    if CHORDS in run.codec.extra_input_sizes():
      chords = primers.backing_chords(backing_chords or DEFAULT_BACKING_CHORDS,
                                      steps_per_chord)
      try:
        run.codec.extra_inputs(CHORDS, chords)
      except codec.EncodingError as e:
        raise UsageError(f'--backing_chords: {e} (the {run.config.name} '
                         'config reads its chords with this encoding)') from e
      primer = primers.primer_events(
          run.codec, primer_midi, primer_pitches, primer_frames,
          primer_melody=primer_melody, primer_drums=primer_drums, qpm=qpm)
      if num_steps is None and duration_seconds is None and num_bars is None:
        num_steps = max(len(chords) - len(primer), 1)
      asked = (num_steps if num_steps is not None else
               outputs.bar_steps(run.codec, num_bars) if num_bars else 0)
      finish = _with_chords(run.codec, chords, render_chords,
                            len(primer) + asked if asked else 0)
    elif backing_chords or render_chords:
      raise UsageError(f'--backing_chords and --render_chords are for runs over '
                       f'chords (Improv RNN: the lead_sheet encoding); '
                       f'{run.config.name!r} has the {run.codec.name} encoding')
    outputs.check_temperature(temperature)
    if not 0 < top_p <= 1:
      raise UsageError(f'--top_p must be in (0, 1], got {top_p}')
    if min(beam_size, branch_factor, steps_per_iteration) < 1:
      raise UsageError('--beam_size, --branch_factor and --steps_per_iteration '
                       'must be at least 1')
    outputs.check_max_polyphony(max_polyphony, state_masks)
    if mask_renormalisation not in codec.RENORMALISE:
      raise UsageError(f'--mask_renormalisation must be one of '
                       f'{", ".join(codec.RENORMALISE)}, got '
                       f'{mask_renormalisation!r}')
    values = controls_lib.user_inputs(run.controls, control_values,
                                      run.config.name)
    grammar = (run.codec.grammar(max_polyphony, max_note_duration,
                                 mask_renormalisation)
               if state_masks else None)
    # An encoding's END would cut the output short: generation runs to length.
    banned = () if run.codec.end_id is None else (run.codec.end_id,)

    def draw(tokens, steps, seed):
      schedules = _schedules(values, num_outputs, tokens.shape[1] + steps)
      if chords:
        schedules[CHORDS] = _chord_schedule(run.codec, chords, num_outputs,
                                            tokens.shape[1] + steps)
      kwargs = dict(controls=schedules,
                    temperature=temperature, top_k=top_k, top_p=top_p,
                    seed=seed, banned_ids=banned, grammar=grammar)
      if beam_size > 1 or branch_factor > 1:
        return sampler.beam_search(run.model, tokens, steps, beam_size=beam_size,
                                   branch_factor=branch_factor,
                                   steps_per_iteration=steps_per_iteration,
                                   **kwargs)
      return sampler.sample(run.model, tokens, steps, **kwargs)

    return outputs.generate_tokens(
        run, output_dir, draw, num_outputs=num_outputs, num_steps=num_steps,
        duration_seconds=duration_seconds, seed=seed, primer_midi=primer_midi,
        primer_pitches=primer_pitches, render_png=render_png,
        render_wav=render_wav, max_note_duration=max_note_duration,
        restrike_ends_note=state_masks, primer_frames=primer_frames,
        primer_melody=primer_melody, primer_drums=primer_drums, qpm=qpm,
        num_bars=num_bars, finish=finish)

  def export_signature(self, run):
    """The sampling loop of `musicrnn.generation.sampler` without XLA (any
    TensorFlow serves it; the same draws as `sampler.sample(...,
    jit_compile=False)` for a seed): primer ids [batch, n], num_steps,
    temperature, top_k, top_p, seed, max_polyphony (0: none) and
    max_note_duration (seconds, 0: none) in, {'tokens': [batch, n +
    num_steps]} out. The codec's grammar masks every draw, as
    musicrnn_generate's default does (read the tokens with the codec's
    `decode_generated` and the same max_note_duration). A conditioned run also takes each control's value per
    output under its flag's name (`Control.value_spec`), held for the whole
    output as musicrnn_generate holds it (`Control.input_for_value`, one
    definition for NumPy and TensorFlow)."""
    banned = () if run.codec.end_id is None else (int(run.codec.end_id),)
    specs = [tf.TensorSpec([None, None], tf.int32, name='primer'),
             tf.TensorSpec([], tf.int32, name='num_steps'),
             tf.TensorSpec([], tf.float32, name='temperature'),
             tf.TensorSpec([], tf.int32, name='top_k'),
             tf.TensorSpec([], tf.float32, name='top_p'),
             tf.TensorSpec([], tf.int64, name='seed'),
             tf.TensorSpec([], tf.int32, name='max_polyphony'),
             tf.TensorSpec([], tf.float32, name='max_note_duration')]
    for _, control in run.controls:
      spec = control.value_spec()
      specs.append(tf.TensorSpec(spec['shape'], spec['dtype'], name=spec['name']))

    def generate(primer, num_steps, temperature, top_k, top_p, seed,
                 max_polyphony, max_note_duration, *values):

      def draw(unused_model, logits, step_seed, mask):
        # The model's tempered_step divided the logits by the temperature.
        logits = sampler.filter_logits(logits, 1.0, top_k, top_p, banned, mask)
        return sampler.categorical(logits, step_seed)

      total = tf.shape(primer)[1] + num_steps
      schedules = {
          name: tf.repeat(control.input_for_value(
              value, xp=tf.experimental.numpy)[:, tf.newaxis], total, axis=1)
          for (name, control), value in zip(run.controls, values)}
      seed_pair = tf.stack([seed, tf.constant(0, tf.int64)])
      grammar = run.codec.grammar(max_polyphony, max_note_duration)
      tokens = sampler.token_loop(run.model, draw, grammar, temperature)(
          primer, schedules, num_steps, seed_pair)
      return {'tokens': tokens}

    inputs = {name: control.flag for name, control in run.controls}
    return tf.function(generate, input_signature=specs), inputs
