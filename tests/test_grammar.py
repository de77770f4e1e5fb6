"""The codecs' grammars (the state masks of generation): each rule on
hand-written states, NumPy and compiled TensorFlow agreeing, real music
never masked, and every sampler path applying them."""

import glob

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

import testing_lib
from musicrnn.encodings import note_tuple
from musicrnn.encodings import performance
from musicrnn.encodings import polyphony
from musicrnn.generation import sampler
from musicrnn.models import protocols
from musicrnn.models.event_lstm import EventLSTM
from musicrnn.models.note_lstm import NoteLSTM

tnp = tf.experimental.numpy

# Four pitches (60-63), shifts of 1-10 steps, four velocity bins: ids
# NOTE_ON 0-3, NOTE_OFF 4-7, TIME_SHIFT 8-17, VELOCITY 18-21.
SMALL = performance.PerformanceCodec(performance.PerformanceSettings(
    num_velocity_bins=4, max_shift_steps=10, min_pitch=60, max_pitch=63))
ON, OFF = SMALL.note_on_id, SMALL.note_off_id
SHIFT, VELOCITY = SMALL.time_shift_id, SMALL.velocity_id


def _allowed_after(grammar, ids):
  """The allowed ids (a set) after `ids`."""
  state = grammar.states(np.asarray([ids]))[-1]
  return set(np.flatnonzero(grammar.allowed(state, np)[0]).tolist())


def _ids(kind, values):
  return {int(kind(v)) for v in values}


def test_performance_grammar_rules():
  g = SMALL.grammar()
  every_shift = _ids(SHIFT, range(1, 11))
  every_velocity = _ids(VELOCITY, range(1, 5))
  # Nothing sounds: any onset, no NOTE_OFF, shifts, any velocity.
  assert _allowed_after(g, []) == (_ids(ON, range(60, 64)) | every_shift
                                   | every_velocity)
  # After a short shift no shift; after the longest one, shifts again.
  assert not _allowed_after(g, [SHIFT(3)]) & every_shift
  assert every_shift <= _allowed_after(g, [SHIFT(10)])
  # After a VELOCITY only an onset follows.
  assert _allowed_after(g, [SHIFT(3), VELOCITY(2)]) == _ids(ON, range(60, 64))
  # A note begun at this step is neither ended nor struck again here; the
  # velocity in force is not set again.
  after = _allowed_after(g, [VELOCITY(2), ON(60)])
  assert ON(60) not in after and OFF(60) not in after
  assert VELOCITY(2) not in after and VELOCITY(3) in after
  # One step later it can end or sound again (a re-strike); silent
  # pitches cannot end.
  after = _allowed_after(g, [VELOCITY(2), ON(60), SHIFT(10)])
  assert {ON(60), OFF(60)} <= after
  assert not after & _ids(OFF, range(61, 64))
  # Ended, it cannot end again.
  assert OFF(60) not in _allowed_after(g, [ON(60), SHIFT(10), OFF(60)])


def test_performance_grammar_polyphony_and_cap():
  g = SMALL.grammar(max_polyphony=2, max_note_duration=0.2)   # 20 steps
  two = [ON(60), ON(61), SHIFT(10)]
  after = _allowed_after(g, two)
  # Two sound: no new pitch starts, the sounding ones may strike again.
  assert after & _ids(ON, range(60, 64)) == {ON(60), ON(61)}
  assert {OFF(60), OFF(61)} <= after
  # A VELOCITY is still allowed (an onset of a sounding pitch can follow).
  assert VELOCITY(1) in after
  # After 20 steps the cap has ended both notes: nothing to turn off.
  after = _allowed_after(g, two + [SHIFT(10)])
  assert not after & _ids(OFF, range(60, 64))
  assert _ids(ON, range(60, 64)) <= after
  state = g.states(np.asarray([two + [SHIFT(9)]]))[-1]
  np.testing.assert_array_equal(state[0], [[0, 0, -1, -1]])
  # Two notes begun at this step fill the room: no onset can follow a
  # VELOCITY, so no VELOCITY is allowed.
  assert not _allowed_after(g, [ON(60), ON(61)]) & _ids(VELOCITY, range(1, 5))


def test_a_state_with_nothing_allowed_allows_everything():
  g = SMALL.grammar(max_polyphony=1)
  # A primer written against the grammar: a VELOCITY with the one note
  # begun at this step, so no onset may follow.
  assert _allowed_after(g, [ON(60), VELOCITY(2)]) == set(range(SMALL.vocab_size))


def test_polyphony_grammar_rules():
  codec = polyphony.PolyphonyCodec(polyphony.PolyphonySettings(min_pitch=60,
                                                               max_pitch=63))
  new, continued = codec.new_note_id, codec.continued_note_id
  step_end = polyphony.STEP_END
  g = codec.grammar()
  # First step: no START again, any NEW_NOTE, no CONTINUED_NOTE.
  assert _allowed_after(g, [polyphony.START]) == (
      {polyphony.END, step_end} | _ids(new, range(60, 64)))
  # Within a step, only lower pitches (the encoder's order, each once).
  after = _allowed_after(g, [polyphony.START, new(62)])
  assert after & _ids(new, range(60, 64)) == _ids(new, [60, 61])
  # Next step: the pitch that sounded may continue, no other.
  after = _allowed_after(g, [polyphony.START, new(62), step_end])
  assert after & _ids(continued, range(60, 64)) == {continued(62)}
  # Two steps later it has stopped.
  after = _allowed_after(g, [polyphony.START, new(62), step_end, step_end])
  assert not after & _ids(continued, range(60, 64))
  # At most two notes a step.
  g2 = codec.grammar(max_polyphony=2)
  after = _allowed_after(g2, [polyphony.START, new(63), new(61)])
  assert after == {polyphony.END, step_end}


def test_note_tuple_grammar_rules():
  codec = note_tuple.NoteTupleCodec(note_tuple.NoteTupleSettings(
      chord_vocabulary=((60,), (60, 64), (60, 64, 67))))
  chords, offsets, durations = codec.head_sizes
  allowed = codec.grammar().allowed(codec.grammar().initial_state(1, np), np)[0]
  assert allowed.shape == (chords + offsets + durations,)
  assert not allowed[note_tuple.OTHER] and allowed[1:].all()
  g2 = codec.grammar(max_polyphony=2)
  allowed = g2.allowed(g2.initial_state(1, np), np)[0]
  np.testing.assert_array_equal(allowed[:chords], [False, True, True, False])
  assert g2.allows(g2.initial_state(2, np), codec.pack([2, 3], [0, 0], [1, 1])
                   ).tolist() == [True, False]


def _midi_fixtures():
  return sorted(glob.glob(testing_lib.testdata('midi', '*.mid')))


@pytest.mark.parametrize('name', ['performance', 'polyphony', 'note_tuple'])
def test_real_music_is_never_masked(name):
  """Every id the encoders write from real music is allowed where it
  stands: the masks rule out only what the encodings never say."""
  sequences = [note_seq.apply_sustain_control_changes(
      note_seq.midi_file_to_note_sequence(path))
               for path in _midi_fixtures()]
  if name == 'performance':
    codec = performance.PerformanceCodec(performance.PerformanceSettings(
        num_velocity_bins=32, min_pitch=21, max_pitch=108))
  elif name == 'polyphony':
    codec = polyphony.PolyphonyCodec()
  else:
    codec = note_tuple.NoteTupleCodec(note_tuple.NoteTupleSettings(max_chords=4096))
    counts = {}
    for sequence in sequences:
      for item in codec.vocabulary_items(sequence):
        counts[item] = counts.get(item, 0) + 1
    codec = codec.with_counts(counts)
  checked = 0
  for sequence in sequences:
    if name != 'performance':
      del sequence.tempos[1:]   # the metric grid takes one tempo
    ids = codec.encode(sequence)[:3000]
    grammar = codec.grammar()
    if name == 'note_tuple':
      # Chords beyond the vocabulary's cap are "other" in the data.
      chord = codec.split(ids)[0]
      ids = ids[chord != note_tuple.OTHER]
    if name == 'performance':
      # The only exception: two notes of one pitch that overlap (rare even
      # in pedalled piano music), whose second NOTE_OFF the grammar's
      # reading makes a no-op. Read as the grammar reads them, none is left.
      masked = testing_lib.disallowed_draws(grammar, ids[None], 0)
      kinds = codec.events([token for _, _, token in masked])[0]
      assert set(kinds.tolist()) <= {performance.NOTE_OFF}
      assert len(masked) <= 0.01 * len(ids)
      ids = codec.encode(codec.decode_generated(ids))
    assert testing_lib.disallowed_draws(grammar, ids[None], 0) == []
    checked += len(ids)
  # Events, steps' tokens, or onsets of the three preludes.
  assert checked > (250 if name == 'note_tuple' else 2000)


def test_numpy_and_compiled_tensorflow_agree():
  rng = np.random.default_rng(0)
  ids = rng.integers(0, SMALL.vocab_size, (3, 60)).astype(np.int32)
  g = SMALL.grammar(max_polyphony=2, max_note_duration=0.3)

  # A graph loop, as the samplers run the grammar (an unrolled Python loop
  # of 60 steps took XLA most of a minute to compile).
  @tf.function(jit_compile=True)
  def run(ids):
    state = tuple(g.initial_state(tf.shape(ids)[0], tnp))
    masks = tf.TensorArray(tf.bool, size=ids.shape[1])
    for t in tf.range(ids.shape[1]):
      state = tuple(g.update(state, ids[:, t], tnp))
      masks = masks.write(t, g.allowed(state, tnp))
    return state, tf.transpose(masks.stack(), [1, 0, 2])

  state, masks = run(tf.constant(ids))
  states = g.states(ids)
  for mine, theirs in zip(state, states[-1]):
    np.testing.assert_array_equal(mine.numpy(), theirs)
  for t in range(ids.shape[1]):
    np.testing.assert_array_equal(masks[:, t].numpy(),
                                  g.allowed(states[t + 1], np))


def test_a_restruck_note_ends_where_it_is_struck_again():
  ids = [ON(60), SHIFT(10), ON(60), SHIFT(5), OFF(60), OFF(60)]
  np.testing.assert_array_equal(
      SMALL.restrikes_ended(ids),
      [ON(60), SHIFT(10), OFF(60), ON(60), SHIFT(5), OFF(60), OFF(60)])
  notes = SMALL.decode_generated(ids)
  assert [(n.start_time, n.end_time) for n in notes.notes] == [(0.0, 0.1),
                                                                (0.1, 0.15)]
  # note-seq's reading: the two notes overlap.
  overlapping = SMALL.decode_generated(ids, restrike_ends_note=False)
  assert sorted((n.start_time, n.end_time) for n in overlapping.notes) == [
      (0.0, 0.15), (0.1, 0.15)]


@pytest.fixture(scope='module')
def model():
  keras.utils.set_random_seed(5)
  return EventLSTM(SMALL.vocab_size, rnn_layer_sizes=(16,),
                   control_sizes={'note_density': 4})


def _controls(batch, total):
  return {'note_density': np.full((batch, total), 2, np.int32)}


PATHS = {
    'compiled': dict(),
    'uncompiled': dict(jit_compile=False),
    'top_k_top_p': dict(top_k=8, top_p=0.9, temperature=1.5),
    'beam_per_sequence': dict(beam_size=3, branch_factor=2),
    'beam_steps': dict(beam_size=2, branch_factor=3, steps_per_iteration=4),
}


def _draw(model, path, primer, steps, grammar, seed=1):
  options = dict(PATHS[path])
  controls = _controls(len(primer), primer.shape[1] + steps)
  if 'beam_size' in options:
    return sampler.beam_search(model, primer, steps, controls=controls,
                               seed=seed, grammar=grammar, **options)
  return sampler.sample(model, primer, steps, controls=controls, seed=seed,
                        grammar=grammar, **options)


@pytest.mark.parametrize('path', sorted(PATHS))
def test_every_sampler_path_draws_only_what_the_grammar_allows(model, path):
  grammar = SMALL.grammar(max_polyphony=2, max_note_duration=0.5)
  primer = np.array([[SHIFT(10), VELOCITY(1), ON(60)]] * 4, np.int32)
  masked = _draw(model, path, primer, 40, grammar)
  np.testing.assert_array_equal(masked[:, :3], primer)
  assert testing_lib.disallowed_draws(grammar, masked, 3) == []
  np.testing.assert_array_equal(masked, _draw(model, path, primer, 40, grammar))
  # The untrained model proposes what the grammar rules out.
  free = _draw(model, path, primer, 40, None)
  assert testing_lib.disallowed_draws(grammar, free, 3)


def test_the_naive_loop_applies_the_grammar_as_the_compiled_one(model):
  grammar = SMALL.grammar(max_polyphony=2)
  primer = np.array([[SHIFT(10)], [SHIFT(3)]], np.int32)
  controls = _controls(2, 1 + 25)
  fast = sampler.sample(model, primer, 25, controls=controls, top_k=1,
                        grammar=grammar)
  slow = sampler.sample_naively(model, primer, 25, controls=controls, top_k=1,
                                grammar=grammar)
  np.testing.assert_array_equal(fast, slow)
  assert testing_lib.disallowed_draws(grammar, slow, 1) == []
  drawn = sampler.sample_naively(model, primer, 25, controls=controls,
                                 grammar=grammar, seed=3)
  assert testing_lib.disallowed_draws(grammar, drawn, 1) == []


class _GrammaticalModel:
  """A model that never proposes what `grammar` rules out: its logits
  (from a fixed table of the last token) are -1e9 there."""

  def __init__(self, grammar, seed):
    self.grammar = grammar
    self.table = tf.constant(np.random.default_rng(seed).normal(
        size=(grammar.width, grammar.width)), tf.float32)

  def initial_state(self, batch, max_length):
    del max_length
    return list(self.grammar.initial_state(batch, tnp))

  def step(self, inputs, states):
    tokens = inputs['tokens']
    states = self.grammar.update(tuple(states), tokens, tnp)
    logits = tf.where(self.grammar.allowed(states, tnp),
                      tf.gather(self.table, tokens), -1e9)
    return logits, list(states)

  def reorder_states(self, states, indices):
    return [tf.gather(s, indices) for s in states]

  # The sampler's step at a temperature, as every next-token model's.
  tempered_step = protocols.NextTokenModel.tempered_step


@pytest.mark.parametrize('path', ['sample', 'tempered', 'beam', 'beam_steps'])
def test_the_masks_change_nothing_for_a_model_that_respects_the_grammar(path):
  grammar = SMALL.grammar(max_polyphony=3, max_note_duration=0.4)
  model = _GrammaticalModel(grammar, seed=2)
  primer = np.full((6, 1), SHIFT(10), np.int32)

  def draw(g):
    if path.startswith('beam'):
      return sampler.beam_search(
          model, primer, 50, beam_size=2, branch_factor=2, seed=4, grammar=g,
          steps_per_iteration=5 if path == 'beam_steps' else 1)
    return sampler.sample(model, primer, 50, seed=4, grammar=g,
                          temperature=0.7 if path == 'tempered' else 1.0)

  with_masks = draw(grammar)
  np.testing.assert_array_equal(with_masks, draw(None))
  assert testing_lib.disallowed_draws(grammar, with_masks, 1) == []


def test_sample_heads_applies_the_note_tuple_grammar():
  codec = note_tuple.NoteTupleCodec(note_tuple.NoteTupleSettings(
      chord_vocabulary=((60,), (60, 64), (60, 64, 67))))
  keras.utils.set_random_seed(1)
  model = NoteLSTM(codec.head_sizes, rnn_layer_sizes=(8,))
  primer = np.tile(codec.empty_primer(), (8, 1)).astype(np.int32)
  grammar = codec.grammar(max_polyphony=2)
  masked = sampler.sample_heads(model, primer, 30, temperatures=(2.0, 1.0, 1.0),
                                seed=1, grammar=grammar)
  assert testing_lib.disallowed_draws(grammar, masked, 1) == []
  free = sampler.sample_heads(model, primer, 30, temperatures=(2.0, 1.0, 1.0),
                              seed=1)
  assert testing_lib.disallowed_draws(grammar, free, 1)


def test_masked_probability_stays_with_its_event_type():
  logits = tf.math.log(tf.constant([[0.1, 0.2, 0.3, 0.4]]))
  allowed = tf.constant([[True, True, False, True]])
  # Ids 1-2 are one type: id 2's 0.3 goes to id 1, the type keeps its 0.5.
  probs = tf.nn.softmax(sampler.masked(logits, allowed, [(1, 3)])).numpy()
  np.testing.assert_allclose(probs, [[0.1, 0.5, 0.0, 0.4]], rtol=1e-6)
  # Without type groups, to every allowed id alike.
  probs = tf.nn.softmax(sampler.masked(logits, allowed)).numpy()
  np.testing.assert_allclose(probs, [[0.1 / 0.7, 0.2 / 0.7, 0.0, 0.4 / 0.7]],
                             rtol=1e-6)
  # A type with no allowed id loses its probability to every allowed id.
  allowed = tf.constant([[True, False, False, True]])
  probs = tf.nn.softmax(sampler.masked(logits, allowed, [(1, 3)])).numpy()
  np.testing.assert_allclose(probs, [[0.2, 0.0, 0.0, 0.8]], rtol=1e-6)


def test_the_performance_grammar_keeps_note_off_probability_by_type():
  assert SMALL.grammar().type_groups == ((SMALL.note_off_offset,
                                          SMALL.time_shift_offset),)
  assert SMALL.grammar(renormalise='all').type_groups == ()


def test_equal_grammars_share_one_compiled_loop(model):
  primer = np.full((1, 1), SHIFT(10), np.int32)
  before = len(sampler._LOOPS.get(model, {}))   # pylint: disable=protected-access
  for _ in range(2):
    sampler.sample(model, primer, 3, controls=_controls(1, 4), seed=1,
                   grammar=SMALL.grammar(max_polyphony=7))
  assert len(sampler._LOOPS[model]) == before + 1   # pylint: disable=protected-access
  assert SMALL.grammar(max_polyphony=7) != SMALL.grammar(max_polyphony=6)
  assert SMALL.grammar(renormalise='all') != SMALL.grammar()


def test_by_type_renormalisation_keeps_the_tempered_probability_of_a_type():
  logits = tf.math.log(tf.constant([[0.1, 0.2, 0.3, 0.4]]))
  allowed = tf.constant([[True, True, False, True]])
  tempered = tf.nn.softmax(logits / 0.5).numpy()
  probs = tf.nn.softmax(sampler.filter_logits(
      logits, temperature=0.5, mask=(allowed, [(1, 3)]))).numpy()
  np.testing.assert_allclose(probs[0, 1], tempered[0, 1:3].sum(), rtol=1e-5)
  np.testing.assert_allclose(probs[0, [0, 3]], tempered[0, [0, 3]], rtol=1e-5)
