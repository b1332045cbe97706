"""One module per vendor family, each defining the normalizers for its formats."""
