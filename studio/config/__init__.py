"""Qt-free configuration: paths and typed settings."""
