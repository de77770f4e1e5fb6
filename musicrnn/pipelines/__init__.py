"""Beam pipelines: music files -> NoteSequences -> SequenceExamples.

  convert     files -> NoteSequence TFRecords: content-hash ids, duplicates,
              a dead-letter file
  readers     MIDI / MusicXML / ABC bytes -> NoteSequence (no Beam)
  isolation   the readers in a child process, under time and memory limits
              (the child: `isolation_child`)
  dataset     NoteSequences -> train/eval SequenceExamples (`MakeExamples`,
              shared with the TFDS builder)
  shuffle     a global shuffle of records into seeded shards
  beam_utils  pipeline options, staged outputs, counters (`Tally`)
  progress    one progress line summed across Beam's worker processes
  tfds_builders  TFDS builders that publish a folder of MIDI as a dataset
              (`tfds build musicrnn --imports=musicrnn.pipelines.tfds_builders`)
"""
