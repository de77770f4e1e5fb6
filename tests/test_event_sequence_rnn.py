"""Magenta's event-sequence RNNs (Melody RNN, Drums RNN) under Magenta's
config names: the inputs the model builds from event ids equal the codecs'
(which equal note-seq's encoder-decoders, tests/test_melody_encodings.py),
its event probabilities are its classes' read as note-seq reads them, its
step equals its full pass, and the tiny configs train on the fixtures'
melodies and drums and generate MIDI that decodes."""

import os

import keras
import note_seq
import numpy as np
import pretty_midi
import pytest

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn.encodings import melody
from musicrnn.errors import UsageError
from musicrnn.generation import sampler
from musicrnn.models import event_sequence_rnn
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.training import trainer
import testing_lib

# Magenta's codec id (encodings.MAGENTA_CODECS) -> the musicrnn config.
CONFIGS = {'basic_rnn': 'basic_rnn', 'mono_rnn': 'mono_rnn',
           'lookback_rnn': 'lookback_rnn', 'attention_rnn': 'attention_rnn',
           'drum_kit': 'drum_kit_rnn'}
# attention_rnn's model is checked step against pass above; it trains as
# these do.
TRAINED = ('lookback_rnn_tiny', 'drum_kit_rnn_tiny', 'basic_improv_tiny')


def _tracks(codec, notesequences, rng):
  """Event ids of every track the codec extracts from the fixtures, and
  random ids with repeats at the lookback distances (every id, in orders no
  music has)."""
  tracks = []
  settings = encodings.codec.ExtractionSettings(min_bars=1, max_steps=0,
                                                min_unique_pitches=1)
  for sequence in notesequences:
    try:
      extraction = codec.extract(sequence, settings)
    except encodings.codec.EncodingError:
      continue
    tracks += [np.asarray(features['tokens']) for features, _ in
               extraction.examples]
  for _ in range(3):
    part = rng.integers(0, codec.vocab_size, 16)
    tracks.append(np.concatenate([part, part, rng.integers(
        0, codec.vocab_size, 20), part, part[:5]]))
  return [t for t in tracks if len(t) >= 2]


@pytest.fixture(scope='module')
def notesequences(fixture_notesequences):
  return list(testing_lib.read_notesequences([fixture_notesequences]).values())


@pytest.mark.parametrize('codec_id', sorted(CONFIGS))
def test_model_inputs_equal_the_codecs(codec_id, notesequences):
  """On every fixture track: the inputs `Inputs` builds over a whole
  sequence and step by step are the codec's, and each lookback class stands
  for the event note-seq's `class_index_to_event` reads it as."""
  codec = encodings.magenta_codec(codec_id)
  inputs = event_sequence_rnn.Inputs(codec.encoder_spec())
  assert (inputs.input_size, inputs.num_classes) == (codec.input_size,
                                                     codec.num_classes)
  tracks = _tracks(codec, notesequences, np.random.default_rng(1))
  assert len(tracks) > 3
  # Every track whole; the first and the random ones (the last) step by
  # step too, over their first 80 steps (past both lookbacks).
  for index, ids in enumerate(tracks):
    expected = codec.inputs(ids)
    whole, targets = inputs.sequence(ids[None].astype(np.int32))
    np.testing.assert_array_equal(np.asarray(whole)[0], expected)
    if 0 < index < len(tracks) - 3:
      continue
    states = inputs.initial_state(1)
    for t, event in enumerate(ids[:80]):
      one, step_targets, states = inputs.step(np.array([event], np.int32),
                                              states)
      np.testing.assert_array_equal(np.asarray(one)[0], expected[t])
      np.testing.assert_array_equal(np.asarray(step_targets)[0],
                                    np.asarray(targets)[0, t])
    plain = inputs.num_events
    for t in range(0, len(ids), 7):
      for j in range(len(inputs.distances)):
        assert codec.ids_from_labels([plain + j], primer=ids[:t + 1])[0] == (
            np.asarray(targets)[0, t, j])


@pytest.mark.parametrize('codec_id', ['lookback_rnn', 'attention_rnn',
                                      'basic_rnn'])
def test_event_probabilities_are_the_classes_that_decode_to_them(codec_id):
  """p(event) is the sum of the probabilities of the classes note-seq would
  decode to it after the ids so far; a one-hot encoder's are its classes'.
  So the events' NLL is at most the labels' (Magenta's loss)."""
  codec = encodings.magenta_codec(codec_id)
  inputs = event_sequence_rnn.Inputs(codec.encoder_spec())
  rng = np.random.default_rng(2)
  # Repeats at 16 steps (lookback labels), then new events.
  part = rng.integers(0, codec.vocab_size, 16)
  ids = np.concatenate([part, part, rng.integers(0, codec.vocab_size, 8)])
  _, targets = inputs.sequence(ids[None].astype(np.int32))
  logits = rng.normal(size=(1, len(ids), inputs.num_classes)).astype(np.float32)
  events = np.exp(np.asarray(inputs.event_log_probs(logits, targets))[0])
  classes = np.exp(logits[0]) / np.exp(logits[0]).sum(-1, keepdims=True)
  for t in range(len(ids)):
    expected = np.zeros(codec.vocab_size)
    for label in range(inputs.num_classes):
      event = codec.ids_from_labels([label], primer=ids[:t + 1])[0]
      expected[event] += classes[t, label]
    np.testing.assert_allclose(events[t], expected, atol=1e-6)
  labels = codec.labels(ids)[1:]
  label_nll = -np.log(classes[np.arange(len(ids) - 1), labels]).mean()
  event_nll = -np.log(events[np.arange(len(ids) - 1), ids[1:]]).mean()
  if inputs.distances:
    assert event_nll < label_nll - 1e-3
  else:
    assert event_nll == pytest.approx(label_nll, abs=1e-5)


def test_temperature_divides_the_class_logits_as_magentas_sampler():
  """At temperature T an event's probability is the sum of softmax(class
  logits / T) over the classes that decode to it (Magenta draws a class at
  T, then decodes it), in the full pass, the step, and the sampler."""
  config = configs.get_config('lookback_rnn_tiny')
  codec = encodings.codec_from_config(config)
  keras.utils.set_random_seed(5)
  model = models.build_model(config, codec, [])
  rng = np.random.default_rng(6)
  part = rng.integers(0, codec.vocab_size, 16)
  ids = np.concatenate([part, part])[None].astype(np.int32)
  temperature = 0.5
  classes = np.asarray(model.class_logits({'tokens': ids}))[0] / temperature
  classes = np.exp(classes - classes.max(-1, keepdims=True))
  classes /= classes.sum(-1, keepdims=True)
  tempered = np.exp(np.asarray(model.tempered_logits({'tokens': ids},
                                                     temperature))[0])
  states = model.initial_state(1)
  for t in range(ids.shape[1]):
    expected = np.zeros(codec.vocab_size)
    for label in range(len(classes[t])):
      expected[codec.ids_from_labels([label], primer=ids[0, :t + 1])[0]] += (
          classes[t, label])
    np.testing.assert_allclose(tempered[t], expected, atol=1e-5)
    log_probs, states = model.tempered_step({'tokens': ids[:, t]}, states,
                                            temperature)
    np.testing.assert_allclose(np.exp(np.asarray(log_probs))[0], expected,
                               atol=1e-5)
  # Not the events' log-probabilities divided by T, for a lookback encoder.
  untempered = np.asarray(model({'tokens': ids}))[0] / temperature
  divided = np.exp(untempered - untempered.max(-1, keepdims=True))
  divided /= divided.sum(-1, keepdims=True)
  assert np.abs(divided - tempered).max() > 1e-3
  # The compiled sampler and beam search step the model through it (the
  # call is seen when the loop is traced), and divide nothing after it.
  seen = []
  step = model.tempered_step
  model.tempered_step = lambda i, s, t: seen.append(t) or step(i, s, t)
  sampler.sample(model, ids, 3, temperature=temperature, seed=2,
                 jit_compile=False)
  sampler.beam_search(model, ids, 3, beam_size=2, branch_factor=2,
                      temperature=0.25, seed=2, jit_compile=False)
  assert seen == [temperature, 0.25]


@pytest.mark.parametrize('name,attention', [
    ('basic_rnn_tiny', None), ('mono_rnn_tiny', None),
    ('lookback_rnn_tiny', None),
    ('attention_rnn_tiny', 'first_layer'), ('attention_rnn_tiny', 'stack'),
    ('drum_kit_rnn_tiny', 'first_layer'), ('attention_improv_tiny', None),
    ('chord_pitches_improv_tiny', None)])
def test_step_equals_the_full_pass(name, attention):
  config = configs.get_config(name)
  if attention:
    with config.unlocked():
      config.model.attention = attention
  codec = encodings.codec_from_config(config)
  model = models.build_model(config, codec, [])
  rng = np.random.default_rng(3)
  ids = rng.integers(0, codec.vocab_size, (2, 37)).astype(np.int32)
  # A lead sheet's model reads a chord vector a step as well.
  conditions = {name: rng.normal(size=(2, 37, size)).astype(np.float32)
                for name, size in codec.extra_input_sizes().items()}
  full = np.asarray(model({'tokens': ids, **conditions}))
  np.testing.assert_allclose(np.exp(full).sum(-1), 1.0, atol=1e-5)
  states = model.initial_state(2)
  for t in range(ids.shape[1]):
    log_probs, states = model.step(
        {'tokens': ids[:, t], **{k: v[:, t] for k, v in conditions.items()}},
        states)
    np.testing.assert_allclose(np.asarray(log_probs), full[:, t], atol=1e-5)
  # Beam search reorders the states of the inputs with the LSTMs'.
  reordered = model.reorder_states(states, np.array([1, 0]))
  assert [tuple(s.shape) for s in reordered] == [tuple(s.shape) for s in states]


def test_attention_wraps_the_first_layer_or_the_stack():
  """Magenta's two attention graphs: since 2018 the first layer is wrapped
  (the others follow it); in 2017 the whole stack (the query reads every
  layer's state)."""
  config = configs.get_config('attention_rnn_tiny')
  codec = encodings.codec_from_config(config)
  first = models.build_model(config, codec, [])
  with config.unlocked():
    config.model.attention = 'stack'
  stack = models.build_model(config, codec, [])
  assert len(first.rnn_layers) == 2 and len(stack.rnn_layers) == 1
  cell = stack.rnn_layers[0].cell
  assert cell.layer_sizes == (16, 16)
  assert tuple(cell.query_kernel.shape) == (2 * 32, 16)
  assert tuple(first.rnn_layers[0].cell.query_kernel.shape) == (2 * 16, 16)


def test_melody_grammar_masks_note_off_in_silence():
  codec = encodings.magenta_codec('basic_rnn')
  grammar = codec.grammar()
  ids = np.array([[melody.NO_EVENT_ID, 10, melody.NO_EVENT_ID,
                   melody.NOTE_OFF_ID, melody.NO_EVENT_ID]])
  states = grammar.states(ids)
  off = [bool(grammar.allows(s, [melody.NOTE_OFF_ID])[0]) for s in states]
  assert off == [False, False, True, True, False, False]
  assert encodings.magenta_codec('drum_kit').grammar() is None


@pytest.fixture(scope='module')
def trained(magenta_datasets, tmp_path_factory):
  """{tiny config: (dataset, run folder, TrainSummary)} trained on the
  fixtures' tracks (conftest's magenta_datasets), 40 steps."""
  def make(name):
    data = magenta_datasets[name]

    def build(folder):
      run_dir = os.path.join(folder, 'run')
      summary = trainer.train(configs.get_config(name), data, run_dir,
                              num_steps=40, seed=1, log_every=10,
                              eval_every=40, checkpoint_every=40,
                              progress=False)
      return data, run_dir, summary
    return testing_lib.made_once(tmp_path_factory, f'esr_{name}', build)[1]
  return {name: make(name) for name in TRAINED}


@pytest.mark.parametrize('name', TRAINED)
def test_tiny_config_trains_evaluates_and_generates(name, trained, tmp_path,
                                                    notesequences):
  _, run_dir, summary = trained[name]
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 4 and losses[-1] < losses[0] - 0.3, losses
  metrics = evaluate_lib.evaluate_run(run_dir)
  assert metrics['nll'] == pytest.approx(summary.evals[-1]['nll'], rel=1e-4)
  assert metrics['nll'] < losses[0]
  run = run_dir_lib.load_run(run_dir)
  primer = _primer_file(run.codec, _tracks(run.codec, notesequences,
                                           np.random.default_rng(5))[0][:16],
                        tmp_path)
  for beam in (1, 2) if name == 'lookback_rnn_tiny' else (1,):
    out = os.path.join(tmp_path, f'beam{beam}')
    paths = generate.generate(run_dir, out, num_outputs=2, num_steps=48,
                              seed=3, beam_size=beam, primer_midi=primer)
    for path in paths:
      sequence = note_seq.midi_file_to_note_sequence(path)
      assert sequence.notes
      assert all(n.is_drum for n in sequence.notes) == name.startswith('drum')


def test_improv_reads_the_chord_under_the_event_it_predicts(trained):
  """tf.data gives an Improv RNN the stored chord symbols as the codec's
  chord inputs, so the model's input is note-seq's
  ConditionalEventSequenceEncoderDecoder's: [chord of step i + 1, melody
  input of step i]."""
  data, run_dir, _ = trained['basic_improv_tiny']
  run = run_dir_lib.load_run(run_dir)
  from musicrnn.tfrecords import sources  # pylint: disable=import-outside-toplevel
  source = sources.open_source(data)
  record = next(iter(source.records('train', shuffle=False, repeat=False)))
  ids = record['tokens'].numpy()
  chords = [c.decode() for c in record['chords'].numpy().reshape(-1)]
  expected, _ = run.codec.training_example(ids, chords)
  inputs, batch_labels, _ = next(iter(input_lib.make_dataset(
      data, 'train', 1, shuffle=False, repeat=False)))
  # The first example of the batch stream is the first record.
  features, _ = run.model.inputs_of.sequence(inputs['tokens'])
  got = np.asarray(run.model._conditioned(inputs, features))[0]  # pylint: disable=protected-access
  np.testing.assert_array_equal(got, expected)
  np.testing.assert_array_equal(np.asarray(batch_labels)[0], ids[1:])
  assert np.asarray(inputs['chords']).shape[-1] == 49


def test_improv_generates_over_backing_chords(trained, tmp_path):
  _, run_dir, _ = trained['basic_improv_tiny']
  paths = generate.generate(run_dir, str(tmp_path), num_outputs=1, seed=2,
                            backing_chords='C G Am F', steps_per_chord=8,
                            render_chords=True)
  sequence = note_seq.midi_file_to_note_sequence(paths[0])
  # Four chords of 8 sixteenths at 120 qpm: 4 s, the primer included.
  assert sequence.total_time == pytest.approx(4.0)
  rendered = {(round(n.start_time, 3), n.pitch % 12) for n in sequence.notes
              if n.program == 88}
  assert {(0.0, 0), (0.0, 4), (0.0, 7), (1.0, 7), (1.0, 11), (1.0, 2),
          (2.0, 9), (2.0, 0), (2.0, 4), (3.0, 5), (3.0, 9),
          (3.0, 0)} <= rendered
  # The chord symbols are MIDI text events a DAW shows (note-seq's writer
  # has none; its reader skips them).
  assert [(round(t.time, 3), t.text) for t in pretty_midi.PrettyMIDI(
      paths[0]).text_events] == [(0.0, 'C'), (1.0, 'G'), (2.0, 'Am'),
                                 (3.0, 'F')]
  # A chord note-seq reads but the triad encoding has no id for.
  with pytest.raises(UsageError, match='--backing_chords: .*triad'):
    generate.generate(run_dir, str(tmp_path / 'sus'), backing_chords='C Csus4')
  with pytest.raises(UsageError, match='runs over chords'):
    generate.generate(trained['lookback_rnn_tiny'][1], str(tmp_path / 'x'),
                      backing_chords='C G')


def _primer_file(codec, ids, folder):
  path = os.path.join(folder, 'primer.mid')
  testing_lib.write_midi(path, codec.decode(ids))
  return path


def test_grammar_holds_in_generated_melodies(trained):
  _, run_dir, _ = trained['lookback_rnn_tiny']
  run = run_dir_lib.load_run(run_dir)
  grammar = run.codec.grammar()
  primer = np.full((4, 1), melody.NO_EVENT_ID, np.int32)
  tokens = sampler.sample(run.model, primer, 60, temperature=2.0, seed=4,
                          grammar=grammar)
  assert testing_lib.disallowed_draws(grammar, np.asarray(tokens), 1) == []
