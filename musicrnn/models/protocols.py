"""What a model family is: the small abstract bases every family subclasses.

A family states what it is by subclassing one protocol; the protocol names
the task that trains and uses it (`musicrnn.tasks`) and the methods that task
calls. A family that lacks one of them fails when its class is defined, not
when a run reaches the missing call:

  NextTokenModel   token ids (and control signals) in, logits over the
                   vocabulary out, with a cached step: event LSTM, Music
                   Transformer, dilated CNN (task 'next_token')
  MultiHeadModel   tokens that pack several parts in, a softmax head per part
                   out, with a cached step: the note LSTM (task 'multi_head')
  FrameModel       frames of bits in, a logit per bit of the next frame out,
                   with a cached step: the piano-roll LSTM (task 'multi_label')
  JointFrameModel  frames of bits in, a joint distribution over the bits of
                   the next frame out (scored exactly, drawn bit by bit),
                   with a cached step: the RNN-NADE (task 'joint_frames')
  AdversarialPair  a generator (noise in, piano rolls out) and its critic,
                   with their own update: the piano-roll GAN (task
                   'adversarial')
  LatentVariableModel  an encoder of a whole sequence to a Gaussian latent
                   (mu, sigma) and a decoder of the sequence given z, teacher
                   forced or one step at a time: MusicVAE (task
                   'variational')

  class MyModel(protocols.NextTokenModel):
    ...   # data_arguments, example_inputs, call, initial_state, step,
          # reorder_states, get_config

Every family also has, from `FamilyModel`: `data_arguments(codec, controls)`
(the constructor arguments that come from the data), `example_inputs(controls)`
(a batch of one that builds it) and the facts the trainer asks
(`trains_faster_with_xla`).
"""

import abc
import itertools
import math

import keras

# family (the name of its module in musicrnn/models/) -> its model class:
# every concrete family registers itself here when its class is defined.
FAMILIES = {}
_PACKAGE = __name__.rsplit('.', 1)[0] + '.'


def _abstract(cls):
  """The names of the protocols' abstract methods `cls` has not defined."""
  return sorted(name for name in dir(cls) if getattr(
      getattr(cls, name, None), '__isabstractmethod__', False))


class FamilyModel(keras.Model):
  """The base of every protocol: a Keras model that `models.build_model`
  makes from a config, the codec and the controls.

  Class attributes:
    task: the name of the task (`musicrnn.tasks`) that trains, evaluates,
      samples and exports this kind of model; set by each protocol.
    trains_faster_with_xla: XLA compiles its train step into a faster one on
      a CPU (benchmarks/xla_benchmark.py); the trainer's `jit_compile=None`
      then turns XLA on when one shape fits every example.
    RETIRED_ARGUMENTS: {constructor argument: the one value it could hold}
      that the family no longer takes; a run folder written with one loads
      without it (`musicrnn.runs.run_dir.upgrade`).
  """

  task = None
  trains_faster_with_xla = False
  RETIRED_ARGUMENTS = {}

  def __init_subclass__(cls, abstract=False, **kwargs):
    """Checks a concrete family (not `abstract=True`) against its protocol:
    every abstract method of its protocols defined, and a task named."""
    super().__init_subclass__(**kwargs)
    if abstract:
      return
    missing = _abstract(cls)
    if cls.task is None or missing:
      protocol = next((base.__name__ for base in cls.__mro__[1:]
                       if base.__module__ == __name__), 'FamilyModel')
      raise TypeError(
          f'{cls.__name__} is a {protocol} but '
          + (f'does not define {", ".join(missing)}' if missing
             else 'names no task (subclass a protocol, not FamilyModel)'))
    if cls.__module__.startswith(_PACKAGE):
      family = cls.__module__[len(_PACKAGE):]
      if FAMILIES.get(family, cls) is not cls:
        raise TypeError(f'{cls.__module__} defines two families, '
                        f'{FAMILIES[family].__name__} and {cls.__name__}: '
                        'one family per file')
      FAMILIES[family] = cls

  @staticmethod
  @abc.abstractmethod
  def data_arguments(codec, controls):
    """{constructor argument: value} that come from the data (a vocabulary
    size, control sizes, a piano roll's shape)."""

  @abc.abstractmethod
  def example_inputs(self, controls):
    """A batch of one that builds the model (its weights made)."""

  @abc.abstractmethod
  def call(self, inputs, training=False):
    """The model's forward pass over a batch."""

  @abc.abstractmethod
  def get_config(self):
    """Every constructor argument, as Keras saves it: a family's own adds
    its arguments to this (Keras' name, trainable and dtype)."""
    return super().get_config()


class _CachedStep(FamilyModel, abstract=True):
  """A model that generates one step at a time from states it carries
  (an RNN's state, a transformer's key/value cache, a CNN's queues), whose
  step's logits equal the full forward pass's."""

  @abc.abstractmethod
  def initial_state(self, batch_size, max_length=None):
    """The states before the first step, for sequences of at most
    `max_length` steps."""

  @abc.abstractmethod
  def step(self, inputs, states):
    """(logits of one step [batch, ...], the next states) for one step's
    inputs ([batch] ids, or [batch, ...] values)."""

  @abc.abstractmethod
  def reorder_states(self, states, indices):
    """The states of sequences `indices` [batch], in that order (beam
    search's survivors)."""


class NextTokenModel(_CachedStep, abstract=True):
  """Token ids in ({'tokens': int [batch, time], control name: values}),
  logits [batch, time, vocab_size] over the next token out.

  Instance attribute: `vocab_size`."""

  task = 'next_token'

  def tempered_step(self, inputs, states, temperature):
    """`step` with its next-token distribution at `temperature`: the logits
    divided by it. A model whose token logits are made from other logits
    (Magenta's event RNNs: classes that decode to events) divides those,
    as its own sampler does."""
    logits, states = self.step(inputs, states)
    return logits / temperature, states

  def tempered_logits(self, inputs, temperature):
    """The forward pass's logits with each step's distribution at
    `temperature` (as `tempered_step`'s)."""
    return self(inputs) / temperature


class MultiHeadModel(_CachedStep, abstract=True):
  """Tokens that pack one id per part in ({'tokens': int [batch, time]}),
  the heads' logits side by side out; the parts of the next step are
  independent given the past.

  Class attribute: `head_names`, the parts in order. Instance attribute:
  `head_sizes`, each part's vocabulary."""

  task = 'multi_head'
  head_names = ()

  def __init_subclass__(cls, abstract=False, **kwargs):
    super().__init_subclass__(abstract=abstract, **kwargs)
    if not abstract and not cls.head_names:
      raise TypeError(f'{cls.__name__} is a MultiHeadModel but names no '
                      'head_names')

  @abc.abstractmethod
  def split_tokens(self, tokens):
    """[ids of each part] of packed token ids."""

  @abc.abstractmethod
  def split_logits(self, logits):
    """[logits of each head] of the heads side by side."""

  @abc.abstractmethod
  def pack(self, *parts):
    """Packed token ids of one id per part."""


class FrameModel(_CachedStep, abstract=True):
  """Frames in ({'pianoroll': [batch, time, frame_size]} of 0/1 bits), one
  logit per bit of the next frame out [batch, time, frame_size]; the bits
  are independent given the past.

  Instance attribute: `frame_size`."""

  task = 'multi_label'


class JointFrameModel(_CachedStep, abstract=True):
  """Frames in ({'pianoroll': [batch, time, frame_size]} of 0/1 bits), for
  each step the parameters of a joint distribution over the next frame's
  bits out ([batch, time, params]; `step` gives one step's [batch,
  params]). The bits of a frame are not independent given the past: the
  model scores a whole frame (`frame_log_prob`) and draws one bit at a
  time, each given the bits drawn before it (`sample_frame`).

  Instance attribute: `frame_size`."""

  task = 'joint_frames'

  @abc.abstractmethod
  def frame_log_prob(self, params, frames):
    """log p(frame | params) in nats, exactly: [...] for parameters
    [..., params] and 0/1 frames [..., frame_size]."""

  @abc.abstractmethod
  def sample_frame(self, params, uniforms, temperature=1.0):
    """Frames [..., frame_size] (0/1 floats) drawn from parameters [...,
    params], bit by bit in the model's order: bit d is 1 where
    uniforms[..., d] < p(bit d = 1 | the bits before it), its logit
    divided by `temperature`. Uniform draws give a sample; uniforms of 0.5
    give the greedy frame (each bit set where its probability exceeds
    one half given the bits set before it)."""

  def log_prob(self, inputs, labels, training=False):
    """[batch, time] log-probability in nats of each frame of `labels`
    [batch, time, frame_size] given the frames of `inputs` up to it."""
    return self.frame_log_prob(self(inputs, training=training), labels)


class AdversarialPair(FamilyModel, abstract=True):
  """A generator ({'noise': [batch, latent_dim]} in, cell probabilities
  [batch, steps, pitches] out) and a critic that scores rolls, trained by
  their own alternating updates.

  Instance attributes: `latent_dim`, `critic` (a Keras model: rolls
  [batch, steps, pitches, 1] in, scores [batch, 1] out)."""

  task = 'adversarial'

  @abc.abstractmethod
  def noise(self, batch_size, seed=None):
    """Noise [batch_size, latent_dim] the generator was trained on."""

  @abc.abstractmethod
  def make_optimizers(self, loss_scale=False):
    """Creates and builds the pair's optimizers; returns them by name (the
    names the checkpoint holds them under)."""

  @abc.abstractmethod
  def adversarial_step(self, real):
    """One update of critic and generator on a replica's real rolls;
    returns {metric: replica-local mean}."""


class LatentVariableModel(FamilyModel, abstract=True):
  """An encoder of whole sequences of token ids to a diagonal Gaussian
  posterior q(z | x) = N(mu, sigma^2), and a decoder of the sequence given a
  latent z, trained on the ELBO against the prior N(0, I).

  Inputs are {'tokens': int [batch, time]} (0 on padding) with
  {'mask': [batch, time]} (1.0 on real steps; absent: every step real).
  The decoder reads the previous token at each step (none at step 0) and z:
  `decode` runs it teacher forced over a whole sequence;
  `decoder_initial_state` and `decoder_step` run it one step at a time from
  its own draws (generation, scheduled sampling), and `decoder_step`'s
  logits equal `decode`'s when it is fed the same tokens.

  A token may pack several parts (a MusicVAE trio's melody, bass and
  drums: `Codec.part_sizes`), each predicted by an output of its own: the
  logits are then each part's side by side, [..., sum(part_sizes)], and
  `split_tokens`, `pack_tokens` and `split_logits` take them apart.

  Instance attributes: `vocab_size` (the token ids), `part_sizes` (the
  vocabularies of the parts a token packs, first to last, the token
  (first * sizes[1] + second) * sizes[2] + ...; (vocab_size,) for one
  part), `z_size` (latent dimensions), `max_seq_len` (the steps of a
  training sequence, longer ones cut: what generation decodes by default)
  and `max_decode_steps` (the most steps the decoder can decode, None for
  any: a hierarchical decoder's bars).
  """

  task = 'variational'

  def split_tokens(self, tokens):
    """[int ids of each part, shaped as `tokens`] of packed token ids; a
    negative token (none, before step 0) is -1 in every part. One part:
    [tokens] itself."""
    sizes = self.part_sizes
    if len(sizes) == 1:
      return [tokens]
    parts = []
    for index, size in enumerate(sizes):
      below = math.prod(sizes[index + 1:])
      parts.append(keras.ops.where(tokens < 0, -1, tokens // below % size))
    return parts

  def pack_tokens(self, parts):
    """Packed int32 token ids of [ids of each part] (`split_tokens`'
    inverse)."""
    sizes = self.part_sizes
    if len(sizes) == 1:
      return parts[0]
    packed = 0
    for part, size in zip(parts, sizes):
      packed = packed * size + keras.ops.cast(part, 'int32')
    return packed

  def split_logits(self, logits):
    """[logits [..., size] of each part] of logits [..., sum(part_sizes)].
    One part: [logits] itself."""
    sizes = self.part_sizes
    if len(sizes) == 1:
      return [logits]
    ends = list(itertools.accumulate(sizes))
    return [logits[..., end - size:end] for size, end in zip(sizes, ends)]

  @abc.abstractmethod
  def encode(self, inputs, training=False):
    """(mu, sigma) of q(z | tokens), float32 [batch, z_size] each (sigma >
    0)."""

  @abc.abstractmethod
  def decode(self, z, inputs, training=False):
    """float32 logits [batch, time, sum(part_sizes)] of each token of
    inputs['tokens'] given z [batch, z_size] and the tokens before it
    (teacher forcing)."""

  @abc.abstractmethod
  def decoder_initial_state(self, z, training=False):
    """The decoder's states (a list of tensors) before step 0, given z."""

  @abc.abstractmethod
  def decoder_step(self, tokens, states, step, training=False):
    """(float32 logits [batch, sum(part_sizes)] of token `step`, the next
    states) given the previous tokens [batch] int32 (-1 at step 0: no
    token) and the step's index (a scalar, tensor or int)."""

  def call(self, inputs, training=False):
    """Reconstruction logits [batch, time, sum(part_sizes)]: the tokens
    decoded, teacher forced, from the mean of their posterior (z = mu; the
    task's objective draws z itself)."""
    mu, _ = self.encode(inputs, training=training)
    return self.decode(mu, inputs, training=training)
