"""Sampling event sequences from an autoregressive model, compiled.

Works with any model exposing `initial_state(batch, max_length)` and
`step(inputs, states) -> (logits [batch, vocab], states)`: the event LSTM's
recurrent state, the Music Transformer's key/value cache, the dilated CNN's
Fast WaveNet queues. States are lists of tensors with the batch first.

  tokens = sample(model, primer, num_steps=512, controls={'note_density': d},
                  temperature=1.0, top_k=0, top_p=1.0, seed=1)

The whole loop — priming the state with the primer, then drawing one event
at a time for every output of the batch — runs as one tf.function with a
tf.while_loop: no Python per event.
"""

import numpy as np
import tensorflow as tf


def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0, banned_ids=()):
  """Temperature, then top-k, then nucleus (top-p) filtering of [batch, vocab]
  logits; filtered-out entries and `banned_ids` (events generation must not
  produce, such as the polyphony encoding's END) become -inf. `temperature`,
  `top_k` and `top_p` may be numbers or scalar tensors (a SavedModel's
  inputs); top_k 0 and top_p 1 filter nothing either way."""
  logits = logits / tf.maximum(tf.cast(temperature, logits.dtype), 1e-6)
  vocab = tf.shape(logits)[-1]
  if banned_ids:
    banned = tf.reduce_sum(tf.one_hot(list(banned_ids), vocab), axis=0) > 0
    logits = tf.where(banned[None], tf.constant(-np.inf, logits.dtype), logits)
  if tf.is_tensor(top_k) or top_k:
    top_k = tf.cast(top_k, tf.int32)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth = tf.math.top_k(logits, k=k).values[:, -1:]
    logits = tf.where(logits < kth, tf.constant(-np.inf, logits.dtype), logits)
  if tf.is_tensor(top_p):
    top_p = tf.cast(top_p, logits.dtype)
    return tf.where(top_p < 1.0, _nucleus(logits, top_p), logits)
  if top_p < 1.0:
    logits = _nucleus(logits, top_p)
  return logits


def _nucleus(logits, top_p):
  """Logits outside the smallest set of top mass `top_p` become -inf."""
  sorted_logits = tf.sort(logits, direction='DESCENDING', axis=-1)
  probs = tf.nn.softmax(sorted_logits, axis=-1)
  cumulative = tf.cumsum(probs, axis=-1, exclusive=True)
  # Keep the smallest prefix whose mass reaches top_p (at least one entry).
  keep = cumulative < top_p
  cutoff = tf.reduce_min(tf.where(keep, sorted_logits,
                                  tf.constant(np.inf, logits.dtype)),
                         axis=-1, keepdims=True)
  return tf.where(logits < cutoff, tf.constant(-np.inf, logits.dtype), logits)


def _control_at(controls, t):
  """Controls for step t from {name: [batch, time, ...]} schedules."""
  return {name: value[:, t] for name, value in controls.items()}


def sample(model, primer, num_steps, *, controls=None, temperature=1.0,
           top_k=0, top_p=1.0, seed=None, banned_ids=()):
  """Continues `primer` by `num_steps` sampled events, for a batch at once.

  Args:
    model: has `initial_state(batch, max_length)` and `step(inputs, states)`.
    primer: int array [batch, primer_length >= 1] of event ids.
    num_steps: events to draw after the primer.
    controls: {name: array [batch, primer_length + num_steps, ...]}: the
      control in force at each position (Magenta's alignment: the input at
      position i carries the control of position i + 1, so position 0's value
      is never used), or None.
    temperature, top_k, top_p: sampling filters (top_k 0 and top_p 1 are off).
    seed: makes the draw reproducible.
    banned_ids: event ids never drawn.

  Returns:
    int32 array [batch, primer_length + num_steps]: the primer, then the
    sampled events.
  """
  banned_ids = tuple(int(i) for i in banned_ids)
  temperature, top_k, top_p = float(temperature), int(top_k), float(top_p)

  def draw(logits, step_seed):
    logits = filter_logits(logits, temperature, top_k, top_p, banned_ids)
    return tf.random.stateless_categorical(logits, 1, seed=step_seed)[:, 0]

  return _sample_tokens(model, ('events', temperature, top_k, top_p, banned_ids),
                        draw, primer, num_steps, controls, seed)


def sample_heads(model, primer, num_steps, *, temperatures, seed=None):
  """Continues `primer` by `num_steps` sampled steps of a multi-head model
  (the note LSTM: `head_names`, `split_logits`, `pack`), for a batch at
  once, in one compiled loop: each head's part of the next step is drawn
  from its own softmax at its own temperature (the "diversity" that breaks
  a model's loops), and the parts are packed into the step's token.

  Args:
    model: a multi-head model with the step interface of `sample`.
    primer: int array [batch, primer_length >= 1] of token ids.
    num_steps: steps to draw after the primer.
    temperatures: one per head (`model.head_names`), each > 0.
    seed: makes the draw reproducible.

  Returns:
    int32 array [batch, primer_length + num_steps].
  """
  temperatures = tuple(float(t) for t in temperatures)
  if len(temperatures) != len(model.head_names) or min(temperatures) <= 0:
    raise ValueError(f'temperatures needs {len(model.head_names)} values > 0 '
                     f'({", ".join(model.head_names)}), got {temperatures}')

  def draw(logits, step_seed):
    parts = []
    for i, (part, temperature) in enumerate(zip(model.split_logits(logits),
                                                temperatures)):
      parts.append(tf.cast(tf.random.stateless_categorical(
          part / temperature, 1,
          seed=tf.random.experimental.stateless_fold_in(step_seed, i))[:, 0],
                           tf.int32))
    return model.pack(*parts)

  return _sample_tokens(model, ('heads', temperatures), draw, primer,
                        num_steps, None, seed)


def _sample_tokens(model, key, draw, primer, num_steps, controls, seed):
  """The loop of `sample` and `sample_heads`: `draw(logits [batch, ...],
  seed pair) -> token ids [batch]` picks each next token; `key` names the
  draw, for the cache of compiled loops."""
  primer = tf.convert_to_tensor(primer, tf.int32)
  controls = {k: tf.convert_to_tensor(v) for k, v in (controls or {}).items()}
  batch = int(primer.shape[0])
  primer_length = int(primer.shape[1])
  if primer_length < 1:
    raise ValueError('the primer needs at least one event')
  total = primer_length + num_steps
  for name, value in controls.items():
    if int(value.shape[1]) != total:
      raise ValueError(f'control {name} covers {value.shape[1]} positions, '
                       f'needs {total}')
  seed_pair = tf.constant([seed or 0, 0 if seed is not None else
                           np.random.randint(1 << 30)], tf.int64)
  key = (id(model),) + key
  if key not in _LOOPS:
    _LOOPS[key] = tf.function(token_loop(model, draw))
  return _LOOPS[key](primer, controls, tf.constant(num_steps),
                     seed_pair).numpy()[:batch]


_LOOPS = {}


def token_loop(model, draw):
  """The sampling loop of `sample`, to trace in a tf.function:
  `loop(primer [batch, n] int32, controls {name: [batch, n + num_steps,
  ...]}, num_steps, seed_pair)` -> int32 [batch, n + num_steps];
  `draw(logits, seed pair)` picks each next token."""

  def loop(primer, controls, num_steps, seed_pair):
    batch = tf.shape(primer)[0]
    primer_length = tf.shape(primer)[1]
    total = primer_length + num_steps
    states = model.initial_state(batch, total)
    output = tf.TensorArray(tf.int32, size=total)
    output = output.scatter(tf.range(primer_length), tf.transpose(primer))

    def inputs_at(t, token):
      inputs = {'tokens': token}
      # The input at position t carries the control of position t + 1.
      inputs.update(_control_at(controls, t + 1) if controls else {})
      return inputs

    # Prime: feed primer events 0 .. n-2; the last one starts the sampling.
    def prime_body(t, states):
      _, states = model.step(inputs_at(t, primer[:, t]), states)
      return t + 1, states

    _, states = tf.while_loop(lambda t, s: t < primer_length - 1, prime_body,
                              (tf.constant(0), states))

    def sample_body(t, token, states, output):
      logits, states = model.step(inputs_at(t, token), states)
      step_seed = tf.random.experimental.stateless_fold_in(seed_pair, t)
      token = tf.cast(draw(logits, step_seed), tf.int32)
      return t + 1, token, states, output.write(t + 1, token)

    _, _, _, output = tf.while_loop(
        lambda t, *_: t < total - 1, sample_body,
        (primer_length - 1, primer[:, -1], states, output))
    return tf.transpose(output.stack())

  return loop


BINARIZE = ('threshold', 'bernoulli')


def sample_frames(model, primer, num_steps, *, temperature=1.0,
                  binarize='bernoulli', threshold=0.5, seed=None):
  """Continues frame rolls (`musicrnn.encodings.frames`) by `num_steps`
  frames, for a batch at once, in one compiled loop.

  Each bit of the next frame is drawn from its sigmoid at `temperature`
  (`binarize='bernoulli'`) or set where its probability exceeds `threshold`
  (`'threshold'`). A key is held only where it sounded in the frame before
  and has no onset, so every note starts with an onset.

  Args:
    model: a frame model: `initial_state(batch, max_length)` and
      `step({'pianoroll': [batch, cells]}, states)` -> (logits [batch,
      cells], states); a frame's first half are onset bits, the second
      half held bits.
    primer: 0/1 array [batch, primer_length >= 1, cells].
    num_steps: frames to draw after the primer.

  Returns:
    uint8 array [batch, primer_length + num_steps, cells].
  """
  if binarize not in BINARIZE:
    raise ValueError(f'binarize must be one of {BINARIZE}, got {binarize!r}')
  primer = tf.convert_to_tensor(primer, tf.float32)
  if int(primer.shape[1]) < 1:
    raise ValueError('the primer needs at least one frame')
  seed_pair = tf.constant([seed or 0, 0 if seed is not None else
                           np.random.randint(1 << 30)], tf.int64)
  key = (id(model), 'frames', float(temperature), binarize, float(threshold))
  if key not in _LOOPS:
    _LOOPS[key] = _frame_loop(model, float(temperature), binarize,
                              float(threshold))
  frames = _LOOPS[key](primer, tf.constant(num_steps), seed_pair)
  return frames.numpy().astype(np.uint8)


def _frame_loop(model, temperature, binarize, threshold):

  @tf.function
  def loop(primer, num_steps, seed_pair):
    batch = tf.shape(primer)[0]
    primer_length = tf.shape(primer)[1]
    cells = primer.shape[2]
    keys = cells // 2
    total = primer_length + num_steps
    states = model.initial_state(batch, total)
    output = tf.TensorArray(tf.float32, size=total, element_shape=[None, cells])
    output = output.scatter(tf.range(primer_length),
                            tf.transpose(primer, [1, 0, 2]))

    def prime_body(t, states):
      _, states = model.step({'pianoroll': primer[:, t]}, states)
      return t + 1, states

    _, states = tf.while_loop(lambda t, s: t < primer_length - 1, prime_body,
                              (tf.constant(0), states))

    def sample_body(t, frame, states, output):
      logits, states = model.step({'pianoroll': frame}, states)
      probabilities = tf.sigmoid(tf.cast(logits, tf.float32) / temperature)
      if binarize == 'bernoulli':
        draw = tf.random.stateless_uniform(
            tf.shape(probabilities),
            seed=tf.random.experimental.stateless_fold_in(seed_pair, t))
        bits = draw < probabilities
      else:
        bits = probabilities > threshold
      onset = bits[:, :keys]
      sounded = (frame[:, :keys] + frame[:, keys:]) > 0
      held = bits[:, keys:] & sounded & ~onset
      frame = tf.cast(tf.concat([onset, held], axis=1), tf.float32)
      return t + 1, frame, states, output.write(t + 1, frame)

    _, _, _, output = tf.while_loop(
        lambda t, *_: t < total - 1, sample_body,
        (primer_length - 1, primer[:, -1], states, output))
    return tf.transpose(output.stack(), [1, 0, 2])

  return loop


def sample_naively(model, primer, num_steps, *, controls=None, temperature=1.0,
                   top_k=0, top_p=1.0, seed=None, banned_ids=()):
  """The baseline: a Python loop calling the model's full forward pass on the
  whole prefix once per event (what a first script does). Same sampling
  rule as `sample`; used by tests and benchmarks."""
  tokens = np.asarray(primer, np.int32)
  rng = np.random.default_rng(seed)
  for _ in range(num_steps):
    n = tokens.shape[1]
    inputs = {'tokens': tokens}
    for name, value in (controls or {}).items():
      inputs[name] = np.asarray(value)[:, 1:n + 1]
    logits = model(inputs)[:, -1]
    logits = filter_logits(tf.convert_to_tensor(logits), temperature, top_k,
                           top_p, banned_ids).numpy()
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    choice = np.array([rng.choice(len(p), p=p) for p in probs], np.int32)
    tokens = np.concatenate([tokens, choice[:, None]], axis=1)
  return tokens


def beam_search(model, primer, num_steps, *, beam_size, branch_factor,
                controls=None, temperature=1.0, top_k=0, top_p=1.0, seed=None,
                banned_ids=()):
  """Magenta's stochastic beam search, for a batch of outputs.

  Every step, each of the `beam_size` sequences of an output draws
  `branch_factor` continuations from the (filtered) model distribution; the
  `beam_size` candidates with the highest total log-probability of their
  generated events survive. One compiled call per step advances every beam
  of every output.

  Args: as `sample`, plus
    beam_size: sequences kept per output.
    branch_factor: continuations drawn per sequence and step.

  Returns:
    int32 array [batch, primer_length + num_steps]: each output's best beam.
  """
  primer = np.asarray(primer, np.int32)
  controls = {k: np.asarray(v) for k, v in (controls or {}).items()}
  batch, primer_length = primer.shape
  beams = batch * beam_size
  rng_seed = tf.constant([seed or 0, 1 if seed is not None else
                          np.random.randint(1 << 30)], tf.int64)

  def controls_at(t, repeat):
    return {k: np.repeat(v[:, t], repeat, axis=0) for k, v in controls.items()}

  step_fn = tf.function(model.step)
  states = model.initial_state(batch, primer_length + num_steps)
  for t in range(primer_length - 1):
    _, states = step_fn({'tokens': primer[:, t], **controls_at(t + 1, 1)}, states)
  states = [tf.repeat(s, beam_size, axis=0) for s in states]
  history = np.repeat(primer[:, None, :], beam_size, axis=1)   # [batch, beam, T]
  # Only the first beam of each output is live at the start, so the first
  # expansion does not fill the beam with copies of one continuation.
  scores = np.tile(np.array([0.0] + [-np.inf] * (beam_size - 1)), (batch, 1))

  @tf.function
  def expand(tokens, control_inputs, states, step_seed):
    logits, states = model.step({'tokens': tokens, **control_inputs}, states)
    logits = filter_logits(logits, temperature, top_k, top_p, banned_ids)
    log_probs = tf.nn.log_softmax(logits)
    draws = tf.random.stateless_categorical(logits, branch_factor, seed=step_seed,
                                            dtype=tf.int32)
    return draws, tf.gather(log_probs, draws, batch_dims=1), states

  for t in range(primer_length - 1, primer_length - 1 + num_steps):
    tokens = history[:, :, -1].reshape(beams)
    draws, log_probs, states = expand(
        tokens, controls_at(t + 1, beam_size), states,
        tf.random.experimental.stateless_fold_in(rng_seed, t))
    draws = draws.numpy().reshape(batch, beam_size * branch_factor)
    candidates = (np.repeat(scores, branch_factor, axis=1)
                  + log_probs.numpy().reshape(batch, beam_size * branch_factor))
    best = np.argsort(-candidates, axis=1, kind='stable')[:, :beam_size]
    parents = best // branch_factor
    scores = np.take_along_axis(candidates, best, axis=1)
    chosen = np.take_along_axis(draws, best, axis=1)
    history = np.concatenate(
        [np.take_along_axis(history, parents[:, :, None], axis=1),
         chosen[:, :, None]], axis=2)
    flat_parents = (parents + np.arange(batch)[:, None] * beam_size).reshape(beams)
    states = [tf.gather(s, flat_parents) for s in states]
  winners = np.argmax(scores, axis=1)
  return history[np.arange(batch), winners]
