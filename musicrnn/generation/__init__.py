"""Generation: samplers, primers, control schedules, and MIDI/PNG/WAV output."""
