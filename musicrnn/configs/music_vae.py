"""MusicVAE configs: Magenta's music_vae models (`models/music_vae.py`, the
'variational' task) under Magenta's config names, with its hparams.

  musicrnn_create_dataset --config=cat-mel_2bar_small \\
    --input=path/to/notesequences.tfrecord --output_dir=/tmp/mel_2bar
  musicrnn_train --config=cat-mel_2bar_small --train_data=/tmp/mel_2bar \\
    --run_dir=/tmp/mel_2bar_run
  musicrnn_generate --run_dir=/tmp/mel_2bar_run --output_dir=/tmp/mel \\
    --num_outputs=8 --temperature=0.5

Magenta's settings (music_vae/configs.py, lstm_models.py, base_model.py):

  config                decoder   z    encoder  decoder  free  max   beta
                                       per dir           bits  beta  rate
  cat-mel_2bar_small    flat      256  512      256x2    0     0.2   0.99999
  cat-mel_2bar_big      flat      512  2048     2048x3   0     0.5   0.99999
  hierdec-mel_16bar     16 bars   512  2048x2   1024x2   256   0.2   0
  cat-drums_2bar_small  flat      256  512      256x2    48    0.2   0
  hierdec-trio_16bar    16 bars   512  2048x2   1024x2   256   0.2   0
                        (a decoder per part: melody, bass, drums)

the 2-bar models with scheduled sampling (inverse sigmoid, rate 1000), the
16-bar ones teacher forced; each with Adam at 1e-3 decaying by 0.9999 a
step to 1e-5, gradients clipped to global norm 1 (zeroed at a norm of 10000
or more), no dropout (keep probability 1), batch 512 (the trio 256).
Melodies are Magenta's OneHotMelodyConverter's (`melody` encoding, one-hot
ids of MIDI 21-108 with NO_EVENT and NOTE_OFF: 90 ids; the highest of notes
starting together; 4 steps a quarter note), the 2-bar models' transposed
by -5..+5 semitones for training (Magenta draws one transposition a read;
here every one is written); drums Magenta's DrumsConverter's (`drums`
encoding, one-hot ids of its nine drum classes, 512; the encoder reads
their bits and a "none" bit, roll_input=True). Trios are Magenta's
TrioConverter's (`trio` encoding: a melody, a bass and a drums id a step,
90, 90 and 512, packed in one token; the encoder reads the three one-hots
side by side, and each part has a decoder of its own, Magenta's
SplitMultiOutLstmDecoder): 16-bar windows where an instrument of programs
0-31, one of 32-39 and a drum instrument all play (gaps of up to 2 bars
filled), sliding a bar at a time over sequences cut to 1024 bars, not
transposed.

The data are what Magenta's converters make (`data.extraction`, read by
the melody, drums and trio codecs): every track of each 4/4 part of a
sequence, ended by a bar of silence and cut to 100 bars (a trio: every
trio of instruments, over the whole part), and the windows of
`max_seq_len` steps (2 or 16 bars) sliding over it a bar at a time, each
distinct window of a sequence once. Every track, window and sequence left
out is counted by its reason in the dataset's stats.json (wrong_meter,
tracks_dropped_track_shorter_than_window, tracks_dropped_no_melody,
tracks_dropped_no_bass_instrument, tracks_dropped_trio_not_covered,
windows_duplicate, ...). Magenta draws at most 5 windows of a sequence a
read (max_tensors_per_notesequence); here each is written once.

The tiny variants: z of 8, 16-unit LSTMs, batch 4; `hierdec-mel_16bar_tiny`
and `hierdec-trio_16bar_tiny` decode 2 bars of 16 steps (windows of 2 bars).
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register

# Magenta's OneHotMelodyConverter: MIDI 21..108 (PIANO_MIN/MAX_MIDI_PITCH),
# every pitch in its own key.
MELODY_ENCODING = dict(encoder='one_hot', min_note=21, max_note=109,
                       transpose_to_key=None)
# Magenta's converters (music_vae/data.py): every track of a 4/4 sequence
# (split where the tempo or meter changes) with a bar or more, ended by a
# bar of silence, padded to its last bar's end, cut to 100 bars (max_bars),
# then the windows of the model's bars sliding over it a bar at a time,
# each distinct window once. A melody takes the highest of notes starting
# together (skip_polyphony=False) among the notes of MIDI 21..108; the 2-bar
# melody models read programs 0-31 only (MEL_PROGRAMS: piano, chromatic
# percussion, organ, guitar). Drums read the drum pitches of the nine types.
MEL_PROGRAMS = tuple(range(32))
MAX_BARS = 100
CONVERTER = dict(min_bars=1, pad_end=True, drop_unencodable_notes=True,
                 quarters_per_bar=4, dedupe=True)
MELODY_EXTRACTION = dict(CONVERTER, gap_bars=1.0, min_unique_pitches=1,
                         ignore_polyphonic_notes=True)
DRUMS_EXTRACTION = dict(CONVERTER, gap_bars=1.0)
# Magenta's TrioConverter (trio_16bar_converter): each instrument read
# whole, as the melody and drums converters inside it read one (the trio
# codec refuses other settings), its bars covered within 2 bars of a note
# (gap_bars); sequences cut to 1024 bars (max_bars). Magenta keeps
# repeated windows; here each distinct window of a sequence is written
# once, as for the other configs.
TRIO_EXTRACTION = dict(CONVERTER, gap_bars=2.0, min_unique_pitches=1,
                       ignore_polyphonic_notes=True)
TRIO_MAX_BARS = 1024
STEPS_PER_BAR = 16


def music_vae_model(**overrides):
  """The model section: Magenta's lstm_models defaults (z 32 in
  base_model; each config sets its own)."""
  config = ml_collections.ConfigDict({
      'z_size': 256,
      'enc_rnn_size': (512,),
      'dec_rnn_size': (256, 256),
      'decoder': 'flat',
      'level_lengths': (),
      'max_seq_len': 32,
      'dropout_rate': 0.0,
      'encoder_input': 'one_hot',
  })
  config.update(overrides)
  return config


def music_vae_train(**overrides):
  """The train section: Magenta's base_model and lstm_models defaults."""
  return base.train_config(**{
      'batch_size': 512,
      'learning_rate': 1e-3,
      'decay': 'exponential',
      'decay_rate': 0.9999,
      'min_learning_rate': 1e-5,
      'clip_norm': 1.0,                  # grad_clip, clip_mode global_norm
      'grad_norm_clip_to_zero': 10000.0,
      'free_bits': 0.0,
      'max_beta': 1.0,
      'beta_rate': 0.0,
      'sampling_schedule': 'constant',
      'sampling_rate': 0.0,
      **overrides})


def _data(bars, extraction, transpositions=(0,), max_bars=MAX_BARS):
  """Windows of `bars` bars over every track of at most `max_bars` bars."""
  data = base.extraction_data(max_steps=max_bars * STEPS_PER_BAR,
                              window_bars=bars, **extraction)
  data.transpositions = tuple(transpositions)
  return data


def _config(encoding, data, model, train):
  return base.make_config(family='music_vae', encoding=encoding,
                          model=music_vae_model(**model), data=data,
                          train=music_vae_train(**train))


def _tiny(config):
  """z of 8, 16-unit LSTMs, batch 4, transposed by 0 and 1 at most; a
  hierarchical decoder of 2 bars."""
  layers = len(config.model.enc_rnn_size)
  config.model.update(z_size=8, enc_rnn_size=(16,) * layers,
                      dec_rnn_size=(16, 16))
  if config.model.decoder == 'hierarchical':
    config.model.update(level_lengths=(2, STEPS_PER_BAR),
                        max_seq_len=2 * STEPS_PER_BAR)
    config.data.extraction.window_bars = 2
  config.data.transpositions = ((0, 1) if len(config.data.transpositions) > 1
                                else (0,))
  config.train.batch_size = 4


def _mel_2bar(z_size, enc_rnn_size, dec_rnn_size, max_beta):
  """A cat-mel_2bar config: flat decoder, KL annealed (beta_rate 0.99999),
  scheduled sampling (inverse sigmoid, 1000), transposed -5..+5."""
  return _config(base.encoding('melody', **MELODY_ENCODING),
                 _data(2, dict(MELODY_EXTRACTION, programs=MEL_PROGRAMS),
                       range(-5, 6)),
                 model=dict(z_size=z_size, enc_rnn_size=enc_rnn_size,
                            dec_rnn_size=dec_rnn_size),
                 train=dict(free_bits=0.0, max_beta=max_beta,
                            beta_rate=0.99999,
                            sampling_schedule='inverse_sigmoid',
                            sampling_rate=1000.0))


@register('cat-mel_2bar_small', tiny=_tiny)
def cat_mel_2bar_small():
  return _mel_2bar(256, (512,), (256, 256), max_beta=0.2)


@register('cat-mel_2bar_big', tiny=_tiny)
def cat_mel_2bar_big():
  return _mel_2bar(512, (2048,), (2048, 2048, 2048), max_beta=0.5)


@register('hierdec-mel_16bar', tiny=_tiny)
def hierdec_mel_16bar():
  return _config(base.encoding('melody', **MELODY_ENCODING),
                 _data(16, MELODY_EXTRACTION),
                 model=dict(z_size=512, enc_rnn_size=(2048, 2048),
                            dec_rnn_size=(1024, 1024), decoder='hierarchical',
                            level_lengths=(16, STEPS_PER_BAR),
                            max_seq_len=16 * STEPS_PER_BAR),
                 train=dict(free_bits=256.0, max_beta=0.2))


@register('cat-drums_2bar_small', tiny=_tiny)
def cat_drums_2bar_small():
  return _config(base.encoding('drums', encoder='one_hot'),
                 _data(2, DRUMS_EXTRACTION),
                 model=dict(z_size=256, enc_rnn_size=(512,),
                            dec_rnn_size=(256, 256),
                            encoder_input='drum_roll'),
                 train=dict(free_bits=48.0, max_beta=0.2,
                            sampling_schedule='inverse_sigmoid',
                            sampling_rate=1000.0))


@register('hierdec-trio_16bar', tiny=_tiny)
def hierdec_trio_16bar():
  return _config(base.encoding('trio'),
                 _data(16, TRIO_EXTRACTION, max_bars=TRIO_MAX_BARS),
                 model=dict(z_size=512, enc_rnn_size=(2048, 2048),
                            dec_rnn_size=(1024, 1024), decoder='hierarchical',
                            level_lengths=(16, STEPS_PER_BAR),
                            max_seq_len=16 * STEPS_PER_BAR),
                 train=dict(batch_size=256, free_bits=256.0, max_beta=0.2))
