"""Qt-free, torch-free image library: files, metadata in the file, SQLite index, thumbnails."""
