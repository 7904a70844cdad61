"""The model catalogue: what models exist on this machine, their families, files and consent."""
