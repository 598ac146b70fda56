"""Save and load: safetensors files (weights) and training checkpoints; atomic writes."""

from zengrad.io.atomic import atomic_write_bytes, atomic_write_text
from zengrad.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from zengrad.io.safetensors_io import (
    SafetensorsFormatError,
    load,
    load_into,
    load_metadata,
    parse_header,
    save,
)
