"""The studio's state: its models, the music it was given and what it made.

  studio = Studio(['/tmp/perf_run'], '/tmp/studio_work')
  studio.models_list()                       # what the page offers
  upload = studio.upload(open('a.mid', 'rb').read(), 'a.mid')
  result = studio.generate({'model': 'perf_run', 'action': 'continue',
                            'primer': {'source': 'upload', 'id': upload['id'],
                                       'keep_seconds': 4},
                            'length': {'unit': 'seconds', 'value': 20},
                            'num_outputs': 3, 'options': {'temperature': 0.9}})
  studio.file_path(result['outputs'][0]['id'], 'wav')

Every generation goes through musicrnn_generate's path
(`runs.generate.generate_loaded`: the run's task, its checks and tempo), with
the options the task says the run takes (`Task.options_for`); each request writes into a folder of its own, so two
tabs never share a file. Uploads are parsed in the isolated reader's child
process (`pipelines.isolation`, as musicrnn_convert reads files), under its
time and memory limits. A file is served only when its id is one this
studio gave out. Mistakes are `UsageError`s whose message is the sentence
the page shows.
"""

import dataclasses
import math
import os
import secrets
import threading
import time

import note_seq
from note_seq.protobuf import music_pb2

from musicrnn import tasks
from musicrnn.encodings import codec as codec_lib
from musicrnn import encodings
from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.generation import render
from musicrnn.pipelines import isolation
from musicrnn.pipelines import readers
from musicrnn.runs import generate as generate_lib
from musicrnn.runs import run_dir as run_dir_lib

DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024 * 1024
# Outputs of one request, at most.
MAX_OUTPUTS = 8
# The page's lengths and the task options that take them.
LENGTH_UNITS = (('seconds', 'duration_seconds'), ('bars', 'num_bars'),
                ('steps', 'num_steps'))
MAX_LENGTH = {'seconds': 600.0, 'bars': 256, 'steps': 20000}


@dataclasses.dataclass(frozen=True)
class Field:
  """How the page shows a generation option: a number field (kind 'float'
  or 'int', with its range), a text field ('text'; 'choice' from
  `choices`) or a checkbox ('bool')."""
  label: str
  kind: str
  help: str
  minimum: float = None
  maximum: float = None
  step: float = None
  choices: tuple = ()


# The task options the page offers, where the run's task takes them
# (`Task.options_for`); each control's flag is added from the control
# (`controls.Control.flag_help`).
FIELDS = {
    'temperature': Field('Temperature', 'float', 'How adventurous each draw '
                         'is: below 1 safer, above 1 wilder.', 0.05, 5.0, 0.05),
    'top_p': Field('Top-p', 'float', 'Draw only among the likeliest events '
                   'holding this much probability (1: all).', 0.01, 1.0, 0.01),
    'top_k': Field('Top-k', 'int', 'Draw only among the k likeliest events '
                   '(0: all).', 0, 1000, 1),
    'beam_size': Field('Beam size', 'int', "Magenta's beam search keeps this "
                       'many candidates (1: plain sampling).', 1, 16, 1),
    'branch_factor': Field('Branch factor', 'int', 'Each beam candidate '
                           'branches into this many copies.', 1, 16, 1),
    'steps_per_iteration': Field('Steps per beam iteration', 'int', 'Events '
                                 'drawn between prunings of the beam.', 1, 256,
                                 1),
    'max_polyphony': Field('Max polyphony', 'int', 'At most this many notes '
                           'sound at once (0: no limit).', 0, 32, 1),
    'max_note_duration': Field('Longest note', 'float', 'Seconds after which '
                               'a note still sounding is ended (0: never).',
                               0.0, 60.0, 0.5),
    'state_masks': Field('State masks', 'bool', 'Never draw an event that '
                         'cannot mean anything in the music so far (off: '
                         'sample the model as it is).'),
    'mask_renormalisation': Field('Mask renormalisation', 'choice', 'How the '
                                  'probability of masked events is spread: '
                                  'within their type, or over all allowed '
                                  'events.', choices=codec_lib.RENORMALISE),
    'qpm': Field('Tempo', 'float', 'Quarter notes a minute of the output.',
                 20.0, 400.0, 1.0),
    'backing_chords': Field('Backing chords', 'text', 'Chord symbols to '
                            'improvise over, e.g. "C G Am F".'),
    'steps_per_chord': Field('Steps per chord', 'int', 'How long each chord '
                             'is held, in steps (16 a 4/4 bar).', 1, 256, 1),
    'render_chords': Field('Play the chords', 'bool', 'Write the backing '
                           'chords into the MIDI as notes.'),
    'binarize': Field('Binarize', 'choice', 'How piano-roll probabilities '
                      'become notes.', choices=('', 'threshold', 'bernoulli')),
    'threshold': Field('Threshold', 'float', 'The probability above which a '
                       'key sounds (binarize=threshold).', 0.0, 1.0, 0.05),
    'latent_step': Field('Latent step', 'float', 'How far the noise moves '
                         'between joined segments (0 repeat, 1 independent).',
                         0.0, 1.0, 0.05),
}


class Studio:
  """The models a studio serves and the files it made (see the module
  docstring). Thread-safe: the page's requests come on threads of their
  own; one model generates one request at a time."""

  def __init__(self, run_dirs, work_dir, *,
               max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES,
               read_limits=readers.ReadLimits()):
    """
    Args:
      run_dirs: {label: run folder} (runs of musicrnn_train, unpacked .mrnn
        files, imported Magenta bundles), in the order the page lists them.
      work_dir: where uploads and outputs are written.
      max_upload_bytes: the largest file the page may upload.
      read_limits: the isolated reader's limits for uploads.

    Raises:
      UsageError: a folder that is not a run.
    """
    if not run_dirs:
      raise UsageError('the studio needs at least one model')
    self.work_dir = work_dir
    self.max_upload_bytes = max_upload_bytes
    self._models = {label: _Model(label, path) for label, path in run_dirs.items()}
    self._reader = isolation.IsolatedReader(dataclasses.replace(
        read_limits, max_file_bytes=min(read_limits.max_file_bytes,
                                        max_upload_bytes)))
    isolation.start_ahead(self._reader.limits)   # ready for the first upload
    self._reader_lock = threading.Lock()
    self._lock = threading.Lock()
    # id -> _Item: the uploads and outputs this studio made.
    self._items = {}
    self._progress = {}
    os.makedirs(work_dir, exist_ok=True)

  def close(self):
    self._reader.close()

  # --------------------------------------------------------------- models

  def models_list(self):
    """The page's description of every model (`_Model.describe`)."""
    return [model.describe() for model in self._models.values()]

  def _model(self, label):
    if not isinstance(label, str) or label not in self._models:
      raise UsageError(f'there is no model {label!r} here; the models are '
                       f'{", ".join(self._models)}')
    return self._models[label]

  # -------------------------------------------------------------- uploads

  def upload(self, data, filename):
    """Reads an uploaded MIDI (or MusicXML, ABC) file in the isolated
    reader; returns the page's view of it (`_view`) with its id.

    Raises:
      UsageError: not a music file, too large, or unreadable (the reader's
        reason, in words).
    """
    name = os.path.basename(filename or '') or 'upload.mid'
    if len(data) > self.max_upload_bytes:
      raise UsageError(f'{name} is {len(data) / 1e6:.1f} MB; the studio takes '
                       f'files up to {self.max_upload_bytes / 1e6:.1f} MB')
    if not data:
      raise UsageError(f'{name} is empty')
    if readers.music_format(name) is None:
      raise UsageError(f'{name} is not a MIDI file (.mid or .midi; MusicXML '
                       'and ABC are read too)')
    try:
      with self._reader_lock:
        sequences, _ = self._reader.read(data, name)
    except readers.ConversionError as e:
      raise UsageError(f'{name} could not be read: '
                       f'{e.reason.replace("_", " ")} ({e})') from e
    if not sequences or not sequences[0].notes:
      raise UsageError(f'{name} has no notes')
    sequence = sequences[0]
    return self._add('upload', os.path.splitext(name)[0], sequence)

  def notes_primer(self, notes, qpm=120.0):
    """A NoteSequence of the page's keyboard notes: [[pitch, start, end],
    ...] in seconds (velocity 80)."""
    if not isinstance(notes, list) or not notes:
      raise UsageError('play or type at least one note for the primer')
    sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
    sequence.tempos.add(time=0.0, qpm=qpm)
    for note in notes:
      try:
        pitch, start, end = int(note[0]), float(note[1]), float(note[2])
      except (TypeError, ValueError, IndexError) as e:
        raise UsageError(f'a primer note is [pitch, start, end], not '
                         f'{note!r}') from e
      if not 0 <= pitch <= 127 or start < 0 or end <= start or end > 600:
        raise UsageError(f'the primer note {pitch} from {start:g} s to {end:g} '
                         's is not a note (pitch 0..127, end after start)')
      sequence.notes.add(pitch=pitch, velocity=80, start_time=start,
                         end_time=end)
    sequence.total_time = max(n.end_time for n in sequence.notes)
    return sequence

  # ----------------------------------------------------------- generation

  def progress(self, ticket):
    """{'phase', 'seconds'} of a request in progress, by the page's ticket;
    None when none is."""
    with self._lock:
      entry = self._progress.get(ticket)
    if entry is None:
      return None
    phase, since = entry
    return {'phase': phase, 'seconds': round(time.monotonic() - since, 1)}

  def _phase(self, ticket, phase, since):
    if ticket:
      with self._lock:
        self._progress[ticket] = (phase, since)

  def generate(self, request):
    """Generates what the page asks (see the module docstring); returns
    {'outputs': [view...], 'seed', 'seconds', 'first_call'}.

    Request keys: model; action ('generate', 'continue', 'interpolate');
    primer ({'source': 'upload' | 'output', 'id'} or {'source': 'notes',
    'notes': [...]}, with 'keep_seconds'); inputs ([id, id], interpolate);
    length ({'unit', 'value'}); num_outputs; seed; options ({task option
    or control flag: value}); ticket (for `progress`).

    Raises:
      UsageError: anything the model does not take, in a sentence.
    """
    if not isinstance(request, dict):
      raise UsageError('the request is not a JSON object')
    ticket = str(request.get('ticket') or '')[:64]
    since = time.monotonic()
    try:
      return self._generate(request, ticket, since)
    finally:
      if ticket:
        with self._lock:
          self._progress.pop(ticket, None)

  def _generate(self, request, ticket, since):
    model = self._model(request.get('model'))
    taken = model.options()
    action = request.get('action', 'generate')
    options = self._options(model, taken, request.get('options') or {})
    num_outputs = _integer(request.get('num_outputs', 1), 'the number of '
                           'outputs', 1, MAX_OUTPUTS)
    seed = request.get('seed')
    seed = (secrets.randbelow(2**31) if seed in (None, '')
            else _integer(seed, 'the seed', 0, 2**31 - 1))
    primer_seconds = 0.0
    files = {}   # option -> the NoteSequence its MIDI file holds
    if action == 'continue':
      if 'primer_midi' not in taken:
        raise UsageError(f'{model.label} ({model.config.family}) does not '
                         'continue a primer: generate from nothing instead')
      primer = self._primer(_object(request.get('primer'), 'the primer'))
      primer_seconds = primer.total_time
      files['primer_midi'] = primer
    elif action == 'interpolate':
      if 'interpolate' not in model.task.modes:
        raise UsageError(f'{model.label} ({model.config.family}) has no latent '
                         'space to interpolate in; MusicVAE models do')
      inputs = request.get('inputs') or []
      if not isinstance(inputs, list) or len(inputs) != 2:
        raise UsageError('choose two MIDI files to interpolate between')
      options['mode'] = 'interpolate'
      for index, item_id in enumerate(inputs, 1):
        files[f'input_midi_{index}'] = self._item(item_id).sequence
      if num_outputs < 2:
        raise UsageError('an interpolation has at least 2 outputs: its two '
                         'ends')
    elif action != 'generate':
      raise UsageError(f'unknown action {action!r}: generate, continue or '
                       'interpolate')
    if action != 'interpolate':
      options.update(self._length(model, taken, request.get('length'),
                                  primer_seconds))
    if 'mode' in taken and 'mode' not in options:
      options['mode'] = 'sample'
    folder = os.path.join(self.work_dir, 'requests', secrets.token_hex(8))
    os.makedirs(folder)
    for option, sequence in files.items():
      options[option] = render.write_midi(
          sequence, os.path.join(folder, f'{option}.mid'))
    self._phase(ticket, 'waiting for another request on this model', since)
    with model.lock:
      first_call = not model.generated
      self._phase(ticket, 'loading the model', since)
      run = model.loaded()
      self._phase(ticket, 'generating' + (
          ' (the first call builds the sampling loop)' if first_call else ''),
                  since)
      paths = generate_lib.generate_loaded(
          run, os.path.join(folder, 'outputs'), num_outputs=num_outputs,
          seed=seed, **options)
      model.generated = True
    self._phase(ticket, 'reading the outputs', since)
    views = []
    for path in paths:
      # The task's file name (its config, the output's number; an
      # interpolation's joined file) and the seed: a download keeps both.
      stem = os.path.splitext(os.path.basename(path))[0]
      views.append(self._add('output', f'{stem}-seed{seed}',
                             note_seq.midi_file_to_note_sequence(path), path,
                             primer_seconds))
    return {'outputs': views, 'seed': seed, 'first_call': first_call,
            'seconds': round(time.monotonic() - since, 2)}

  def _options(self, model, taken, given):
    if not isinstance(given, dict):
      raise UsageError('options must be a JSON object')
    controls = {control.flag: control for _, control in model.controls}
    chosen = {}
    for name, value in given.items():
      if value is None or value == '':
        continue
      if name in controls and name in taken:
        chosen[name] = controls[name].parse_flag(str(value))
        continue
      field = FIELDS.get(name)
      if field is None or name not in taken:
        offered = ', '.join(sorted(set(FIELDS) & set(taken)) + sorted(
            set(controls) & set(taken)))
        raise UsageError(f'{model.label} ({model.config.family}) does not take '
                         f'{name}; it takes {offered}')
      chosen[name] = _field_value(name, field, value)
    if chosen.get('binarize') == '':
      del chosen['binarize']
    return chosen

  def _length(self, model, taken, length, primer_seconds):
    units = model.length_units()
    if not length:
      return {}
    unit = _object(length, 'the length').get('unit')
    if unit not in units:
      raise UsageError(f'{model.label} counts its length in '
                       f'{" or ".join(units)}, not {unit!r}')
    limit = MAX_LENGTH[unit]
    value = length.get('value')
    if unit == 'seconds':
      try:
        value = float(value)
      except (TypeError, ValueError) as e:
        raise UsageError(f'the length is a number of seconds, not {value!r}') from e
      if not math.isfinite(value) or not 0 < value <= limit:
        raise UsageError(f'the length must be between 0 and {limit:g} seconds, '
                         f'not {value:g}')
      # The task's duration counts the primer too.
      return {'duration_seconds': primer_seconds + value}
    return {dict(LENGTH_UNITS)[unit]: _integer(value, f'the length in {unit}',
                                               1, limit)}

  def _primer(self, primer):
    source = primer.get('source')
    if source == 'notes':
      sequence = self.notes_primer(primer.get('notes'))
    elif source in ('upload', 'output'):
      sequence = self._item(primer.get('id')).sequence
    else:
      raise UsageError('choose a primer: upload a MIDI file, play notes on '
                       'the keyboard, or continue an output')
    keep = primer.get('keep_seconds')
    if keep not in (None, ''):
      try:
        keep = float(keep)
      except (TypeError, ValueError) as e:
        raise UsageError(f'keep seconds of the primer is a number, not '
                         f'{keep!r}') from e
      if not math.isfinite(keep) or keep <= 0:
        raise UsageError('keep more than 0 seconds of the primer')
      if keep < sequence.total_time:
        sequence = outputs.trim(sequence, keep)
    if not sequence.notes:
      raise UsageError('the primer has no notes in the part kept')
    return sequence

  # ---------------------------------------------------------------- files

  def _add(self, kind, name, sequence, midi_path=None, primer_seconds=0.0):
    item_id = secrets.token_hex(8)
    item = _Item(item_id, kind, name, sequence, midi_path, primer_seconds)
    with self._lock:
      self._items[item_id] = item
    return item.view()

  def _item(self, item_id):
    with self._lock:
      item = self._items.get(str(item_id))
    if item is None:
      raise UsageError('that file is no longer here (the studio was '
                       'restarted?); upload it again')
    return item

  def file_path(self, item_id, extension):
    """The path of an output's (or upload's) .mid or .wav, written on first
    request; None for an id this studio did not give out."""
    with self._lock:
      item = self._items.get(item_id)
    if item is None or extension not in ('mid', 'wav'):
      return None, None
    with item.lock:
      folder = os.path.join(self.work_dir, 'files', item.id)
      os.makedirs(folder, exist_ok=True)
      if extension == 'mid':
        if item.midi_path is None:
          item.midi_path = render.write_midi(
              item.sequence, os.path.join(folder, 'music.mid'))
        return item.midi_path, f'{item.name}.mid'
      if item.wav_path is None:
        item.wav_path = render.write_wav(item.sequence,
                                         os.path.join(folder, 'music.wav'))
      return item.wav_path, f'{item.name}.wav'


class _Item:
  """An upload or an output: its NoteSequence and files."""

  def __init__(self, item_id, kind, name, sequence, midi_path, primer_seconds):
    self.id = item_id
    self.kind = kind
    self.name = name
    self.sequence = sequence
    self.midi_path = midi_path
    self.wav_path = None
    self.primer_seconds = primer_seconds
    self.lock = threading.Lock()

  def view(self):
    """What the page draws: notes [pitch, start, end, velocity, drum],
    seconds, the primer's seconds, tempo and meter, and its file urls."""
    sequence = self.sequence
    qpm = sequence.tempos[0].qpm if sequence.tempos else 120.0
    meter = ([sequence.time_signatures[0].numerator,
              sequence.time_signatures[0].denominator]
             if sequence.time_signatures else [4, 4])
    return {
        'id': self.id, 'kind': self.kind, 'name': self.name,
        'seconds': round(sequence.total_time, 4),
        'primer_seconds': round(self.primer_seconds, 4),
        'qpm': qpm, 'time_signature': meter,
        'notes': [[n.pitch, round(n.start_time, 4), round(n.end_time, 4),
                   n.velocity, int(n.is_drum)] for n in sequence.notes],
        'midi_url': f'/files/{self.id}.mid', 'wav_url': f'/files/{self.id}.wav'}


class _Model:
  """A run the studio serves: its config at once, its weights when it
  first generates."""

  def __init__(self, label, run_dir):
    self.label = label
    self.run_dir = run_dir
    self.config, encoding = run_dir_lib.load(run_dir)
    self.task = tasks.for_config(self.config)
    self.codec = codec_lib.codec_from_spec(encoding)
    self.controls = encodings.controls_from_config(self.config)
    self.lock = threading.Lock()
    self.generated = False
    self._run = None

  def loaded(self):
    if self._run is None:
      self._run = run_dir_lib.load_run(self.run_dir)
    return self._run

  def options(self):
    """The task's options for this run; a tempo only where the output has
    one (`Codec.tempo_settings`: the page's primers are MIDI, whose tempo
    is their own)."""
    taken = self.task.options_for(self.codec, self.controls)
    if self.codec.tempo_settings() is None:
      taken.pop('qpm', None)
    return taken

  def length_units(self):
    taken = self.options()
    return [unit for unit, option in LENGTH_UNITS if option in taken]

  def describe(self):
    taken = self.options()
    fields = [dict(name=name, **dataclasses.asdict(field),
                   default=taken[name])
              for name, field in FIELDS.items() if name in taken]
    for _, control in self.controls:
      if control.flag in taken:
        fields.append(dict(
            name=control.flag,
            label=control.title.replace('-', ' ').capitalize(),
            kind='float' if control.value_shape == () else 'text',
            help=control.flag_help, minimum=None, maximum=None, step=None,
            choices=(), default=None))
    actions = ['generate']
    if 'primer_midi' in taken:
      actions.insert(0, 'continue')
    if 'interpolate' in self.task.modes:
      actions.append('interpolate')
    seconds = self.codec.seconds_per_step()
    return {'id': self.label, 'label': self.label,
            'config': self.config.name, 'family': self.config.family,
            'task': self.task.name, 'actions': actions,
            'length_units': self.length_units(),
            'steps_per_bar': self.codec.steps_per_bar(),
            'seconds_per_step': seconds, 'fields': fields}


def _object(value, what):
  if not isinstance(value, dict):
    raise UsageError(f'{what} is not a JSON object')
  return value


def _integer(value, what, low, high):
  try:
    number = float(value)
  except (TypeError, ValueError) as e:
    raise UsageError(f'{what} is a whole number, not {value!r}') from e
  if not math.isfinite(number) or number != int(number) or not (
      low <= number <= high):
    raise UsageError(f'{what} must be a whole number from {low} to {high}, '
                     f'not {value}')
  return int(number)


def _field_value(name, field, value):
  if field.kind == 'text':
    return str(value)
  if field.kind == 'bool':
    if not isinstance(value, bool):
      raise UsageError(f'{field.label} is on or off (true or false), not '
                       f'{value!r}')
    return value
  if field.kind == 'choice':
    if value not in field.choices:
      raise UsageError(f'{field.label} is one of '
                       f'{", ".join(c for c in field.choices if c)}, not {value!r}')
    return value
  if field.kind == 'int':
    return _integer(value, field.label, field.minimum, field.maximum)
  try:
    number = float(value)
  except (TypeError, ValueError) as e:
    raise UsageError(f'{field.label} is a number, not {value!r}') from e
  if not math.isfinite(number) or not (
      field.minimum <= number <= field.maximum):
    raise UsageError(f'{field.label} must be between {field.minimum:g} and '
                     f'{field.maximum:g}, not {number:g}')
  return number
