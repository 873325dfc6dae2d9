"""Run-config presets (TOML), shipped as package data; see engine/train/presets.py."""
