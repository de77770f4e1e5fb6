"""Sampling event sequences from an autoregressive model, compiled.

Works with any model exposing `initial_state(batch, max_length)`,
`step(inputs, states) -> (logits [batch, vocab], states)` and, for beam
search, `reorder_states(states, indices)`: the event LSTM's recurrent state,
the Music Transformer's key/value cache, the dilated CNN's Fast WaveNet
queues. States are lists of tensors laid out as each model chooses (the
transformer's cache puts its chunks first): the sampler passes them back to
the model and never indexes them.

A latent-variable model (MusicVAE) decodes from z instead of a primer, with
`decoder_initial_state(z)` and `decoder_step(tokens, states, t)`:
`sample_latent` draws sequences from z in a compiled loop, and `latent_loop`
is that loop to trace elsewhere (scheduled sampling in training, the
evaluation's free-running reconstructions); `posterior` runs its encoder, for
the latents of given music (`musicrnn.generation.latent`).

  tokens = sample(model, primer, num_steps=512, controls={name: schedule},
                  temperature=1.0, top_k=0, top_p=1.0, seed=1)

The whole loop — priming the state with the primer, then drawing one event
at a time for every output of the batch, both through the same call of the
model's step (so the step is traced and compiled once) — runs as one
tf.function with a tf.while_loop, compiled with XLA (`jit_compile`, on by default): no Python
per event, and each step's state (the transformer's cache, the CNN's queues)
and the output are updated in place rather than copied. Beam search runs in
the same kind of loop, pruning on the device.

With a codec's `grammar` (`musicrnn.encodings.codec.Grammar`), every loop
also keeps the state of the music each sequence has written (which notes
sound, ...) and gives the ids that cannot mean anything in it probability
zero before the draw, the rest renormalised: the grammar's state updates
with every token, the primer's included, and beam search reorders it with
the model's states.

Draws are Gumbel-max on `tf.random.stateless_uniform`: reproducible for a
seed. XLA's random numbers are not TF's kernels' ones, so a compiled loop and
an uncompiled one (`jit_compile=False`, as a SavedModel runs it) draw
differently for the same seed; each is reproducible.
"""

import weakref

import numpy as np
import tensorflow as tf

tnp = tf.experimental.numpy


def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0, banned_ids=(),
                  mask=None):
  """Temperature, then a grammar's `mask`, then top-k, then nucleus (top-p)
  filtering of [batch, vocab] logits; filtered-out entries and `banned_ids`
  (events generation must not produce, such as the polyphony encoding's END)
  become -inf. `temperature`, `top_k` and `top_p` may be numbers or scalar
  tensors (a SavedModel's inputs); top_k 0 and top_p 1 filter nothing
  either way. `mask` is None or (allowed [batch, vocab], type groups), as
  `masked` takes them: after the temperature, so that a type's probability
  stays the tempered model's."""
  logits = logits / tf.maximum(tf.cast(temperature, logits.dtype), 1e-6)
  if mask is not None:
    logits = masked(logits, *mask)
  vocab = tf.shape(logits)[-1]
  if banned_ids:
    banned = tf.reduce_sum(tf.one_hot(list(banned_ids), vocab), axis=0) > 0
    logits = tf.where(banned[None], tf.constant(-np.inf, logits.dtype), logits)
  if tf.is_tensor(top_k):
    # A k known only at run time: the k-th largest from a sort (XLA needs a
    # static k for top_k, not for a gather).
    top_k = tf.cast(top_k, tf.int32)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth = tf.gather(tf.sort(logits, direction='DESCENDING', axis=-1),
                    [k - 1], axis=-1)
    logits = tf.where(logits < kth, tf.constant(-np.inf, logits.dtype), logits)
  elif top_k:
    k = top_k if logits.shape[-1] is None else min(top_k, logits.shape[-1])
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


def categorical(logits, seed):
  """One id per row of [batch, vocab] logits, drawn from their softmax
  (-inf never drawn) by the Gumbel-max trick on stateless uniforms: a seed
  pair gives the same draws every time, with or without XLA (which has no
  kernel for TF's multinomial)."""
  uniform = tf.random.stateless_uniform(
      tf.shape(logits), seed, minval=np.finfo(np.float32).tiny, maxval=1.0)
  gumbel = -tf.math.log(-tf.math.log(uniform))
  return tf.argmax(tf.cast(logits, tf.float32) + gumbel, axis=-1,
                   output_type=tf.int32)


def masked(logits, allowed, type_groups=()):
  """[batch, vocab] logits with the ids not `allowed` at -inf, the rest
  renormalised: the probability of an id range of `type_groups` (a
  grammar's, [(first id, last id + 1)]) stays with the range's allowed ids,
  in the model's proportions, where it has any; every other masked
  probability goes to all allowed ids alike."""
  minus_inf = tf.constant(-np.inf, logits.dtype)
  for first, end in type_groups:
    # The group's columns only (a step of the compiled loop pays for every
    # column it touches).
    group, kept = logits[:, first:end], allowed[:, first:end]
    mass = tf.reduce_logsumexp(group, axis=-1, keepdims=True)
    kept_mass = tf.reduce_logsumexp(tf.where(kept, group, minus_inf), axis=-1,
                                    keepdims=True)
    group = tf.where(kept & tf.math.is_finite(kept_mass),
                     group + (mass - kept_mass), group)
    logits = tf.concat([logits[:, :first], group, logits[:, end:]], axis=-1)
  return tf.where(allowed, logits, minus_inf)


# A loop carries a grammar as its state after the tokens so far and the
# ids it allows next (computed right after the token that leads to them is
# written, so that the grammar's work follows the draw rather than running
# beside the model's step); () without a grammar.


def _grammar_start(grammar, first_tokens):
  """The carry after the first token of every sequence."""
  if grammar is None:
    return ()
  return _grammar_carry(grammar, grammar.initial_state(
      tf.shape(first_tokens)[0], tnp), first_tokens)


def _grammar_next(grammar, carry, tokens):
  """The carry after `tokens` [batch]."""
  if grammar is None:
    return carry
  return _grammar_carry(grammar, carry[:-1], tokens)


def _grammar_carry(grammar, state, tokens):
  """(The grammar's state after `tokens`, then the ids it allows next)."""
  state = grammar.update(tuple(state), tokens, tnp)
  return tuple(state) + (grammar.allowed(state, tnp),)


def _grammar_mask(grammar, carry):
  """The next draw's mask ((allowed, type groups) for `filter_logits`), None
  without a grammar."""
  return None if grammar is None else (carry[-1], grammar.type_groups)


def compiled(function, jit_compile=True, reduce_retracing=False):
  """`function` as a tf.function, XLA-compiled unless `jit_compile` is False
  (with `reduce_retracing`, traced once more for inputs of any shape after
  the first of another shape)."""
  return tf.function(function, jit_compile=bool(jit_compile),
                     reduce_retracing=reduce_retracing)


def _seed_pair(seed, stream):
  return tf.constant([seed or 0, stream if seed is not None else
                      np.random.randint(1 << 30)], tf.int64)


def _control_at(controls, t):
  """Controls for step t from {name: [batch, time, ...]} schedules."""
  return {name: value[:, t] for name, value in controls.items()}


def sample(model, primer, num_steps, *, controls=None, temperature=1.0,
           top_k=0, top_p=1.0, seed=None, banned_ids=(), grammar=None,
           jit_compile=True):
  """Continues `primer` by `num_steps` sampled events, for a batch at once.

  Args:
    model: has `initial_state(batch, max_length)` and `tempered_step(inputs,
      states, temperature)` (`models.protocols.NextTokenModel`).
    primer: int array [batch, primer_length >= 1] of event ids.
    num_steps: events to draw after the primer.
    controls: {name: array [batch, primer_length + num_steps, ...]}: the
      control in force at each position (Magenta's alignment: the input at
      position i carries the control of position i + 1, so position 0's value
      is never used), or None.
    temperature, top_k, top_p: sampling filters (top_k 0 and top_p 1 are off).
    seed: makes the draw reproducible.
    banned_ids: event ids never drawn.
    grammar: a codec's `Grammar`: ids it does not allow in the state of
      each sequence are never drawn (None: no masks).
    jit_compile: compile the loop with XLA (in-place state updates).

  Returns:
    int32 array [batch, primer_length + num_steps]: the primer, then the
    sampled events.
  """
  banned_ids = tuple(int(i) for i in banned_ids)
  temperature, top_k, top_p = float(temperature), int(top_k), float(top_p)

  def draw(unused_model, logits, step_seed, mask):
    # The step tempered the logits (`NextTokenModel.tempered_step`).
    return categorical(filter_logits(logits, 1.0, top_k, top_p, banned_ids,
                                     mask), step_seed)

  return _sample_tokens(model, ('events', temperature, top_k, top_p, banned_ids),
                        draw, primer, num_steps, controls, seed, grammar,
                        jit_compile, temperature)


def sample_heads(model, primer, num_steps, *, temperatures, seed=None,
                 grammar=None, jit_compile=True):
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
    grammar: a codec's `Grammar` over the heads side by side, or None.
    jit_compile: compile the loop with XLA.

  Returns:
    int32 array [batch, primer_length + num_steps].
  """
  temperatures = tuple(float(t) for t in temperatures)
  if len(temperatures) != len(model.head_names) or min(temperatures) <= 0:
    raise ValueError(f'temperatures needs {len(model.head_names)} values > 0 '
                     f'({", ".join(model.head_names)}), got {temperatures}')

  def draw(model, logits, step_seed, mask):
    tempered = tf.concat([part / temperature for part, temperature in
                          zip(model.split_logits(logits), temperatures)], axis=-1)
    if mask is not None:
      tempered = masked(tempered, *mask)
    parts = [categorical(part, tf.random.experimental.stateless_fold_in(step_seed, i))
             for i, part in enumerate(model.split_logits(tempered))]
    return model.pack(*parts)

  return _sample_tokens(model, ('heads', temperatures), draw, primer,
                        num_steps, None, seed, grammar, jit_compile)


def _check_inputs(primer, num_steps, controls):
  """The primer and controls as tensors, checked against each other."""
  primer = tf.convert_to_tensor(primer, tf.int32)
  controls = {k: tf.convert_to_tensor(v) for k, v in (controls or {}).items()}
  if int(primer.shape[1]) < 1:
    raise ValueError('the primer needs at least one event')
  if num_steps < 1:
    raise ValueError(f'num_steps must be at least 1, got {num_steps}')
  total = int(primer.shape[1]) + num_steps
  for name, value in controls.items():
    if int(value.shape[1]) != total:
      raise ValueError(f'control {name} covers {value.shape[1]} positions, '
                       f'needs {total}')
  return primer, controls


def _loop(model, key, jit_compile, make, reduce_retracing=False):
  """The compiled loop of `model` for `key`, made by `make(model)` once
  (`compiled`).

  The loops are kept per model for as long as the model lives: `make` gets
  a weak proxy of it, so that a cached loop does not keep its model (and
  the model's variables) alive after the caller lets go of it.
  """
  loops = _LOOPS.setdefault(model, {})
  key = (bool(jit_compile),) + key
  if key not in loops:
    loops[key] = compiled(make(weakref.proxy(model)), jit_compile,
                          reduce_retracing)
  return loops[key]


def _sample_tokens(model, key, draw, primer, num_steps, controls, seed,
                   grammar, jit_compile, temperature=None):
  """The loop of `sample` and `sample_heads`: `draw(model, logits [batch,
  ...], seed pair) -> token ids [batch]` picks each next token; `key` names
  the draw, for the cache of compiled loops; `temperature` (or None) the
  model's `tempered_step`."""
  primer, controls = _check_inputs(primer, num_steps, controls)
  loop = _loop(model, key + (grammar,), jit_compile,
               lambda proxy: token_loop(proxy, draw, grammar, temperature))
  return loop(primer, controls, tf.constant(num_steps),
              _seed_pair(seed, 0)).numpy()


_LOOPS = weakref.WeakKeyDictionary()   # model -> {key: compiled loop}


def _inputs_at(controls, t, token):
  """The step input after position t's `token`: it carries the control of
  position t + 1."""
  inputs = {'tokens': token}
  inputs.update(_control_at(controls, t + 1) if controls else {})
  return inputs


def _output_buffer(primer, num_steps):
  """[total, batch, ...]: the primer, then room for `num_steps` steps; a
  step writes its row in place (under XLA) with `_write_row`."""
  primer = tf.experimental.numpy.moveaxis(primer, 1, 0)
  room = tf.concat([[num_steps], tf.shape(primer)[1:]], axis=0)
  return tf.concat([primer, tf.zeros(room, primer.dtype)], axis=0)


def _write_row(buffer, t, row):
  return tf.tensor_scatter_nd_update(buffer, [[t]], row[None])


def _primer_or(t, primer_length, output, drawn):
  """The next row after step `t`: the primer's while the step primes (the
  loops prime the states with the same step they sample with, so that the
  model is traced and compiled once per loop), else `drawn`."""
  return tf.where(t + 1 < primer_length, output[t + 1], drawn)


def token_loop(model, draw, grammar=None, temperature=None):
  """The sampling loop of `sample`, to trace in a tf.function:
  `loop(primer [batch, n] int32, controls {name: [batch, n + num_steps,
  ...]}, num_steps, seed_pair)` -> int32 [batch, n + num_steps];
  `draw(model, logits, seed pair, mask)` picks each next token, where
  `mask` is what `grammar` (or None) allows (see `filter_logits`); with a
  `temperature` the logits are the model's `tempered_step`'s."""
  def step(inputs, states):
    if temperature is None:
      return model.step(inputs, states)
    return model.tempered_step(inputs, states, temperature)


  def loop(primer, controls, num_steps, seed_pair):
    primer_length = tf.shape(primer)[1]
    total = primer_length + num_steps
    states = model.initial_state(tf.shape(primer)[0], total)
    output = _output_buffer(primer, num_steps)

    def body(t, states, grammar_carry, output):
      logits, states = step(_inputs_at(controls, t, output[t]), states)
      step_seed = tf.random.experimental.stateless_fold_in(seed_pair, t)
      token = _primer_or(t, primer_length, output,
                         tf.cast(draw(model, logits, step_seed,
                                      _grammar_mask(grammar, grammar_carry)),
                                 tf.int32))
      return (t + 1, states, _grammar_next(grammar, grammar_carry, token),
              _write_row(output, t + 1, token))

    output = tf.while_loop(
        lambda t, *_: t < total - 1, body,
        (tf.constant(0), states, _grammar_start(grammar, output[0]), output))[-1]
    return tf.transpose(output)

  return loop


BINARIZE = ('threshold', 'bernoulli')


def sample_frames(model, primer, num_steps, *, temperature=1.0,
                  binarize='bernoulli', threshold=0.5, seed=None,
                  jit_compile=True, onset_bits=True):
  """Continues frame rolls (`musicrnn.encodings.frames`) by `num_steps`
  frames, for a batch at once, in one compiled loop.

  Each bit of the next frame is drawn from its sigmoid at `temperature`
  (`binarize='bernoulli'`) or set where its probability exceeds `threshold`
  (`'threshold'`). With `onset_bits` a key is held only where it sounded in
  the frame before and has no onset, so every note starts with an onset.

  Args:
    model: a frame model: `initial_state(batch, max_length)` and
      `step({'pianoroll': [batch, cells]}, states)` -> (logits [batch,
      cells], states).
    onset_bits: a frame's first half are onset bits, the second half held
      bits (`FrameRollCodec.onset_bits`); else each bit is a key that
      sounds or not, taken as drawn.
    primer: 0/1 array [batch, primer_length >= 1, cells].
    num_steps: frames to draw after the primer.
    jit_compile: compile the loop with XLA.

  Returns:
    uint8 array [batch, primer_length + num_steps, cells].
  """
  if binarize not in BINARIZE:
    raise ValueError(f'binarize must be one of {BINARIZE}, got {binarize!r}')
  primer = tf.convert_to_tensor(primer, tf.float32)
  if int(primer.shape[1]) < 1:
    raise ValueError('the primer needs at least one frame')
  loop = _loop(model, ('frames', float(temperature), binarize, float(threshold),
                      bool(onset_bits)),
               jit_compile, lambda proxy: _frame_loop(proxy, float(temperature),
                                                      binarize, float(threshold),
                                                      bool(onset_bits)))
  frames = loop(primer, tf.constant(num_steps), _seed_pair(seed, 0))
  return frames.numpy().astype(np.uint8)


def _frame_loop(model, temperature, binarize, threshold, onset_bits):

  def loop(primer, num_steps, seed_pair):
    primer_length = tf.shape(primer)[1]
    keys = primer.shape[2] // 2
    total = primer_length + num_steps
    states = model.initial_state(tf.shape(primer)[0], total)
    output = _output_buffer(primer, num_steps)

    def body(t, states, output):
      frame = output[t]
      logits, states = model.step({'pianoroll': frame}, states)
      probabilities = tf.sigmoid(tf.cast(logits, tf.float32) / temperature)
      if binarize == 'bernoulli':
        draw = tf.random.stateless_uniform(
            tf.shape(probabilities),
            seed=tf.random.experimental.stateless_fold_in(seed_pair, t))
        bits = draw < probabilities
      else:
        bits = probabilities > threshold
      if onset_bits:
        onset = bits[:, :keys]
        sounded = (frame[:, :keys] + frame[:, keys:]) > 0
        bits = tf.concat([onset, bits[:, keys:] & sounded & ~onset], axis=1)
      frame = tf.cast(bits, tf.float32)
      return t + 1, states, _write_row(output, t + 1,
                                       _primer_or(t, primer_length, output, frame))

    _, _, output = tf.while_loop(lambda t, *_: t < total - 1, body,
                                 (tf.constant(0), states, output))
    return tf.transpose(output, [1, 0, 2])

  return loop


def sample_naively(model, primer, num_steps, *, controls=None, temperature=1.0,
                   top_k=0, top_p=1.0, seed=None, banned_ids=(), grammar=None):
  """The baseline: a Python loop calling the model's full forward pass on the
  whole prefix once per event (what a first script does). Same sampling
  rule as `sample`, the grammar's masks included (its state in NumPy);
  used by tests and benchmarks."""
  tokens = np.asarray(primer, np.int32)
  rng = np.random.default_rng(seed)
  for _ in range(num_steps):
    n = tokens.shape[1]
    inputs = {'tokens': tokens}
    for name, value in (controls or {}).items():
      inputs[name] = np.asarray(value)[:, 1:n + 1]
    logits = tf.convert_to_tensor(model.tempered_logits(inputs, temperature)[:, -1])
    mask = None if grammar is None else (
        grammar.allowed(grammar.states(tokens)[-1], np), grammar.type_groups)
    logits = filter_logits(logits, 1.0, top_k, top_p, banned_ids,
                           mask).numpy()
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    choice = np.array([rng.choice(len(p), p=p) for p in probs], np.int32)
    tokens = np.concatenate([tokens, choice[:, None]], axis=1)
  return tokens


def beam_search(model, primer, num_steps, *, beam_size, branch_factor,
                steps_per_iteration=1, controls=None, temperature=1.0, top_k=0,
                top_p=1.0, seed=None, banned_ids=(), grammar=None,
                jit_compile=True):
  """Magenta's stochastic beam search, for a batch of outputs, in one
  compiled loop.

  Each output keeps `beam_size` sequences, all the primer at first. Every
  iteration, each sequence branches into `branch_factor` copies, every copy
  is extended by `steps_per_iteration` sampled events (the first iteration
  by the remainder, so that the rest divide evenly), and the `beam_size`
  copies with the highest total log-probability of their generated events
  survive; the best one is returned. The pruning happens on the device: the
  states of the survivors are gathered inside the loop, with no round trip
  to the host.

  Args: as `sample` (the grammar's masks apply to every candidate, and its
    state follows the survivors), plus
    beam_size: sequences kept per output.
    branch_factor: copies each sequence branches into per iteration.
    steps_per_iteration: events generated between prunings.

  Returns:
    int32 array [batch, primer_length + num_steps]: each output's best beam.
  """
  for name, value in (('beam_size', beam_size), ('branch_factor', branch_factor),
                      ('steps_per_iteration', steps_per_iteration)):
    if int(value) < 1:
      raise ValueError(f'{name} must be at least 1, got {value}')
  primer, controls = _check_inputs(primer, num_steps, controls)
  banned_ids = tuple(int(i) for i in banned_ids)
  temperature, top_k, top_p = float(temperature), int(top_k), float(top_p)
  shape = (int(beam_size), int(branch_factor), int(steps_per_iteration))

  def scores(logits, mask):
    # The step tempered the logits (`NextTokenModel.tempered_step`).
    return tf.nn.log_softmax(tf.cast(
        filter_logits(logits, 1.0, top_k, top_p, banned_ids, mask),
        tf.float32))

  loop = _loop(model, ('beam',) + shape + (temperature, top_k, top_p, banned_ids,
                                           grammar),
               jit_compile, lambda proxy: beam_loop(proxy, scores, *shape,
                                                    grammar=grammar,
                                                    temperature=temperature))
  return loop(primer, controls, tf.constant(num_steps),
              _seed_pair(seed, 1)).numpy()


def first_iteration_steps(num_steps, steps_per_iteration):
  """Events of beam search's first iteration: the rest take
  `steps_per_iteration` each (Magenta's rule)."""
  return (num_steps - 1) % steps_per_iteration + 1


def _survivors(totals, beam_size):
  """[batch, candidates] total log-probabilities -> [batch, beam_size] the
  candidates kept: the best `beam_size` (ties to the lower candidate), in
  candidate order."""
  return tf.sort(tf.math.top_k(totals, k=beam_size).indices, axis=1)


def beam_loop(model, scores, beam_size, branch_factor, steps_per_iteration,
              grammar=None, temperature=1.0):
  """The loop of `beam_search`, to trace in a tf.function: `loop(primer,
  controls, num_steps, seed_pair)` -> int32 [batch, n + num_steps];
  `scores(logits, mask)` gives the log-probabilities each event is drawn
  from, with `grammar`'s mask (None without one), of the logits of the
  model's `tempered_step` at `temperature`.

  The model runs on a fixed set of slots per output: with one step per
  iteration (or no branching) one per sequence, since an iteration's first
  event of every copy of a sequence is drawn from one step of that
  sequence, so the copies are never materialized; otherwise one per copy.
  The survivors of an iteration are copied into the slots with
  `model.reorder_states`, which keeps the states' shapes (the transformer
  moves its chunk table and current chunk only, sharing the rest), and
  their `grammar` states (or None) with a gather.
  """
  entries = beam_size * branch_factor
  per_sequence = steps_per_iteration == 1 or branch_factor == 1
  width = beam_size if per_sequence else entries

  def loop(primer, controls, num_steps, seed_pair):
    batch = tf.shape(primer)[0]
    primer_length = tf.shape(primer)[1]
    total = primer_length + num_steps
    first = first_iteration_steps(num_steps, steps_per_iteration)

    def repeat(x, times):
      return tf.repeat(x, times, axis=0)

    def offsets(columns):
      return (tf.range(batch) * columns)[:, None]

    def keep(totals, columns):
      """Flat indices [batch * beam_size] of the survivors among `columns`
      candidates per output."""
      best = _survivors(tf.reshape(totals, [batch, columns]), beam_size)
      return tf.reshape(best + offsets(columns), [-1])

    slot_controls = {k: repeat(v, width) for k, v in controls.items()}
    slot_primer = repeat(primer, width)
    states = model.initial_state(tf.shape(slot_primer)[0], total)
    output = _output_buffer(slot_primer, num_steps)   # [total, batch * width]

    def draw(t, logits, totals):
      """The next token of every candidate (`branch_factor` per slot with
      one step per iteration, else one) and its total; `logits` are a
      step's (logits, mask)."""
      log_probs = scores(*logits)
      if per_sequence:
        log_probs = repeat(log_probs, branch_factor)
        totals = repeat(totals, branch_factor)
      token = categorical(log_probs,
                          tf.random.experimental.stateless_fold_in(seed_pair, t))
      return token, totals + tf.gather(log_probs, token[:, None], batch_dims=1)[:, 0]

    def reordered(slots, states, output, totals, like):
      """The states (the model's, then the grammar's) and outputs of
      `slots`, and `totals`, with the static shapes of the loop variables
      `like` (a loop variable's shape must not change)."""
      model_states, grammar_carry = states
      tensors = (model.reorder_states(model_states, slots)
                 + [tf.gather(g, slots) for g in grammar_carry]
                 + [tf.gather(output, slots, axis=1), totals])
      for tensor, loop_variable in zip(tensors, like):
        tensor.set_shape(loop_variable.shape)
      split = len(model_states)
      return ((tensors[:split], tuple(tensors[split:-2])), tensors[-2],
              tensors[-1])

    def step(t, states, output):
      """(The logits of every slot after position t, its grammar's mask),
      and the states after it (the grammar's follows the next token:
      `written`)."""
      model_states, grammar_carry = states
      logits, model_states = model.tempered_step(
          _inputs_at(slot_controls, t, output[t]), model_states, temperature)
      return ((logits, _grammar_mask(grammar, grammar_carry)),
              (model_states, grammar_carry))

    def written(t, states, output):
      """The states once row t + 1 of `output` is written: the grammar's
      carry follows its token."""
      model_states, grammar_carry = states
      return model_states, _grammar_next(grammar, grammar_carry, output[t + 1])

    def run(start, end, states, output, totals):
      """Events start + 1 .. end for every slot, each drawn from its own
      step: -> (states, output, totals)."""

      def body(t, states, output, totals):
        logits, states = step(t, states, output)
        token, drawn_totals = draw(t, logits, totals)
        priming = t + 1 < primer_length
        output = _write_row(output, t + 1,
                            _primer_or(t, primer_length, output, token))
        return (t + 1, written(t, states, output), output,
                tf.where(priming, totals, drawn_totals))

      return tf.while_loop(lambda t, *_: t < end, body,
                           (start, states, output, totals))[1:]

    def iteration(t, states, output, totals):
      like = list(states[0]) + list(states[1]) + [output, totals]
      if per_sequence and branch_factor > 1:
        logits, states = step(t, states, output)

        def prune():
          token, drawn_totals = draw(t, logits, totals)
          flat = keep(drawn_totals, entries)
          # A survivor's parent is its sequence's slot.
          survivors, rows, kept = reordered(flat // branch_factor, states, output,
                                            tf.gather(drawn_totals, flat), like)
          return survivors, _write_row(rows, t + 1, tf.gather(token, flat)), kept

        # Over the primer the step only primes the states (the next row
        # already holds the primer's event).
        states, output, totals = tf.cond(t + 1 < primer_length,
                                         lambda: (states, output, totals), prune)
        return t + 1, written(t, states, output), output, totals
      # The primer in one run (the states only), then the first iteration's
      # steps, then steps_per_iteration at a time.
      length = tf.where(t < primer_length - 1, primer_length - 1 - t,
                        tf.where(t == primer_length - 1, first, steps_per_iteration))
      states, output, totals = run(t, t + length, states, output, totals)
      if branch_factor > 1:
        # Each survivor goes on in `branch_factor` slots.
        slots = repeat(keep(totals, entries), branch_factor)
        states, output, totals = reordered(slots, states, output,
                                           tf.gather(totals, slots), like)
      return t + length, states, output, totals

    states = (states, _grammar_start(grammar, output[0]))
    _, _, output, totals = tf.while_loop(
        lambda t, *_: t < total - 1, iteration,
        (tf.constant(0), states, output, tf.zeros([batch * width])))
    best = tf.argmax(tf.reshape(totals, [batch, width]), axis=1,
                     output_type=tf.int32)
    return tf.gather(tf.transpose(output), best + offsets(width)[:, 0])

  return loop


def sample_joint_frames(model, primer, num_steps, *, temperature=1.0,
                        binarize='bernoulli', threshold=0.5, seed=None,
                        jit_compile=True):
  """Continues frames by `num_steps` frames of a joint frame model (the
  RNN-NADE: `protocols.JointFrameModel`), for a batch at once, in one
  compiled loop.

  Each frame is drawn whole from the model's distribution given the frames
  before it: `model.sample_frame` draws its bits in the model's order, each
  given the bits drawn before it, its logit divided by `temperature`
  (`binarize='bernoulli'`), or sets each bit where its probability given
  the bits set before it exceeds `threshold` (`'threshold'`; 0.5 is the
  greedy frame, what Magenta's RNN-NADE generates).

  Args:
    model: `initial_state(batch, max_length)`, `step({'pianoroll': [batch,
      bits]}, states)` -> (parameters, states) and `sample_frame(parameters,
      uniforms, temperature)`.
    primer: 0/1 array [batch, primer_length >= 1, bits].
    num_steps: frames to draw after the primer.
    seed: makes the draw reproducible.
    jit_compile: compile the loop with XLA.

  Returns:
    uint8 array [batch, primer_length + num_steps, bits].
  """
  if binarize not in BINARIZE:
    raise ValueError(f'binarize must be one of {BINARIZE}, got {binarize!r}')
  primer = tf.convert_to_tensor(primer, tf.float32)
  if int(primer.shape[1]) < 1:
    raise ValueError('the primer needs at least one frame')
  if num_steps < 1:
    raise ValueError(f'num_steps must be at least 1, got {num_steps}')
  key = ('joint_frames', float(temperature), binarize, float(threshold))
  loop = _loop(model, key, jit_compile, lambda proxy: _joint_frame_loop(
      proxy, float(temperature), binarize, float(threshold)))
  frames = loop(primer, tf.constant(num_steps), _seed_pair(seed, 0))
  return frames.numpy().astype(np.uint8)


def _joint_frame_loop(model, temperature, binarize, threshold):

  def loop(primer, num_steps, seed_pair):
    primer_length = tf.shape(primer)[1]
    total = primer_length + num_steps
    states = model.initial_state(tf.shape(primer)[0], total)
    output = _output_buffer(primer, num_steps)

    def body(t, states, output):
      frame = output[t]
      params, states = model.step({'pianoroll': frame}, states)

      def draw():
        if binarize == 'bernoulli':
          uniforms = tf.random.stateless_uniform(
              tf.shape(frame),
              seed=tf.random.experimental.stateless_fold_in(seed_pair, t))
        else:
          uniforms = tf.fill(tf.shape(frame), threshold)
        return tf.cast(model.sample_frame(params, uniforms, temperature),
                       frame.dtype)

      # Over the primer the step only primes the states: its frames are
      # not drawn (a frame's draw is a loop over its bits).
      row = tf.cond(t + 1 < primer_length, lambda: output[t + 1], draw)
      return t + 1, states, _write_row(output, t + 1, row)

    _, _, output = tf.while_loop(lambda t, *_: t < total - 1, body,
                                 (tf.constant(0), states, output))
    return tf.transpose(output, [1, 0, 2])

  return loop


def _latent_draw(model, logits, temperature, greedy, step_seed):
  """int32 [batch]: the token of one step drawn from a latent-variable
  model's logits, each of its parts (`model.split_logits`) at
  `temperature` (or its likeliest id, `greedy`), part 0 from `step_seed`
  and part p from its fold-in p + 1 (1 is the scheduled-sampling coin's),
  packed (`model.pack_tokens`)."""
  drawn = []
  for part, part_logits in enumerate(model.split_logits(logits)):
    if greedy:
      drawn.append(tf.argmax(part_logits, axis=-1, output_type=tf.int32))
      continue
    seed = (step_seed if part == 0 else
            tf.random.experimental.stateless_fold_in(step_seed, part + 1))
    drawn.append(categorical(part_logits / tf.cast(temperature, tf.float32),
                             seed))
  return tf.cast(model.pack_tokens(drawn), tf.int32)


def latent_loop(model, z, num_steps, seed_pair, *, temperature=1.0,
                greedy=False, targets=None, sampling_probability=1.0,
                training=False):
  """A latent-variable model's decoder (`protocols.LatentVariableModel`)
  run one step at a time from z, to trace in a tf.function (XLA compiles
  it; gradients flow through its steps, not its draws).

  Step t reads the token before it: at t = 0 none; after that the token
  drawn at t - 1, or, given `targets`, target t - 1 except where a coin of
  probability `sampling_probability` picks the drawn one (Magenta's
  scheduled sampling; 0 is teacher forcing, 1 feeds back every draw). A
  token of several parts (a trio) draws each part from its own logits; one
  coin picks the whole token.

  Args:
    model: `decoder_initial_state(z)` and `decoder_step(tokens, states, t)`.
    z: float32 [batch, z_size].
    num_steps: steps to decode (an int or a scalar tensor).
    seed_pair: int64 [2]; each step's draws fold in its index.
    temperature: divides the logits before each draw (a number or scalar
      tensor).
    greedy: draw the likeliest token instead (no randomness but the coins).
    targets: int32 [batch, >= num_steps] the decoder is fed, or None.
    sampling_probability: with `targets`, the chance a step reads the
      decoder's own draw.
    training: the model's layers in training mode (dropout).

  Returns:
    (drawn tokens int32 [batch, num_steps], float32 logits [batch,
    num_steps, sum(part_sizes)] of every step, before the temperature).
  """
  batch = tf.shape(z)[0]
  if targets is not None:
    targets = tf.cast(targets, tf.int32)
  states = model.decoder_initial_state(z, training=training)
  drawn_tokens = tf.TensorArray(tf.int32, size=num_steps)
  step_logits = tf.TensorArray(tf.float32, size=num_steps)

  def body(t, previous, states, drawn_tokens, step_logits):
    logits, states = model.decoder_step(previous, states, t, training=training)
    logits = tf.cast(logits, tf.float32)
    step_seed = tf.random.experimental.stateless_fold_in(seed_pair, t)
    drawn = _latent_draw(model, logits, temperature, greedy, step_seed)
    following = drawn
    if targets is not None:
      coin = tf.random.stateless_uniform(
          [batch], tf.random.experimental.stateless_fold_in(step_seed, 1))
      following = tf.where(coin < sampling_probability, drawn, targets[:, t])
    # A batch of static size keeps it (a draw's shape is dynamic).
    following.set_shape(previous.shape)
    return (t + 1, following, states, drawn_tokens.write(t, drawn),
            step_logits.write(t, logits))

  _, _, _, drawn_tokens, step_logits = tf.while_loop(
      lambda t, *_: t < num_steps, body,
      (tf.constant(0), tf.fill([batch], -1), states, drawn_tokens,
       step_logits))
  return (tf.transpose(drawn_tokens.stack()),
          tf.transpose(step_logits.stack(), [1, 0, 2]))


def sample_latent(model, z, num_steps, *, temperature=1.0, greedy=False,
                  seed=None, jit_compile=True):
  """Sequences a latent-variable model decodes from z [batch, z_size], one
  token drawn a step at `temperature` (or the likeliest, `greedy`), in one
  compiled loop (`latent_loop`).

  Returns:
    int32 array [batch, num_steps].
  """
  if num_steps < 1:
    raise ValueError(f'num_steps must be at least 1, got {num_steps}')
  loop = _loop(model, ('latent', int(num_steps), bool(greedy)), jit_compile,
               lambda proxy: lambda z, seed_pair, temperature: latent_loop(
                   proxy, z, int(num_steps), seed_pair,
                   temperature=temperature, greedy=greedy)[0])
  return loop(tf.convert_to_tensor(z, tf.float32), _seed_pair(seed, 0),
              tf.constant(float(temperature), tf.float32)).numpy()


def posterior(model, tokens, mask=None, *, batch_size=64):
  """(mu, sigma) float32 numpy [n, z_size] of a latent-variable model's
  posterior q(z | tokens) for n token sequences, in batches of at most
  `batch_size`, through one tf.function per model (traced for any batch).

  Args:
    model: `encode({'tokens', 'mask'})` (`protocols.LatentVariableModel`).
    tokens: int [n, time] ids (0 on padding).
    mask: [n, time], 1.0 on real steps (None: every step).
  """
  tokens = np.asarray(tokens, np.int32)
  mask = (np.ones(tokens.shape, np.float32) if mask is None
          else np.asarray(mask, np.float32))
  if tokens.ndim != 2 or tokens.shape != mask.shape:
    raise ValueError(f'tokens [n, time] and a mask of their shape, got '
                     f'{tokens.shape} and {mask.shape}')
  encode = _loop(model, ('posterior',), False,
                 lambda proxy: lambda t, m: proxy.encode({'tokens': t,
                                                          'mask': m}),
                 reduce_retracing=True)
  mus, sigmas = [np.zeros((0, model.z_size), np.float32)], [
      np.zeros((0, model.z_size), np.float32)]
  for start in range(0, len(tokens), batch_size):
    mu, sigma = encode(tf.constant(tokens[start:start + batch_size]),
                       tf.constant(mask[start:start + batch_size]))
    mus.append(np.asarray(mu, np.float32))
    sigmas.append(np.asarray(sigma, np.float32))
  return np.concatenate(mus), np.concatenate(sigmas)
