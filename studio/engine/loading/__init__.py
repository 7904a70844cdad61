"""Turning a catalogue entry into a pipeline on a device: folders, single files, memory plans."""
