"""Click commands that `socwb.cli` registers on the `socwb` group, one module per command."""
