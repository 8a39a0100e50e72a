"""Bundled samples: the demo tenant for the emulator, example baselines and a sample snapshot."""

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
