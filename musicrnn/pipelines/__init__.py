"""Beam pipelines: music files -> NoteSequences (`convert`), and the helpers
every pipeline shares (`beam_utils`); `readers` parses music files without
Beam."""
