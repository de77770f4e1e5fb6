"""The codec contract every musicrnn encoding follows (numpy only, no TF).

A codec turns an *unquantized* NoteSequence (times in seconds, as
`musicrnn_convert` writes them) into numpy arrays and back:

  codec = PerformanceCodec(PerformanceSettings(num_velocity_bins=32))
  ids = codec.encode(sequence)        # np.ndarray, dtype int32
  sequence2 = codec.decode(ids)       # NoteSequence (times in seconds)
  codec.vocab_size                    # token ids are in [0, vocab_size)
  codec.spec()                        # JSON-able: {'name': ..., 'settings': {...}}
  codec_from_spec(codec.spec())       # an equal codec

- `settings` is a frozen dataclass; `spec()` is saved with every dataset so
  the trainer and generator rebuild the same codec.
- Each codec quantizes for itself, vectorised with numpy, with the same
  rounding as note-seq (`int(seconds * steps_per_second + 0.5)`, a zero-length
  note lengthened to one step).
- A sequence the codec cannot encode raises `EncodingError` with a short
  `reason` (used as a Beam counter name by the dataset pipeline).
"""

import dataclasses


class EncodingError(ValueError):
  """A NoteSequence this codec cannot encode; `reason` names why."""

  def __init__(self, reason, message):
    super().__init__(message)
    self.reason = reason


class Codec:
  """Base of every codec: settings, equality, hash, repr and spec.

  Subclasses set `settings_class` and implement `vocab_size`, `encode` and
  `decode`; `register(name)` sets `name`.
  """

  name = None
  settings_class = None

  def __init__(self, settings=None):
    self.settings = settings if settings is not None else self.settings_class()

  def __eq__(self, other):
    return type(other) is type(self) and other.settings == self.settings

  def __hash__(self):
    return hash((type(self), self.settings))

  def __repr__(self):
    return f'{type(self).__name__}({self.settings!r})'

  def spec(self):
    """JSON-able {'name', 'settings'}; `codec_from_spec` rebuilds the codec."""
    return spec_of(self)

  # Metric encodings count quantized steps in their tokens (Magenta measures
  # polyphonic sequences in steps); they set this and define `num_steps`.
  counts_steps = False

  def num_steps(self, ids):
    """The number of quantized steps `ids` spans (metric encodings only)."""
    raise NotImplementedError(f'the {self.name} encoding counts no steps')


_REGISTRY = {}


def register(name):
  """Class decorator: makes a codec constructible by `codec_from_spec`."""

  def wrap(cls):
    cls.name = name
    _REGISTRY[name] = cls
    return cls

  return wrap


def spec_of(codec):
  return {'name': codec.name, 'settings': dataclasses.asdict(codec.settings)}


def codec_from_spec(spec):
  """Rebuilds a codec from `codec.spec()` (e.g. read from dataset.json)."""
  name = spec.get('name')
  if name not in _REGISTRY:
    raise ValueError(
        f'unknown encoding {name!r}; known: {", ".join(sorted(_REGISTRY))}')
  cls = _REGISTRY[name]
  fields = {f.name for f in dataclasses.fields(cls.settings_class)}
  unknown = set(spec.get('settings', {})) - fields
  if unknown:
    raise ValueError(f'unknown {name} settings: {sorted(unknown)}')
  return cls(cls.settings_class(**spec.get('settings', {})))
