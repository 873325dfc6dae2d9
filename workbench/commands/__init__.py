"""One module per CLI command group. Each keeps heavy imports inside its commands."""
